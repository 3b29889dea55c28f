"""The incident state machine and who may drive it. Pure domain logic.

open -> acknowledged -> mitigating -> resolved, with shortcuts forward (open -> mitigating,
anything -> resolved) and resolved -> open (reopen). Asking for the state an incident is
already in changes nothing (safe to retry); asking to go backwards is a conflict.
"""

from __future__ import annotations

from enum import StrEnum

from services.api.auth.roles import Role, allows
from services.core.errors import Conflict, Forbidden
from services.core.events import IncidentStatus


class Command(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    ASSIGN = "assign"
    COMMENT = "comment"
    UPDATE = "update"
    FEEDBACK = "feedback"


REQUIRED_ROLE: dict[Command, Role] = dict.fromkeys(Command, Role.RESPONDER)

_OPEN, _ACK, _MIT, _RES = (
    IncidentStatus.OPEN,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.MITIGATING,
    IncidentStatus.RESOLVED,
)

# command -> {from status: to status}; a status absent from the map is a conflict.
TRANSITIONS: dict[Command, dict[IncidentStatus, IncidentStatus]] = {
    Command.ACKNOWLEDGE: {_OPEN: _ACK, _ACK: _ACK},
    Command.MITIGATE: {_OPEN: _MIT, _ACK: _MIT, _MIT: _MIT},
    Command.RESOLVE: {_OPEN: _RES, _ACK: _RES, _MIT: _RES, _RES: _RES},
    Command.REOPEN: {_RES: _OPEN, _OPEN: _OPEN, _ACK: _ACK, _MIT: _MIT},
}


def authorize(command: Command, role: Role) -> None:
    """Raise Forbidden unless `role` may run `command`."""
    required = REQUIRED_ROLE[command]
    if not allows(role, required):
        raise Forbidden(f"{command.value} needs the {required.value} role (key has {role.value})")


def transition(status: IncidentStatus, command: Command) -> IncidentStatus | None:
    """The status after `command`, or None when it changes nothing; raises Conflict.

    Examples
    --------
    >>> transition(IncidentStatus.OPEN, Command.ACKNOWLEDGE)
    <IncidentStatus.ACKNOWLEDGED: 'acknowledged'>
    >>> transition(IncidentStatus.ACKNOWLEDGED, Command.ACKNOWLEDGE) is None
    True
    """
    allowed = TRANSITIONS[command]
    if status not in allowed:
        raise Conflict(f"cannot {command.value} an incident that is {status.value}")
    target = allowed[status]
    return None if target == status else target
