"""Field encryption: MultiFernet over FIELD_ENCRYPTION_KEYS (the first key encrypts).

A wrong or missing key fails loudly; a tampered value raises, it never decrypts to garbage.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The value was tampered with, or none of the configured keys encrypted it."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret could not be decrypted (tampered or wrong key)."
        ) from exc


def encrypt_json(value: dict[str, Any]) -> str:
    return encrypt_text(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    value = json.loads(decrypt_text(token))
    return value if isinstance(value, dict) else {}


def mask(secret: str) -> str:
    """``••••1234``: the last four characters at most, and none of a short secret."""
    tail = secret[-4:] if len(secret) >= 12 else ""
    return "••••" + tail


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the primary (first) key; raises DecryptionError if no key fits."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret could not be decrypted (tampered or wrong key)."
        ) from exc
