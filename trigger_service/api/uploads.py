"""Raw sync uploads admitted apart from the queue: a slot budget of their own, paced bodies.

A raw-bytes ``POST /workflows/{name}/sync-executions`` takes one of the service's upload
slots (``AdmissionLimits.upload_slots``, default the executor's concurrency; ``429`` with
``Retry-After`` when all are taken) before its body is read, and holds it while the body
streams into the trigger bucket at the pace :mod:`~trigger_service.api.bodies` enforces
(``408`` when it stalls, the multipart upload aborted). Its queue slot is taken only once
the whole body is in, just before the upload is committed: a slow upload therefore never
holds a slot that webhooks and SQS pollers need, and a full queue at that point aborts the
upload (``429``, nothing stored). The queue is also probed before the body is read, so an
upload that could not be queued is refused at once.
"""

from __future__ import annotations

from starlette.requests import Request

from trigger_service.api.bodies import limited_stream
from trigger_service.api.sync import direct_upload_key, upload_stream
from trigger_service.errors import Overloaded
from trigger_service.execution.admission import Reservation, Slots
from trigger_service.records import ObjectRef
from trigger_service.service import Service


def upload_slots(request: Request, service: Service) -> Slots:
    """The app's raw-upload slots, made on first use from the service's limits."""
    slots = getattr(request.app.state, "upload_slots", None)
    owner = getattr(request.app.state, "upload_slots_of", None)
    if not isinstance(slots, Slots) or owner is not service:
        size = service.config.admission.upload_slots or service.executor.concurrency
        retry_after = service.config.retry_after_seconds

        def refuse(size: int) -> Exception:
            return Overloaded(
                f"{size} raw uploads are being received, the most this service takes at "
                f"once; try again in {retry_after} s",
                retry_after=retry_after,
            )

        slots = request.app.state.upload_slots = Slots(size, refuse)
        request.app.state.upload_slots_of = service
    return slots


async def receive_upload(
    request: Request,
    service: Service,
    bucket: str,
    prefix: str,
    execution_id: str,
    media_type: str,
) -> tuple[ObjectRef, Reservation]:
    """Stream the raw body under ``prefix`` in ``bucket``; returns the input and its queue slot.

    Raises ``Overloaded`` (no upload slot, or a full queue), ``RequestTimeout`` (a body too
    slow), ``RequestTooLarge``; on every error the upload is aborted and no slot is held.
    """
    executor = service.executor
    with upload_slots(request, service).take():
        executor.reserve().release()  # a full queue refuses the upload before its body
        taken: list[Reservation] = []

        def admit() -> None:
            taken.append(executor.reserve())

        transfer = service.config.transfer
        try:
            source = await upload_stream(
                service.io,
                bucket,
                prefix + direct_upload_key(execution_id, media_type),
                limited_stream(
                    request, service.config.max_upload_bytes, pace=service.config.admission
                ),
                execution_id=execution_id,
                content_type=media_type or None,
                part_size=transfer.part_size,
                parts_in_flight=transfer.parts_in_flight,
                before_commit=admit,
            )
        except BaseException:
            for reservation in taken:
                reservation.release()
            raise
    return source, taken[0]
