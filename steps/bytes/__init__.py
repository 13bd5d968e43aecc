"""Byte steps: work chunk by chunk, so memory does not grow with the object's size.

``builtin`` holds ``passthrough``, ``gzip`` and ``gunzip``; ``zstd`` holds ``zstd`` and
``unzstd``; ``crypto`` holds ``encrypt`` and ``decrypt`` (format in ``sealed``, keys in
``keys``); ``lines`` filters logs line by line; ``blocks`` cuts streams into fixed blocks.
:data:`BYTE_STEPS` lists every byte step a workflow can name.
"""

from steps.api import StepDefinition
from steps.bytes.builtin import GUNZIP, GZIP, PASSTHROUGH, GzipParams
from steps.bytes.crypto import DECRYPT, ENCRYPT
from steps.bytes.lines import LINES
from steps.bytes.zstd import UNZSTD, ZSTD

BYTE_STEPS: tuple[StepDefinition, ...] = (
    PASSTHROUGH,
    GZIP,
    GUNZIP,
    ZSTD,
    UNZSTD,
    ENCRYPT,
    DECRYPT,
    LINES,
)

__all__ = [
    "BYTE_STEPS",
    "DECRYPT",
    "ENCRYPT",
    "GUNZIP",
    "GZIP",
    "LINES",
    "PASSTHROUGH",
    "UNZSTD",
    "ZSTD",
    "GzipParams",
]
