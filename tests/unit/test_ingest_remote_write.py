"""Prometheus remote_write 1.0: bodies exactly as Prometheus sends them (snappy block format)."""

from __future__ import annotations

import struct

import cramjam
import pytest

from services.core.events import MetricPoint
from services.core.topics import TELEMETRY_METRICS
from services.ingest.formats import DecodeContext, DecodeError, remote_write
from services.ingest.formats.prompb import WriteRequest
from tests.unit.ingest_payloads import RW_HEADERS, app_with, post, rw_body

MS = 1_800_000_000_000


def _decode(body: bytes, ctx: DecodeContext | None = None) -> list[MetricPoint]:
    raw = bytes(cramjam.snappy.decompress_raw(body))
    return remote_write.decode(raw, ctx or DecodeContext()).metrics


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + (_varint(len(payload)) if wire == 2 else b"") + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def test_hand_encoded_wire_bytes_match_the_prompb_field_numbers() -> None:
    # Independently of our message classes: prompb's field numbers written out by hand.
    label = _field(1, 2, b"__name__") + _field(2, 2, b"up")
    sample = _field(1, 1, struct.pack("<d", 1.0)) + _field(2, 0, _varint(MS))
    series = _field(1, 2, label) + _field(2, 2, sample)
    wire = _field(1, 2, series)
    parsed = WriteRequest.FromString(wire)
    assert parsed.timeseries[0].labels[0].name == "__name__"
    assert parsed.timeseries[0].samples[0].timestamp == MS
    assert rw_body([({"__name__": "up"}, [(1.0, MS)])]) == bytes(cramjam.snappy.compress_raw(wire))


def test_gauges_keep_their_values_and_labels() -> None:
    body = rw_body([({"__name__": "node_load1", "instance": "a:9100", "job": "node"}, [(0.5, MS)])])
    [point] = _decode(body)
    assert point.name == "node_load1"
    assert point.labels == {"instance": "a:9100", "job": "node"}
    assert point.value == 0.5
    assert point.timestamp.timestamp() == MS / 1000


def test_counters_become_rates_by_suffix_or_metadata() -> None:
    ctx = DecodeContext()
    labels = {"__name__": "http_requests_total", "code": "200"}
    assert _decode(rw_body([(labels, [(100.0, MS)])]), ctx) == []
    [rate] = _decode(rw_body([(labels, [(130.0, MS + 15_000)])]), ctx)
    assert (rate.name, rate.value, rate.labels) == (
        "http_requests_total:rate",
        2.0,
        {"code": "200"},
    )

    request = WriteRequest()
    meta = request.metadata.add(type=1, metric_family_name="jobs_done")  # COUNTER
    del meta
    for value, ms in ((10.0, MS), (20.0, MS + 10_000)):
        ts = request.timeseries.add()
        ts.labels.add(name="__name__", value="jobs_done")
        ts.samples.add(value=value, timestamp=ms)
    points = remote_write.decode(request.SerializeToString(), DecodeContext()).metrics
    assert [(p.name, p.value) for p in points] == [("jobs_done:rate", 1.0)]


def test_staleness_markers_and_native_histograms_are_dropped_and_counted() -> None:
    stale = struct.unpack("<d", struct.pack("<Q", remote_write.STALE_NAN_BITS))[0]
    request = WriteRequest()
    ts = request.timeseries.add()
    ts.labels.add(name="__name__", value="up")
    ts.samples.add(value=stale, timestamp=MS)
    ts.samples.add(value=1.0, timestamp=MS + 1)
    ts.histograms.add()
    nameless = request.timeseries.add()
    nameless.samples.add(value=1.0, timestamp=MS)
    decoded = remote_write.decode(request.SerializeToString(), DecodeContext())
    assert [p.value for p in decoded.metrics] == [1.0]
    assert decoded.rejected.counts == {"stale_marker": 1, "unsupported": 1, "invalid": 1}


def test_garbage_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="WriteRequest"):
        remote_write.decode(b"\x0a\xff\xff\xff\xff\x0f", DecodeContext())


def test_remote_write_route_publishes_and_answers_204() -> None:
    app, bus = app_with()
    body = rw_body([({"__name__": "up", "job": "api"}, [(1.0, MS), (1.0, MS + 15_000)])])
    response = post(app, "/api/v1/write", content=body, headers=RW_HEADERS)
    assert response.status_code == 204
    published = [
        MetricPoint.model_validate_json(m.value) for m in bus.recent(TELEMETRY_METRICS.name)
    ]
    assert [(p.name, p.labels, p.value) for p in published] == [("up", {"job": "api"}, 1.0)] * 2


def test_remote_write_route_refuses_what_it_cannot_read() -> None:
    app, _ = app_with(ingest_max_decompressed_bytes=4096)
    body = rw_body([({"__name__": "up"}, [(1.0, MS)])])
    cases = [
        ({**RW_HEADERS, "Content-Type": "application/json"}, body, 415),
        ({**RW_HEADERS, "Content-Encoding": "br"}, body, 415),
        (RW_HEADERS, b"\x05not snappy at all", 400),
        (RW_HEADERS, b"\xff\x06\x00\x00sNaPpY", 400),  # framed format
        (RW_HEADERS, _varint(10_000_000) + b"\x00", 413),  # claims 10 MB uncompressed
        (RW_HEADERS, bytes(cramjam.snappy.compress_raw(b"\xff" * 100)), 400),
    ]
    for headers, content, status in cases:
        response = post(app, "/api/v1/write", content=content, headers=headers)
        assert response.status_code == status, (headers, content[:20], response.text)
        assert response.json()["detail"]
