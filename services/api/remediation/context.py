"""What the remediation routes and workers of the api need besides the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from services.remediate.executors.base import ExecutorRegistry
from services.remediate.policies import PolicySet


@dataclass
class RemediationContext:
    """File policies, the executors used for dry-run previews and rollback plans, and the
    verification window."""

    file_policies: PolicySet = field(default_factory=PolicySet)
    registry: ExecutorRegistry = field(default_factory=ExecutorRegistry)
    verify_window: timedelta = timedelta(minutes=5)
    verify_settle: timedelta = timedelta(seconds=30)
    escalation_channel: str = "oncall"
    link_base: str = ""  # public console URL, for links in the messages the api addresses
    # Called after a kill-switch change is committed (sends the control message at once).
    on_kill_switch: Callable[[], None] = lambda: None
