"""Image steps: decode once, encode once, streaming at both ends.

``codec/`` turns bytes into :class:`Picture` frames and back (``DECODE``/``ENCODE``, inserted by
the planner where bytes meet pictures); ``strips`` cuts pictures into :class:`PictureStrip` bands
and joins them (``SPLIT``/``JOIN``); ``ops/`` holds the steps a workflow names (compress,
watermark, rotate), each a pure Pillow function run in a worker thread plus a short async step.
"""

from steps.image.codec.decode import DECODE, DecodeParams, decode_bytes
from steps.image.codec.encode import ENCODE, encode_bytes
from steps.image.codec.strip_encode import STRIP_ENCODE
from steps.image.ops.compress import COMPRESS, CompressParams, compress_picture
from steps.image.ops.marks import WatermarkParams
from steps.image.ops.rotate import ROTATE, RotateParams, rotate_picture
from steps.image.ops.watermark import WATERMARK, watermark_picture
from steps.image.picture import EncodeOptions, Picture
from steps.image.strips import JOIN, SPLIT, PictureStrip, StripAssembler, split_picture

#: The picture steps a workflow can name.
IMAGE_STEPS = (COMPRESS, WATERMARK, ROTATE)

__all__ = [
    "COMPRESS",
    "DECODE",
    "ENCODE",
    "IMAGE_STEPS",
    "JOIN",
    "ROTATE",
    "SPLIT",
    "STRIP_ENCODE",
    "WATERMARK",
    "CompressParams",
    "DecodeParams",
    "EncodeOptions",
    "Picture",
    "PictureStrip",
    "RotateParams",
    "StripAssembler",
    "WatermarkParams",
    "compress_picture",
    "decode_bytes",
    "encode_bytes",
    "rotate_picture",
    "split_picture",
    "watermark_picture",
]
