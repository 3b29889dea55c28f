"""Building MetricPoints from values the decoders already checked, without pydantic validation.

Validating each point (`MetricPoint(...)`) cost more than all the rest of decoding an OTLP
point, and `model_construct` is slower still. The decoders produce exactly the types the model
declares (str name and labels, finite float, aware datetime) and check the model's constraints
themselves (`emit_point`), so the point's state is set the way pydantic's own
`model_construct` sets it. The result is an ordinary MetricPoint: equal to the validated one,
serialised to the same JSON, accepted unchanged by consumers.

Setting a model's state this way relies on how pydantic stores it. At import, a trusted point is
compared with a validated one built from the same values; if they differ (a pydantic upgrade,
a new field on MetricPoint), `trusted_point` validates instead: slower, never wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.core.events import MetricPoint

_FIELDS_SET = frozenset(("id", "name", "labels", "value", "timestamp", "tenant"))
_new = object.__new__
_set = object.__setattr__


def _construct(
    id: str, name: str, labels: dict[str, str], value: float, timestamp: datetime, tenant: str
) -> MetricPoint:
    point = _new(MetricPoint)
    _set(
        point,
        "__dict__",
        {
            "schema_version": 1,
            "id": id,
            "name": name,
            "labels": labels,
            "value": value,
            "timestamp": timestamp,
            "tenant": tenant,
        },
    )
    _set(point, "__pydantic_fields_set__", _FIELDS_SET)
    _set(point, "__pydantic_extra__", None)
    _set(point, "__pydantic_private__", None)
    return point


def _validated(
    id: str, name: str, labels: dict[str, str], value: float, timestamp: datetime, tenant: str
) -> MetricPoint:
    return MetricPoint(
        id=id, name=name, labels=labels, value=value, timestamp=timestamp, tenant=tenant
    )


def construct_matches_validation() -> bool:
    """Whether a trusted point is indistinguishable from a validated one (checked at import)."""
    args = ("0f", "m:rate", {"service": "a", "b": "c"}, 1.5, datetime(2026, 1, 2, tzinfo=UTC), "t")
    try:
        built, checked = _construct(*args), _validated(*args)
        return (
            built == checked
            and built.model_dump_json() == checked.model_dump_json()
            and built.model_dump() == checked.model_dump()
            and built.model_fields_set == checked.model_fields_set
            and built.series == checked.series
            and built.partition_key() == checked.partition_key()
        )
    except Exception:  # noqa: BLE001 - any surprise means: do not take the shortcut
        return False


TRUSTED = construct_matches_validation()
# Decoder output only: labels must be str -> str, value a finite float, timestamp aware, name
# 1..256 characters (see `emit_point`). The labels dict may be shared between points.
trusted_point = _construct if TRUSTED else _validated
