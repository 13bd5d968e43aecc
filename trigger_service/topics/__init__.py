"""Verified SNS and SMN HTTP(S) deliveries.

``deliveries`` holds the settings and the checks (topic allow-list, signature, confirmation);
``providers`` describes SNS and SMN; ``hosts`` the signing-host allow-lists; ``signature`` the
string to sign and the RSA check; ``certificates`` where certificates come from and their
cache; ``fetch`` one bounded HTTPS GET.
"""

from trigger_service.topics.certificates import (
    CertificateCache,
    CertificateSource,
    HttpsCertificates,
)
from trigger_service.topics.deliveries import Confirmed, TopicDeliveries, VerifiedMessage
from trigger_service.topics.hosts import HostPolicy
from trigger_service.topics.providers import PROVIDERS, SMN, SNS, Provider

__all__ = [
    "PROVIDERS",
    "SMN",
    "SNS",
    "CertificateCache",
    "CertificateSource",
    "Confirmed",
    "HostPolicy",
    "HttpsCertificates",
    "Provider",
    "TopicDeliveries",
    "VerifiedMessage",
]
