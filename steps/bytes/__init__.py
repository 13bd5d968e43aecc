"""Byte steps: work chunk by chunk, so memory does not grow with the object's size.

``builtin`` holds ``passthrough``, ``gzip`` and ``gunzip``; :data:`BYTE_STEPS` lists every
byte step a workflow can name.
"""

from steps.bytes.builtin import BYTE_STEPS, GUNZIP, GZIP, PASSTHROUGH, GzipParams

__all__ = ["BYTE_STEPS", "GUNZIP", "GZIP", "PASSTHROUGH", "GzipParams"]
