"""The ``bucketstream`` command line.

``commands`` holds the click group (``run``, ``process``); ``serve`` and ``demo`` their own
commands; ``embedded`` starts an S3 + SQS on loopback; ``samples`` makes demo images;
``settings`` reads ``BUCKETSTREAM_*`` variables.
"""

from trigger_service.cli.commands import main

__all__ = ["main"]
