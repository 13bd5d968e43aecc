"""Reproducible benchmarks that print one JSON document: ``python -m benchmarks --mode quick``.

Every measured job runs in its own subprocess (its peak RSS is that process's ``VmHWM``), the
S3 endpoint is a moto server in another subprocess (its memory is never counted), and each
comparison runs both sides in the same invocation, interleaved, several times.
"""
