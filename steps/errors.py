"""Errors raised by steps.

Every error carries a stable ``code`` that lands in the execution record, and a message a user
can act on::

    StepError                       code
    ├── StepConfigError             InvalidStepConfig   (workflow load: bad params, missing logo)
    │   └── KeyUnavailable          KeyUnavailable      (key_env / key_file missing or not a key)
    ├── StepNotFound                UnknownStep         (unknown name or import path)
    ├── EncodeFailed                EncodeFailed        (a picture cannot be written as chosen)
    ├── StripOrderError             StripOrderError     (a strip-aware step broke the strip order)
    └── InputError                  (bad input: fails the execution, never retried)
        ├── EmptyInput              EmptyInput
        ├── InvalidImage            InvalidImage
        ├── TruncatedImage          TruncatedImage
        ├── UnsupportedFormat       UnsupportedFormat
        ├── ImageTooLarge           ImageTooLarge
        ├── TooManyFrames           TooManyFrames       (an animation over max_frames)
        ├── InvalidCompressedData   InvalidCompressedData
        ├── InvalidEncryptedData    InvalidEncryptedData (not the encrypt step's format)
        ├── WrongKey                WrongKey            (another key encrypted the object)
        ├── DecryptionFailed        DecryptionFailed    (tampered, truncated, reordered, extended)
        ├── LineTooLong             LineTooLong         (a line over the lines step's limit)
        ├── InvalidLogLine          InvalidLogLine      (JSON-lines mode, on_invalid: fail)
        └── PatternTimeout          PatternTimeout      (a pattern took too long on one line)
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


class TooManyFrames(InputError):
    """An animation with more frames than the configured limit (a frame bomb)."""

    code = "TooManyFrames"


class InvalidCompressedData(InputError):
    """Data given to a decompressing step that is not a valid stream."""

    code = "InvalidCompressedData"


class KeyUnavailable(StepConfigError):
    """The key an encryption step names cannot be read, or is not a 32-byte key."""

    code = "KeyUnavailable"


class InvalidEncryptedData(InputError):
    """Input of ``decrypt`` that is not (or no longer) in the encrypted object format."""

    code = "InvalidEncryptedData"


class WrongKey(InputError):
    """The object was encrypted with another key than the step's."""

    code = "WrongKey"


class DecryptionFailed(InputError):
    """A chunk of an encrypted object failed authentication, or the object is cut short."""

    code = "DecryptionFailed"


class LineTooLong(InputError):
    """A line longer than the ``lines`` step's ``max_line_bytes``."""

    code = "LineTooLong"


class InvalidLogLine(InputError):
    """In JSON-lines mode with ``on_invalid: fail``, a line that is not a JSON object."""

    code = "InvalidLogLine"


class PatternTimeout(InputError):
    """A ``match``/``exclude`` pattern ran longer than its time limit on one line."""

    code = "PatternTimeout"
