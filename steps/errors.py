"""Errors raised by steps.

Every error carries a stable ``code`` that lands in the execution record, and a message a user
can act on::

    StepError                       code
    ├── StepConfigError             InvalidStepConfig   (workflow load: bad params, missing logo)
    ├── StepNotFound                UnknownStep         (unknown name or import path)
    ├── EncodeFailed                EncodeFailed        (a picture cannot be written as chosen)
    ├── StripOrderError             StripOrderError     (a strip-aware step broke the strip order)
    └── InputError                  (bad input: fails the execution, never retried)
        ├── EmptyInput              EmptyInput
        ├── InvalidImage            InvalidImage
        ├── TruncatedImage          TruncatedImage
        ├── UnsupportedFormat       UnsupportedFormat
        ├── ImageTooLarge           ImageTooLarge
        └── InvalidCompressedData   InvalidCompressedData
"""

from __future__ import annotations


class StepError(Exception):
    """Base class of every error raised by a step."""

    code = "StepFailed"
    #: Whether running the execution again may succeed (bad input never does).
    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StepConfigError(StepError):
    """A step's parameters or resources are invalid: the workflow cannot be loaded."""

    code = "InvalidStepConfig"


class StepNotFound(StepConfigError):
    """A step name or ``module:function`` path that resolves to nothing."""

    code = "UnknownStep"


class EncodeFailed(StepError):
    """A picture cannot be written in the chosen format (e.g. too wide for JPEG)."""

    code = "EncodeFailed"


class StripOrderError(StepError):
    """Picture strips that do not continue their picture (a strip-aware step's bug)."""

    code = "StripOrderError"


class InputError(StepError):
    """The object being processed is not acceptable input for the step."""

    code = "InvalidInput"


class EmptyInput(InputError):
    """A zero-byte object where content is required."""

    code = "EmptyInput"


class InvalidImage(InputError):
    """Bytes that are not an image of an allowed format, or a corrupt one."""

    code = "InvalidImage"


class TruncatedImage(InvalidImage):
    """An image whose data ends before the image does."""

    code = "TruncatedImage"


class UnsupportedFormat(InvalidImage):
    """An image format that is not enabled for decoding."""

    code = "UnsupportedFormat"


class ImageTooLarge(InputError):
    """An image whose declared pixel count exceeds the configured limit."""

    code = "ImageTooLarge"


class InvalidCompressedData(InputError):
    """Data given to a decompressing step that is not a valid stream."""

    code = "InvalidCompressedData"
