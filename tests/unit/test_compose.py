"""The docker-compose stack is consistent with the code: settings, commands, ports, images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.api.settings import ApiSettings
from services.cli import build_parser
from services.core.settings import CommonSettings
from services.detect.settings import DetectSettings
from services.ingest.settings import IngestSettings
from services.remediate.settings import RemediateSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
SETTINGS: dict[str, type[CommonSettings]] = {
    "api": ApiSettings,
    "ingest": IngestSettings,
    "detect": DetectSettings,
    "remediate": RemediateSettings,
    "migrate": CommonSettings,
}


def _interpolate_defaults(value: str) -> str:
    """Replace ${VAR:-default} by its default, as compose does when VAR is unset."""
    return re.sub(r"\$\{\w+(?::-([^}]*))?\}", lambda m: m.group(1) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def _vigil_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc for name, svc in compose["services"].items() if svc.get("image") == "vigil:local"
    }


def test_every_vigil_service_is_covered(compose: dict[str, Any]) -> None:
    assert set(_vigil_services(compose)) == set(SETTINGS)


def test_environment_matches_each_services_settings_class(compose: dict[str, Any]) -> None:
    for name, svc in _vigil_services(compose).items():
        fields = {f"VIGIL_{field.upper()}" for field in SETTINGS[name].model_fields}
        env = svc.get("environment", {})
        unknown = {key for key in env if key.startswith("VIGIL_")} - fields
        assert not unknown, f"{name}: {unknown} are not settings of {SETTINGS[name].__name__}"
        # And every value validates as that service's settings would read it.
        values = {
            k.removeprefix("VIGIL_").lower(): _interpolate_defaults(str(v)) for k, v in env.items()
        }
        values["database_url"] = "postgresql://vigil:x@postgres:5432/vigil"
        SETTINGS[name](**values)


def test_commands_are_real_cli_commands(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name, svc in _vigil_services(compose).items():
        args = parser.parse_args(svc["command"])
        assert callable(args.func), name


def test_published_ports_match_the_configured_ports(compose: dict[str, Any]) -> None:
    expected = {"api": ("VIGIL_API_PORT", 8080), "ingest": ("VIGIL_INGEST_PORT", 4318)}
    for name, (variable, default) in expected.items():
        svc = compose["services"][name]
        port = int(svc["environment"].get(variable, default))
        published = [int(p.rsplit(":", 1)[1]) for p in svc["ports"]]
        assert published == [port], name
        assert f":{port}/readyz" in " ".join(svc["healthcheck"]["test"]), name


def test_dependencies_exist_and_infrastructure_images_are_pinned(compose: dict[str, Any]) -> None:
    names = set(compose["services"])
    for name, svc in compose["services"].items():
        assert set(svc.get("depends_on", {})) <= names, name
        image = svc.get("image", "")
        if image != "vigil:local":
            assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: pin {image!r}"
    assert compose["services"]["migrate"]["command"] == ["db", "upgrade"]
    for name in SETTINGS:
        if name != "migrate":
            assert "migrate" in compose["services"][name]["depends_on"], name


def test_the_image_builds_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["vigil"]' in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M), "the image must not run as root"
    for svc in _vigil_services(compose).values():
        build = svc["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == (
            ROOT / "Dockerfile"
        )


def test_env_example_defines_what_compose_interpolates(compose: dict[str, Any]) -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    example = (COMPOSE.parent / ".env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, re.M))
    assert used <= defined, used - defined
