"""Image operations on decoded pictures: ``compress`` (fit and re-encode options),
``watermark`` (with its marks in ``marks``) and ``rotate``; each a pure Pillow function plus a
short async step that runs it in a worker thread.
"""
