"""The site's signing and tracking configuration, from settings."""

import hashlib
from pathlib import Path

from django.conf import settings

from provenance.certs import SignerConfig


class SigningNotConfigured(Exception):
    pass


def signer_config() -> SignerConfig:
    key, chain = Path(settings.C2PA_SIGNING_KEY), Path(settings.C2PA_CERT_CHAIN)
    if not key.exists() or not chain.exists():
        raise SigningNotConfigured(
            f"No C2PA signing key/certificate at {key} / {chain}. Run `python manage.py make_signing_cert`."
        )
    return SignerConfig(key_path=key, chain_path=chain, tsa_url=settings.C2PA_TSA_URL or None)


def trust_anchors() -> bytes | None:
    path = Path(settings.C2PA_TRUST_ANCHORS)
    return path.read_bytes() if path.exists() else None


def tracking_key() -> bytes:
    """Secret key of the tracking mark, derived from SECRET_KEY unless set on its own."""
    if settings.TRACKING_KEY:
        return settings.TRACKING_KEY.encode()
    return hashlib.sha256(b"sora_site tracking mark:" + settings.SECRET_KEY.encode()).digest()
