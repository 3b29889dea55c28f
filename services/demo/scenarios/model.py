"""The simulated shop: services, what each request calls, latencies, errors, log lines.

Eight services behind one frontend. `postgres` sends no spans of its own (like a real
database): its callers record client spans naming it in `peer.service`, and it exports metrics.

    frontend -> catalog -> inventory -> postgres
    frontend -> cart
    frontend -> checkout -> cart, payments -> postgres, inventory -> postgres, shipping
"""

from __future__ import annotations

from dataclasses import dataclass

DATABASE = "postgres"


@dataclass(frozen=True)
class Call:
    """One operation of a service and the calls it makes, in order."""

    service: str
    operation: str
    calls: tuple[Call, ...] = ()


def _db(statement: str) -> Call:
    return Call(DATABASE, statement)


ENDPOINTS: tuple[tuple[float, Call], ...] = (
    (
        0.45,
        Call(
            "frontend",
            "GET /product",
            (
                Call(
                    "catalog",
                    "GET /items/{id}",
                    (Call("inventory", "GET /stock/{sku}", (_db("SELECT stock"),)),),
                ),
            ),
        ),
    ),
    (0.15, Call("frontend", "GET /", (Call("catalog", "GET /items", ()),))),
    (0.2, Call("frontend", "GET /cart", (Call("cart", "GET /cart/{id}"),))),
    (
        0.2,
        Call(
            "frontend",
            "POST /checkout",
            (
                Call(
                    "checkout",
                    "POST /orders",
                    (
                        Call("cart", "GET /cart/{id}"),
                        Call("payments", "POST /charge", (_db("INSERT payment"),)),
                        Call("inventory", "POST /reserve", (_db("UPDATE stock"),)),
                        Call("shipping", "POST /quote"),
                    ),
                ),
            ),
        ),
    ),
)

# Median own time (ms) of each service's work, excluding its calls; and its base error rate.
OWN_MS = {
    "frontend": 6.0,
    "catalog": 9.0,
    "inventory": 7.0,
    "checkout": 18.0,
    "cart": 4.0,
    "payments": 35.0,
    "shipping": 14.0,
    DATABASE: 3.0,
}
BASE_ERROR = 0.002
PROPAGATE = 0.9  # chance that a failed call fails its caller too
SLOW_FACTOR = 4.0  # a span this many times slower than usual logs a "slow request" warning

SERVICES = tuple(OWN_MS)
INSTRUMENTED = tuple(s for s in SERVICES if s != DATABASE)


def callers_of(service: str) -> set[str]:
    """Services that call `service` directly."""
    found: set[str] = set()

    def walk(call: Call) -> None:
        for child in call.calls:
            if child.service == service:
                found.add(call.service)
            walk(child)

    for _, root in ENDPOINTS:
        walk(root)
    return found


def edges() -> set[tuple[str, str]]:
    """Every caller -> callee pair of the model."""
    found: set[tuple[str, str]] = set()

    def walk(call: Call) -> None:
        for child in call.calls:
            found.add((call.service, child.service))
            walk(child)

    for _, root in ENDPOINTS:
        walk(root)
    return found


# Log lines. `{}` slots are filled by the generator; every baseline template is written within
# the first minutes of a run, so only faults bring templates never seen before.
ACCESS = "{method} {path} {status} {ms}ms"
INFO_LINES = {
    "frontend": ("rendered page {path} for session {session} in {ms} ms",),
    "catalog": ("cache hit for item {item}", "cache miss for item {item}, loading from inventory"),
    "inventory": ("stock level for sku {sku} is {n}", "reserved {n} units of sku {sku}"),
    "checkout": ("order {order} created for user {user} with {n} items", "order {order} confirmed"),
    "cart": ("cart {cart} has {n} items",),
    "payments": ("charging card ending {card} amount {amount} EUR", "payment {payment} authorised"),
    "shipping": ("quote for {n} items to {country}: {amount} EUR",),
}
SLOW_WARNING = "slow request {operation} took {ms} ms"
GC_WARNING = "GC pause of {ms} ms (heap {heap} MB)"
OWN_ERRORS = {
    "frontend": "failed to render {path}: template error",
    "catalog": "failed to load item {item}: serialization error",
    "inventory": "failed to reserve sku {sku}: version conflict",
    "checkout": "order {order} rejected: invalid state",
    "cart": "cart {cart} could not be loaded: corrupted entry",
    "payments": "card processor error code {code} for payment {payment}",
    "shipping": "no carrier available for {country}",
}
UPSTREAM_ERROR = "call to {callee} failed with status 500"
DB_ERROR = "query on postgres failed: deadlock detected"
CONNECT_ERROR = "could not connect to {callee}: connection refused"
DEPLOY_LINE = "deployed version {version}"
BAD_DEPLOY_ERRORS = (
    "unhandled NullPointerException in {handler}.handle at line {line}",
    "KeyError: 'currency' while formatting response for {item}",
)
