"""API key format, generation and verification. Pure functions (no database).

A key looks like `vgl_<id>_<secret>`: `id` is 12 hex characters, public, used to find the key;
`secret` is 32 random bytes (256 bits, URL-safe base64). Only SHA-256(id + ":" + secret) is
stored. A slow, salted hash (scrypt, PBKDF2) protects low-entropy passwords against guessing;
a 256-bit random secret cannot be guessed, so a fast hash is as safe and keeps checking a key
on every request cheap (microseconds instead of tens of milliseconds of CPU, which would also
hand out a denial-of-service lever). The id makes each hash unique, as a salt would.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "vgl_"
_KEY = re.compile(r"^vgl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: `token` is shown once and never stored."""

    key_id: str
    token: str
    secret_hash: str


def hash_secret(key_id: str, secret: str) -> str:
    """The stored form of a key's secret."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def generate() -> NewKey:
    """A new random key."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}{key_id}_{secret}", hash_secret(key_id, secret))


def parse(token: str) -> tuple[str, str] | None:
    """Split a presented key into (id, secret); None if it is not a Vigil key.

    Examples
    --------
    >>> parse("vgl_0123456789ab_" + "A" * 43)[0]
    '0123456789ab'
    >>> parse("hunter2") is None
    True
    """
    match = _KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def verify(key_id: str, secret: str, stored_hash: str) -> bool:
    """Whether the secret matches the stored hash (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(key_id, secret), stored_hash)


_KEY_ID = re.compile(r"^vgl_([0-9a-f]{12})_")


def key_id_of(token: str) -> str | None:
    """The public id a presented key claims, even if the rest is malformed; None if none.

    Examples
    --------
    >>> key_id_of("vgl_0123456789ab_wrong")
    '0123456789ab'
    >>> key_id_of("hunter2") is None
    True
    """
    match = _KEY_ID.match(token)
    return match.group(1) if match else None
