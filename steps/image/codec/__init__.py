"""Image codec: bytes to pictures and back, streaming at both ends.

``streams`` adapts chunk channels to blocking file objects; ``decode`` and ``encode`` are the
planner's DECODE/ENCODE stages; ``formats``, ``exif`` and ``modes`` hold what both need;
``metadata`` the workflow's metadata policies; ``frames`` loads animation frames (a broken
animation becomes a still of its first frame); ``rows`` tells a JPEG's finished rows in bands
while it decodes and ``band_feed`` hands them to the thread that sends them on; ``shrink``
picks the JPEG DCT scale; ``pillow_errors`` types what Pillow raises.
"""
