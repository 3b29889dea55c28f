from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.core.events import Anomaly, MetricPoint, series_key


def test_series_key_sorts_labels_so_label_order_does_not_matter() -> None:
    a = series_key("cpu", {"service": "api", "host": "h1"})
    b = series_key("cpu", {"host": "h1", "service": "api"})
    assert a == b == 'cpu{host="h1",service="api"}'


def test_points_of_one_series_share_a_partition_key() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    p1 = MetricPoint(name="cpu", labels={"b": "2", "a": "1"}, value=1, timestamp=ts)
    p2 = MetricPoint(name="cpu", labels={"a": "1", "b": "2"}, value=2, timestamp=ts)
    assert p1.partition_key() == p2.partition_key()
    assert p1.id != p2.id


def test_naive_timestamps_are_taken_as_utc() -> None:
    point = MetricPoint(name="cpu", value=1, timestamp=datetime(2026, 1, 1, 12))
    assert point.timestamp.tzinfo is not None
    assert point.timestamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_non_finite_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        MetricPoint(name="cpu", value=float("nan"), timestamp=datetime.now(UTC))


def test_anomalies_are_keyed_by_service_for_correlation() -> None:
    anomaly = Anomaly(
        status="firing",
        series="s",
        metric="m",
        service="checkout",
        timestamp=datetime.now(UTC),
        score=0.9,
    )
    assert anomaly.partition_key() == "default/checkout"


def test_events_round_trip_through_json_with_their_schema_version() -> None:
    point = MetricPoint(
        name="cpu", labels={"service": "a"}, value=0.5, timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    again = MetricPoint.model_validate_json(point.model_dump_json())
    assert again == point
    assert again.schema_version == 1
