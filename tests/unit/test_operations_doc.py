"""docs/operations.md documents every setting of every service, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from services.api.settings import ApiSettings
from services.core.settings import CommonSettings
from services.detect.settings import DetectSettings
from services.ingest.settings import IngestSettings
from services.remediate.settings import RemediateSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
CLASSES: tuple[type[CommonSettings], ...] = (
    CommonSettings,
    IngestSettings,
    DetectSettings,
    ApiSettings,
    RemediateSettings,
)


def _variables() -> set[str]:
    return {f"VIGIL_{name.upper()}" for cls in CLASSES for name in cls.model_fields}


def _documented() -> set[str]:
    text = DOC.read_text()
    section = text[text.index("## Configure") :]
    section = section[: section.index("\n## ", 1)]
    return set(re.findall(r"`(VIGIL_\w+)`", section))


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = _variables() - _documented()
    assert not missing, f"document these in docs/operations.md (## Configure): {sorted(missing)}"


def test_the_configuration_table_names_only_real_settings() -> None:
    unknown = _documented() - _variables()
    assert not unknown, f"not settings of any service: {sorted(unknown)}"
