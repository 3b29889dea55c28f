from __future__ import annotations

import json
import logging

import pytest

from services.core.logs import configure_logging, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("calling with Authorization: Bearer vgl_s3cr3tT0ken", "vgl_s3cr3tT0ken"),
        ("db at postgresql://vigil:hunter2@db:5432/vigil", "hunter2"),
        ("config password=swordfish retries=3", "swordfish"),
        ("slack token: xoxb-123-456-abc", "xoxb-123-456-abc"),
        ("api_key=AKIAEXAMPLE", "AKIAEXAMPLE"),
    ],
)
def test_credentials_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_plain_text_is_untouched() -> None:
    assert redact("incident 42 opened on checkout") == "incident 42 opened on checkout"


def test_no_handler_ever_sees_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("vigil.test").warning("connecting to %s", "postgresql://u:topsecret@h/db")
    try:
        raise RuntimeError("token=abc123xyz leaked in an exception")
    except RuntimeError:
        logging.getLogger("vigil.test").exception("failed")
    err = capsys.readouterr().err
    assert "topsecret" not in err and "abc123xyz" not in err
    entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert entries[0]["msg"] == "connecting to postgresql://u:[REDACTED]@h/db"
    assert entries[1]["level"] == "error"
