"""The string to sign of a topic message, and its RSA PKCS#1 v1.5 signature checked.

``cryptography`` is imported only when a signature is checked: importing the service stays
light (``tests/unit/test_lean_imports.py``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trigger_service.errors import InvalidSignature
from trigger_service.topics.providers import CERTIFICATE_DIGEST, Provider

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: Longest base64 signature accepted (an RSA-4096 signature is 684 characters).
MAX_SIGNATURE_LENGTH = 2048
_DIGESTS = ("sha1", "sha256", "sha384", "sha512")


def string_to_sign(provider: Provider, message: Mapping[str, Any], kind: str) -> bytes:
    """``name\\nvalue\\n`` of each signed member of a ``kind`` message, UTF-8."""
    lines: list[str] = []
    for name in provider.signed_members(kind):
        value = message.get(name)
        if name == provider.subject_member and (
            value is None or (value == "" and provider.empty_subject_unsigned)
        ):
            continue
        if not isinstance(value, str):
            raise InvalidSignature(f"{name}: missing, or not a string (it is signed)")
        lines += (name, value)
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def decode_signature(value: object, member: str) -> bytes:
    """The bytes of a base64 signature member."""
    if not isinstance(value, str) or not value:
        raise InvalidSignature(f"{member}: missing")
    if len(value) > MAX_SIGNATURE_LENGTH:
        raise InvalidSignature(f"{member}: longer than {MAX_SIGNATURE_LENGTH} characters")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature(f"{member}: not base64") from None


def check_signature(certificate: Certificate, signature: bytes, signed: bytes, digest: str) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` signs ``signed`` with the key.

    ``digest`` is ``sha1``, ``sha256``… or :data:`CERTIFICATE_DIGEST` (the certificate's own).
    """
    from cryptography.exceptions import InvalidSignature as BadSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if digest == CERTIFICATE_DIGEST:
        own = certificate.signature_hash_algorithm
        digest = own.name if own is not None else "none"
    if digest not in _DIGESTS:
        raise InvalidSignature(f"the signing certificate's digest {digest} is not supported")
    algorithm = {
        "sha1": hashes.SHA1(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[digest]
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignature("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except BadSignature:
        raise InvalidSignature("the signature does not match the message") from None
