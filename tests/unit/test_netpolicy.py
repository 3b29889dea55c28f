from __future__ import annotations

import pytest

from services.core.netpolicy import BlockedURL, OutboundPolicy, check_url

DEFAULT = OutboundPolicy()


def _resolver(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda host, port: mapping[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://169.254.1.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.1:8080/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pass@example.com/",
    ],
)
def test_default_policy_refuses_dangerous_destinations(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, DEFAULT, _resolver({"example.com": ["93.184.215.14"]}))


def test_public_https_is_allowed() -> None:
    addresses = check_url(
        "https://hooks.example.com/x", DEFAULT, _resolver({"hooks.example.com": ["93.184.215.14"]})
    )
    assert addresses == ["93.184.215.14"]


def test_a_name_resolving_to_the_metadata_service_is_refused() -> None:
    sneaky = _resolver({"innocent.example.com": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(BlockedURL, match="metadata"):
        check_url("https://innocent.example.com/", DEFAULT, sneaky)


def test_private_and_loopback_only_when_the_operator_allows_them() -> None:
    relaxed = OutboundPolicy(allow_private=True, allow_loopback=True)
    check_url("http://10.1.2.3/", relaxed)
    check_url("http://127.0.0.1:9000/", relaxed)
    with pytest.raises(BlockedURL, match="metadata"):
        check_url("http://169.254.169.254/", relaxed)


def test_allow_and_deny_lists_take_precedence() -> None:
    policy = OutboundPolicy(allow_networks=("10.20.0.0/16",), deny_networks=("93.184.0.0/16",))
    check_url("http://10.20.3.4/job", policy)
    with pytest.raises(BlockedURL, match="denied"):
        check_url("https://93.184.215.14/", policy)
