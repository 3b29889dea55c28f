"""Outbound URL policy: where webhooks, runbooks and notifiers may send requests.

Every outbound call that takes a URL from configuration (a webhook, a runbook, a chat tool)
passes `check_url` first. By default it refuses link-local addresses (including the cloud
metadata service at 169.254.169.254 and fd00:ec2::254), unspecified and multicast addresses,
and non-HTTP schemes; private and loopback ranges are allowed only when the operator says so,
because self-hosted tools often live there. Host names are resolved and every address checked,
so a DNS name pointing at the metadata service is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.core.errors import VigilError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class BlockedURL(VigilError):
    """The URL is not allowed by the outbound policy."""


@dataclass(frozen=True)
class OutboundPolicy:
    """What outbound destinations are allowed."""

    allow_private: bool = False
    allow_loopback: bool = False
    schemes: frozenset[str] = frozenset({"https", "http"})
    # Explicit networks always allowed (e.g. a Rundeck server on a private range) ...
    allow_networks: Sequence[str] = field(default_factory=tuple)
    # ... and always refused, whatever else says.
    deny_networks: Sequence[str] = field(default_factory=tuple)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise BlockedURL(f"cannot resolve {host!r}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


def address_refusal(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why the address is refused under the policy, or None if it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in ipaddress.ip_network(n) for n in policy.deny_networks):
        return "in a denied network"
    if address in METADATA_ADDRESSES:
        return "the cloud metadata service"
    if any(address in ipaddress.ip_network(n) for n in policy.allow_networks):
        return None
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if address.is_loopback:
        return None if policy.allow_loopback else "loopback"
    if address.is_private:
        return None if policy.allow_private else "a private network"
    return None


def check_url(url: str, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> list[str]:
    """Raise BlockedURL unless every address of the URL's host is allowed; returns them."""
    parts = urlsplit(url)
    if parts.scheme not in policy.schemes:
        raise BlockedURL(f"scheme {parts.scheme!r} is not allowed")
    if not parts.hostname:
        raise BlockedURL("URL has no host")
    if parts.username or parts.password:
        raise BlockedURL("credentials in the URL are not allowed; use the channel's secret")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedURL(f"bad port: {exc}") from exc
    try:
        addresses = [str(ipaddress.ip_address(parts.hostname))]
    except ValueError:
        addresses = resolver(parts.hostname, port)
    if not addresses:
        raise BlockedURL(f"{parts.hostname!r} resolves to no address")
    for text in addresses:
        reason = address_refusal(ipaddress.ip_address(text), policy)
        if reason is not None:
            raise BlockedURL(f"{parts.hostname} -> {text} is {reason}")
    return addresses
