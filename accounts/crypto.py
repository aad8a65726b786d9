"""Secrets at rest: MultiFernet over FIELD_ENCRYPTION_KEYS (the first encrypts, all decrypt)."""

import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

# Every column holding a secret encrypted with fernet(), as (app_label.Model, field): what
# `reencrypt_secrets` moves to a new key. Apps register their own (prompts: webhook secrets).
ENCRYPTED_FIELDS: list[tuple[str, str]] = [("accounts.GatewayKey", "secret_encrypted")]


def register_encrypted_field(model_label: str, field: str) -> None:
    if (model_label, field) not in ENCRYPTED_FIELDS:
        ENCRYPTED_FIELDS.append((model_label, field))


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_secret(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate_secret(token: str) -> str:
    """Re-encrypt under the first key (what `reencrypt_secrets` does to every row)."""
    return fernet().rotate(token.encode()).decode()


def mask_secret(secret: str) -> str:
    """Shown in place of a key: its prefix and last four characters, never more."""
    if len(secret) <= 12:
        return "…" + secret[-2:]
    return f"{secret[:4]}…{secret[-4:]}"


def fingerprint_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]
