"""Output key templates: ``processed/{stem}.{ext}`` rendered safely for one input key.

Variables: ``{key}`` the whole input key, ``{dir}`` its folder (no trailing slash), ``{name}``
its last segment, ``{stem}`` the name without its extension, ``{ext}`` the output format's
extension when a step fixes one (else the input's), ``{execution_id}``, and ``{output}`` the
branch name of a fan-out workflow (``outputs``). A rendered key may not
escape the template's literal prefix: ``..`` segments, absolute keys, empty segments from a
leading slash and control characters are rejected with :class:`UnsafeOutputKey`.
"""

from __future__ import annotations

import posixpath
import string
import unicodedata
from dataclasses import dataclass

from storage_adapter import MAX_KEY_BYTES
from trigger_service.errors import UnsafeOutputKey, WorkflowConfigError

TEMPLATE_VARIABLES = frozenset({"key", "dir", "name", "stem", "ext", "execution_id", "output"})

#: File extension written for each output format a step can fix.
FORMAT_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}


@dataclass(frozen=True)
class KeyTemplate:
    """A validated output key template."""

    template: str

    def __post_init__(self) -> None:
        fields = []
        try:
            for _literal, field, spec, conversion in string.Formatter().parse(self.template):
                if field is None:
                    continue
                if spec or conversion:
                    raise WorkflowConfigError(
                        f"output.key: '{{{field}}}' may not have a format spec or conversion"
                    )
                fields.append(field)
        except ValueError as exc:
            raise WorkflowConfigError(f"output.key: {exc} in {self.template!r}") from None
        unknown = sorted(set(fields) - TEMPLATE_VARIABLES)
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in sorted(TEMPLATE_VARIABLES))
            raise WorkflowConfigError(
                f"output.key: unknown variable(s) {', '.join(unknown)}; use {known}"
            )
        if self.template.startswith("/"):
            raise WorkflowConfigError("output.key: must not start with '/'")

    @property
    def literal_prefix(self) -> str:
        """The fixed text before the first variable; every rendered key starts with it."""
        head, _, _ = self.template.partition("{")
        return head

    @property
    def variables(self) -> frozenset[str]:
        """The variables the template uses."""
        return frozenset(
            field for _, field, _, _ in string.Formatter().parse(self.template) if field
        )

    def render(
        self,
        input_key: str,
        *,
        execution_id: str,
        output_format: str | None,
        output_name: str = "",
    ) -> str:
        """The output key for ``input_key``; raises :class:`UnsafeOutputKey`."""
        folder, _, name = input_key.rpartition("/")
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        if output_format:
            extension = FORMAT_EXTENSIONS.get(output_format, output_format)
        values = {
            "key": input_key,
            "dir": folder,
            "name": name,
            "stem": stem,
            "ext": extension,
            "execution_id": execution_id,
            "output": output_name,
        }
        rendered = self.template.format_map(values)
        if rendered.endswith(".") and not extension:
            rendered = rendered[:-1]
        check_output_key(rendered, prefix=self.literal_prefix)
        return rendered


def check_output_key(key: str, *, prefix: str = "") -> None:
    """Reject keys that are empty, too long, absolute, traverse, or hold control characters."""
    if not key:
        raise UnsafeOutputKey("output key is empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise UnsafeOutputKey(f"output key is longer than {MAX_KEY_BYTES} bytes")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs"} for char in key):
        raise UnsafeOutputKey(f"output key {key!r} contains control characters")
    if key.startswith("/"):
        raise UnsafeOutputKey(f"output key {key!r} is absolute")
    segments = key.split("/")
    if any(segment in {".", ".."} for segment in segments):
        raise UnsafeOutputKey(f"output key {key!r} contains '.' or '..' segments")
    normalised = posixpath.normpath(key)
    if not normalised.startswith(prefix.rstrip("/")) or not key.startswith(prefix):
        raise UnsafeOutputKey(f"output key {key!r} escapes its prefix {prefix!r}")
