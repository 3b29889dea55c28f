"""The docker-compose stack is consistent with the code: settings, commands, ports, images."""

from __future__ import annotations

import json
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
    """Replace ${VAR:-default} by its default, as compose does when VAR is unset (and a
    required ${VAR:?message} by nothing: compose itself refuses to start without it)."""
    return re.sub(r"\$\{\w+(?::-([^}]*)|:\?[^}]*)?\}", lambda m: m.group(1) or "", value)


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
        values: dict[str, Any] = {
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
            assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", image), f"{name}: pin {image!r}"
    assert compose["services"]["migrate"]["command"] == ["db", "upgrade"]
    for name in SETTINGS:
        if name != "migrate":
            assert "migrate" in compose["services"][name]["depends_on"], name


# The HTTP port of every Vigil service that has one: (environment variable, settings default).
HTTP_PORTS = {
    "api": ("VIGIL_API_PORT", ApiSettings().api_port),
    "ingest": ("VIGIL_INGEST_PORT", IngestSettings().ingest_port),
    "detect": ("VIGIL_DETECT_HTTP_PORT", DetectSettings().detect_http_port),
    "remediate": ("VIGIL_REMEDIATE_HTTP_PORT", RemediateSettings().remediate_http_port),
}


def _port(compose: dict[str, Any], name: str) -> int:
    variable, default = HTTP_PORTS[name]
    return int(compose["services"][name]["environment"].get(variable, default))


def test_every_service_has_a_readiness_healthcheck_on_its_port(compose: dict[str, Any]) -> None:
    for name in HTTP_PORTS:
        svc = compose["services"][name]
        assert f"127.0.0.1:{_port(compose, name)}/readyz" in " ".join(svc["healthcheck"]["test"])
        host_variable = HTTP_PORTS[name][0].replace("_PORT", "_HOST")
        assert svc["environment"][host_variable] == "0.0.0.0", f"{name}: Prometheus must reach it"


def test_prometheus_scrapes_every_service_on_its_port(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["observability"]
    assert compose["services"]["grafana"]["profiles"] == ["observability"]
    config = yaml.safe_load((COMPOSE.parent / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        name: sd["port"]
        for job in config["scrape_configs"]
        for sd in job["dns_sd_configs"]
        for name in sd["names"]
    }
    assert scraped == {name: _port(compose, name) for name in HTTP_PORTS}
    mounts = " ".join(prometheus["volumes"])
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounts


def test_grafana_dashboard_parses_and_queries_only_metrics_vigil_exposes(tmp_path: Path) -> None:
    from services.embedded import EmbeddedStack
    from services.ingest.telemetry import IngestMetrics

    grafana = COMPOSE.parent / "grafana"
    dashboard = json.loads((grafana / "dashboards" / "vigil.json").read_text())
    datasources = yaml.safe_load(
        (grafana / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasources["datasources"][0]["uid"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {uid}
    stack = EmbeddedStack.build(f"sqlite:///{tmp_path}/vigil.db")
    families = [*stack.api.metrics.collect(), *IngestMetrics().registry.collect()]
    suffixes = ("", "_total", "_bucket", "_count", "_sum")  # labelled families may be empty
    names = {family.name + suffix for family in families for suffix in suffixes}
    stack.api.engine.dispose()
    used = set(re.findall(r"\bvigil_\w+", " ".join(exprs)))
    assert used, "the dashboard queries no Vigil metric"
    assert used <= names, used - names


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


def test_api_and_remediate_share_one_required_secret_key(compose: dict[str, Any]) -> None:
    # The api encrypts channel secrets, remediate decrypts them: in separate containers a
    # generated key file would differ per container and no delivery could decrypt its channel.
    api = compose["services"]["api"]["environment"]["VIGIL_SECRET_KEY"]
    remediate = compose["services"]["remediate"]["environment"]["VIGIL_SECRET_KEY"]
    assert api == remediate
    match = re.fullmatch(r"\$\{VIGIL_SECRET_KEY:\?[^}]+\}", api)
    assert match, f"{api!r}: compose must refuse to start without the key, not default it"
    for name in ("ingest", "detect", "migrate"):  # they hold no channel secrets
        assert "VIGIL_SECRET_KEY" not in compose["services"][name].get("environment", {}), name


def test_env_example_documents_a_command_generating_a_valid_secret_key() -> None:
    import subprocess
    import sys

    from services.remediate.notify.secretbox import SecretBox

    example = (COMPOSE.parent / ".env.example").read_text()
    assert re.search(r"^VIGIL_SECRET_KEY=$", example, re.M), "no real key in the example"
    (command,) = re.findall(r"^#\s+(python -c .+)$", example, re.M)
    code = re.fullmatch(r'python -c "(.+)"', command)
    assert code, command
    key = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, check=True
    ).stdout.strip()
    box = SecretBox(key)  # the api and remediate read it this way
    assert box.decrypt(box.encrypt("xoxb-token")) == "xoxb-token"
