"""Shared test support: servers, fakes, samples, waiting.

``service`` runs the service in-process; ``serving`` runs ``bucketstream serve`` as a process;
``engine`` runs executions without the service; ``faults`` is a fault-injecting S3 proxy;
``storage`` inspects buckets; ``images`` makes sample images; ``byte_steps`` runs one byte
step over chosen chunks; ``fakes`` and ``waiting`` are small fakes and deadline helpers;
``postgres`` a real PostgreSQL server (embedded wheel); ``stores`` opens stores on one database;
``live`` serves the app with uvicorn in a thread, ``sse`` reads Server-Sent Events, ``browser``
drives headless Chromium.
"""
