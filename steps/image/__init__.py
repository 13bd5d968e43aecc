"""Image steps: decode once, encode once, streaming at both ends.

``DECODE`` and ``ENCODE`` are inserted by the planner where bytes meet pictures; ``IMAGE_STEPS``
(compress, watermark, rotate) exchange :class:`Picture` frames. Every Pillow call lives in a pure
function (``decode_stream``, ``compress_picture``, ``watermark_picture``, ``rotate_picture``,
``encode_picture``) that runs in a worker thread; the step functions only move frames.
"""

from steps.image.compress import COMPRESS, CompressParams, compress_picture, fit_within
from steps.image.decode import (
    DECODE,
    DEFAULT_MAX_PIXELS,
    DEFAULT_OVERSAMPLE,
    DecodeParams,
    DecodeProgress,
    decode_bytes,
    decode_overlap,
    decode_stream,
    draft_request,
)
from steps.image.encode import ENCODE, EncodeResult, encode_bytes, encode_picture
from steps.image.formats import DECODABLE_FORMATS, DEFAULT_DECODE_FORMATS, OUTPUT_FORMATS
from steps.image.marks import ImageMark, TextMark, WatermarkParams
from steps.image.picture import EncodeOptions, Picture, StripPolicy
from steps.image.rotate import ROTATE, RotateParams, rotate_picture
from steps.image.streams import CHUNK_SIZE, ChunkReader, ChunkWriter
from steps.image.watermark import (
    WATERMARK,
    WatermarkResources,
    prepare_watermark,
    watermark_picture,
)

#: The picture steps a workflow can name.
IMAGE_STEPS = (COMPRESS, WATERMARK, ROTATE)

__all__ = [
    "CHUNK_SIZE",
    "COMPRESS",
    "DECODABLE_FORMATS",
    "DECODE",
    "DEFAULT_DECODE_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_OVERSAMPLE",
    "ENCODE",
    "IMAGE_STEPS",
    "OUTPUT_FORMATS",
    "ROTATE",
    "WATERMARK",
    "ChunkReader",
    "ChunkWriter",
    "CompressParams",
    "DecodeParams",
    "DecodeProgress",
    "EncodeOptions",
    "EncodeResult",
    "ImageMark",
    "Picture",
    "RotateParams",
    "StripPolicy",
    "TextMark",
    "WatermarkParams",
    "WatermarkResources",
    "compress_picture",
    "decode_bytes",
    "decode_overlap",
    "decode_stream",
    "draft_request",
    "encode_bytes",
    "encode_picture",
    "fit_within",
    "prepare_watermark",
    "rotate_picture",
    "watermark_picture",
]
