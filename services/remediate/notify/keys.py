"""Where the channel-secret key comes from: settings, a persisted local key, or a clear error.

The api encrypts channel secrets and the remediate workers decrypt them, so both must hold the
same key (`VIGIL_SECRET_KEY`, comma separated for rotation: the first encrypts, all decrypt).
Outside production a missing key is generated once and kept in a file (`VIGIL_SECRET_KEY_FILE`,
next to the SQLite database in the embedded stack), so secrets stay readable across restarts;
in production a missing key stops the service at start instead of silently using a throwaway.
"""

from __future__ import annotations

import os
from pathlib import Path

from services.core.errors import ConfigurationError
from services.remediate.notify.secretbox import SecretBox, generate_key


def load_or_create_key(path: Path) -> str:
    """The key stored at `path`, created (mode 0600) if the file does not exist yet."""
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


class KeyFileBox(SecretBox):
    """A SecretBox whose key file is read (or created) on first use, not at start: processes
    that never meet a channel secret leave no key file behind."""

    def __init__(self, path: Path) -> None:  # noqa: D107 - no key is loaded here on purpose
        self.path = path
        self._box: SecretBox | None = None

    def _loaded(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(load_or_create_key(self.path))
        return self._box

    def encrypt(self, plaintext: str) -> str:
        return self._loaded().encrypt(plaintext)

    def decrypt(self, token: str) -> str:
        return self._loaded().decrypt(token)


def secret_box(*, keys: str, key_file: str, environment: str) -> SecretBox:
    """The SecretBox these settings describe; ConfigurationError when none can be had."""
    configured = [k.strip() for k in keys.split(",") if k.strip()]
    if configured:
        return SecretBox(configured)
    if environment == "production":
        raise ConfigurationError(
            "VIGIL_SECRET_KEY is required in production (channel secrets are encrypted with it); "
            "generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    if not key_file:
        raise ConfigurationError("set VIGIL_SECRET_KEY or VIGIL_SECRET_KEY_FILE")
    return KeyFileBox(Path(key_file))
