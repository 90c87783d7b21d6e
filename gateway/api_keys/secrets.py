"""Making and hashing API keys (no I/O)."""

import hashlib
import secrets

KEY_PREFIX = "snl_"
DISPLAY_CHARS = 12


def new_key() -> str:
    # 32 random bytes: a key cannot be guessed, so a fast hash is enough to store it.
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 20 <= len(value) <= 100
