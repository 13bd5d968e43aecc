"""Loads resources named in workflow files (watermark logos): ``s3://`` URLs or local paths."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from steps import StepConfigError
from storage_adapter import StorageIO, map_client_error


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; raises ValueError when it is not one."""
    parts = urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if parts.scheme != "s3" or not bucket or not key:
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return bucket, key


class StorageResourceLoader:
    """Reads ``s3://bucket/key`` through the storage gateway, other names from disk."""

    def __init__(self, io: StorageIO | None, *, base_dir: Path | None = None) -> None:
        self.io = io
        self.base_dir = base_dir or Path.cwd()

    async def read(self, url: str, *, max_bytes: int) -> bytes:
        """The resource's bytes; :class:`StepConfigError` when missing or too large."""
        if url.startswith("s3://"):
            return await self._read_object(url, max_bytes)
        path = Path(url) if Path(url).is_absolute() else self.base_dir / url
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise StepConfigError(f"{url}: {size} bytes is over the {max_bytes}-byte limit")
            return path.read_bytes()
        except OSError as exc:
            raise StepConfigError(f"cannot read {url}: {exc.strerror}") from None

    async def _read_object(self, url: str, max_bytes: int) -> bytes:
        if self.io is None:
            raise StepConfigError(f"{url}: no storage endpoint is configured to read it from")
        try:
            bucket, key = parse_s3_url(url)
        except ValueError as exc:
            raise StepConfigError(str(exc)) from None
        client = self.io.client

        def fetch() -> bytes:
            try:
                response = client.get_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                error = map_client_error(exc, bucket=bucket, key=key, action="GET")
                raise StepConfigError(f"cannot read {url}: {error.message}") from None
            body = response["Body"]
            try:
                if int(response.get("ContentLength", 0)) > max_bytes:
                    raise StepConfigError(f"{url} is over the {max_bytes}-byte limit")
                data: bytes = body.read(max_bytes + 1)
            finally:
                body.close()
            if len(data) > max_bytes:
                raise StepConfigError(f"{url} is over the {max_bytes}-byte limit")
            return data

        return await self.io.call(fetch)
