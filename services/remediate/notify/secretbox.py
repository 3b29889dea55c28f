"""Channel secrets at rest: Fernet-encrypted (AES-128-CBC + HMAC-SHA256), never shown back.

The key comes from settings (`VIGIL_NOTIFY_SECRET_KEY`, a urlsafe base64 32-byte Fernet key);
the api encrypts what operators enter, the workers decrypt right before sending. `redacted()`
is the only form a secret takes in API responses and logs.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.core.errors import ConfigurationError

REDACTED = "********"


def generate_key() -> str:
    """A fresh Fernet key, for `vigil` tooling and tests."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts and decrypts channel secrets. Several keys allow rotation (first one encrypts)."""

    def __init__(self, keys: str | list[str]) -> None:
        keys = [keys] if isinstance(keys, str) else keys
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise ConfigurationError("no secret encryption key configured")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in cleaned])
        except (ValueError, TypeError):
            raise ConfigurationError(
                "secret encryption key must be 32 url-safe base64-encoded bytes"
            ) from None

    def encrypt(self, plaintext: str) -> str:
        """The token to store for a secret."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The secret behind a stored token; ConfigurationError if the key does not match."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "stored secret cannot be decrypted with the configured key"
            ) from None


def redacted(secret: str | None) -> str:
    """What to show instead of a secret: whether one is set, never any of its characters."""
    return REDACTED if secret else ""
