"""Which metadata an image workflow writes: the workflow-level ``image.metadata`` policy.

.. code-block:: yaml

    image: {metadata: strip-gps}

==============  =========================================================================
``keep-icc``    the default: EXIF and XMP dropped, the ICC profile kept (colours unchanged)
``keep``        EXIF (orientation tag removed: the pixels are upright), XMP and ICC kept
``strip-gps``   as ``keep``, but the GPS IFD of EXIF is zeroed and unlinked and XMP loses
                its ``exif:GPS…`` properties: camera, date and copyright stay, the place goes
``strip``       everything dropped; the pixels are converted to sRGB first so that colours
                do not shift without their profile
==============  =========================================================================

The decode stage sets the policy on every picture, so it holds for any image workflow
(a ``watermark`` or ``rotate`` alone too); ``compress``'s ``strip_metadata``, when given,
overrides it for that workflow's output.
"""

from __future__ import annotations

import re
from typing import Literal

from steps.image.picture import StripPolicy

MetadataPolicy = Literal["keep-icc", "keep", "strip-gps", "strip"]
DEFAULT_METADATA: MetadataPolicy = "keep-icc"
#: The encode-time strip policy of each workflow-level metadata policy.
STRIP_POLICIES: dict[MetadataPolicy, StripPolicy] = {
    "keep-icc": "exif",
    "keep": "none",
    "strip-gps": "gps",
    "strip": "all",
}

_GPS_NAME = rb"(?:exif|exifEX):GPS[A-Za-z]*"
_GPS_ATTRIBUTE = re.compile(rb"\s" + _GPS_NAME + rb"\s*=\s*(?:\"[^\"]*\"|'[^']*')")
_GPS_ELEMENT = re.compile(rb"<(" + _GPS_NAME + rb")\b[^>]*?(?:/>|>.*?</\1\s*>)", re.DOTALL)


def xmp_without_gps(xmp: bytes) -> bytes:
    """``xmp`` without its ``exif:GPS…`` properties, as attributes or as elements."""
    return _GPS_ELEMENT.sub(b"", _GPS_ATTRIBUTE.sub(b"", xmp))
