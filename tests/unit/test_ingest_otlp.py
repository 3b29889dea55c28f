"""OTLP decoders: metrics of every kind, logs, traces; protobuf and the spec's JSON examples."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from services.core.events import Severity
from services.ingest.formats import (
    DecodeContext,
    Decoded,
    DecodeError,
    otlp_logs,
    otlp_metrics,
    otlp_traces,
)
from tests.unit.ingest_payloads import (
    CUMULATIVE,
    DELTA,
    SPEC_LOGS,
    SPEC_METRICS,
    SPEC_TRACES,
    T0,
    S,
    counter,
    gauge,
    kv,
    metrics_request,
    otlp_json,
    spec,
)


def _decode(request: object, ctx: DecodeContext | None = None) -> Decoded:
    body = request.SerializeToString()  # type: ignore[attr-defined]
    return otlp_metrics.decode_protobuf(body, ctx or DecodeContext())


def _values(decoded: Decoded) -> dict[str, float]:
    return {p.name: p.value for p in decoded.metrics}


def test_gauge_points_carry_resource_scope_and_point_labels() -> None:
    request = metrics_request(
        gauge("cpu.utilization", [(T0, 0.75, {"cpu": "0", "host.name": "override"})]),
        resource={"host.name": "node-1", "deployment.environment": "prod"},
    )
    request.resource_metrics[0].scope_metrics[0].scope.attributes.append(kv("lib", "otel"))
    decoded = _decode(request)
    [point] = decoded.metrics
    assert point.name == "cpu.utilization"
    assert point.value == 0.75
    assert point.timestamp == datetime.fromtimestamp(T0 / 1e9, UTC)
    assert point.labels == {
        "service": "checkout",
        "host.name": "override",
        "deployment.environment": "prod",
        "lib": "otel",
        "cpu": "0",
    }
    assert point.service == "checkout"
    assert decoded.metric_keys == [point.partition_key()]


def test_cumulative_counter_becomes_a_rate_from_its_second_point() -> None:
    ctx = DecodeContext()
    first = _decode(metrics_request(counter("http.requests", [(T0, 100.0)])), ctx)
    second = _decode(metrics_request(counter("http.requests", [(T0 + 10 * S, 160.0)])), ctx)
    assert first.metrics == []  # the first point only seeds the state
    assert [(p.name, p.value) for p in second.metrics] == [("http.requests:rate", 6.0)]


def test_counter_reset_uses_the_new_start_time() -> None:
    ctx = DecodeContext()
    _decode(metrics_request(counter("jobs", [(T0, 500.0)])), ctx)
    restarted = counter("jobs", [(T0 + 60 * S, 40.0)], start=T0 + 40 * S)
    assert _values(_decode(metrics_request(restarted), ctx)) == {"jobs:rate": 2.0}


def test_delta_counter_is_divided_by_its_interval_and_up_down_counters_pass_as_values() -> None:
    delta = counter("bytes", [(T0, 50.0)], temporality=DELTA, start=T0 - 10 * S)
    level = counter("queue.depth", [(T0, 7.0)], monotonic=False)
    values = _values(_decode(metrics_request(delta, level)))
    assert values == {"bytes:rate": 5.0, "queue.depth": 7.0}


def _histogram(
    name: str, t: int, counts: list[int], bounds: list[float], total: float, temporality: int
) -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name=name)
    metric.histogram.aggregation_temporality = temporality
    dp = metric.histogram.data_points.add(time_unix_nano=t, start_time_unix_nano=T0 - 3600 * S)
    dp.count, dp.sum = sum(counts), total
    dp.bucket_counts.extend(counts)
    dp.explicit_bounds.extend(bounds)
    return metric


def test_cumulative_histogram_yields_rates_mean_and_quantiles_of_the_interval() -> None:
    ctx = DecodeContext(quantiles=(0.5, 0.9))
    bounds = [0.1, 0.2, 0.5, 1.0]
    _decode(metrics_request(_histogram("latency", T0, [10, 10, 0, 0, 0], bounds, 2.0, 2)), ctx)
    # In the next 10 s: 100 more observations, all between 0.2 and 0.5, summing to 35.
    later = _histogram("latency", T0 + 10 * S, [10, 10, 100, 0, 0], bounds, 37.0, CUMULATIVE)
    values = _values(_decode(metrics_request(later), ctx))
    assert values["latency_count:rate"] == pytest.approx(10.0)
    assert values["latency_sum:rate"] == pytest.approx(3.5)
    assert values["latency:mean"] == pytest.approx(0.35)
    assert values["latency:p50"] == pytest.approx(0.35)  # halfway through (0.2, 0.5]
    assert values["latency:p90"] == pytest.approx(0.47)


def test_delta_histogram_uses_min_and_max_for_open_buckets() -> None:
    metric = _histogram("size", T0, [0, 4], [10.0], 60.0, DELTA)
    metric.histogram.data_points[0].max = 20.0
    metric.histogram.data_points[0].start_time_unix_nano = T0 - 2 * S
    values = _values(_decode(metrics_request(metric), DecodeContext(quantiles=(0.5,))))
    assert values["size:p50"] == pytest.approx(15.0)  # (10, max=20], halfway
    assert values["size_count:rate"] == pytest.approx(2.0)


def test_exponential_histogram_quantiles_are_close_to_the_true_ones() -> None:
    rng = random.Random(1)
    samples = sorted(rng.lognormvariate(0, 1) for _ in range(5000))
    scale = 4
    base = 2 ** (2**-scale)
    buckets: dict[int, int] = {}
    for x in samples:
        index = math.ceil(math.log(x, base)) - 1  # bucket i holds (base^i, base^(i+1)]
        buckets[index] = buckets.get(index, 0) + 1
    metric = metrics_pb2.Metric(name="rtt")
    metric.exponential_histogram.aggregation_temporality = DELTA
    dp = metric.exponential_histogram.data_points.add(
        time_unix_nano=T0, start_time_unix_nano=T0 - 10 * S, scale=scale
    )
    dp.count, dp.sum = len(samples), sum(samples)
    low = min(buckets)
    dp.positive.offset = low
    dp.positive.bucket_counts.extend(buckets.get(i, 0) for i in range(low, max(buckets) + 1))
    values = _values(_decode(metrics_request(metric), DecodeContext(quantiles=(0.5, 0.99))))
    for q in (0.5, 0.99):
        true = samples[int(q * len(samples)) - 1]
        assert values[f"rtt:p{round(q * 100)}"] == pytest.approx(true, rel=0.05)
    assert values["rtt_count:rate"] == pytest.approx(500.0)


def test_summary_gives_its_quantiles_and_count_rate() -> None:
    ctx = DecodeContext()
    for t, count in ((T0, 100), (T0 + 10 * S, 150)):
        metric = metrics_pb2.Metric(name="rpc")
        dp = metric.summary.data_points.add(time_unix_nano=t, count=count, sum=count * 0.2)
        dp.quantile_values.add(quantile=0.5, value=0.15)
        dp.quantile_values.add(quantile=0.99, value=0.9)
        values = _values(_decode(metrics_request(metric), ctx))
    assert values == {
        "rpc_count:rate": 5.0,
        "rpc_sum:rate": pytest.approx(1.0),
        "rpc:p50": 0.15,
        "rpc:p99": 0.9,
    }


def test_bad_points_are_rejected_one_by_one_and_the_rest_pass() -> None:
    request = metrics_request(gauge("g", [(T0, math.nan, {}), (T0, 1.0, {"a": "b"})]))
    flagged = request.resource_metrics[0].scope_metrics[0].metrics.add(name="flagged")
    flagged.gauge.data_points.add(time_unix_nano=T0, flags=1)  # no recorded value: skipped
    request.resource_metrics[0].scope_metrics[0].metrics.add(name="", gauge={"data_points": [{}]})
    decoded = _decode(request)
    assert [p.value for p in decoded.metrics] == [1.0]
    assert decoded.rejected.counts == {"non_finite": 1, "invalid": 1}


def test_protobuf_and_json_encodings_decode_alike() -> None:
    request = metrics_request(gauge("mem", [(T0, 1.5, {"k": "v"})]), counter("c", [(T0, 1.0)]))
    from_proto = _decode(request)
    from_json = otlp_metrics.decode_json(otlp_json(request), DecodeContext())
    strip = [(p.name, p.labels, p.value, p.timestamp) for p in from_proto.metrics]
    assert strip == [(p.name, p.labels, p.value, p.timestamp) for p in from_json.metrics]


def test_spec_metrics_example() -> None:
    decoded = otlp_metrics.decode_json(spec(SPEC_METRICS), DecodeContext(quantiles=(0.5,)))
    by_name = {p.name: p for p in decoded.metrics}
    gauge_point = by_name["my.gauge"]
    assert gauge_point.value == 10
    assert gauge_point.labels == {
        "service": "my.service",
        "my.scope.attribute": "some scope attribute",
        "my.gauge.attr": "some value",
    }
    assert by_name["my.histogram:mean"].value == 1.0
    # Its 3 bucket counts do not fit 1 bound: count, sum and mean, but no quantiles.
    assert "my.histogram:p50" not in by_name
    # The example's delta counter has a zero-length interval: no rate can be given.
    assert decoded.rejected.counts == {"invalid": 1}


def test_spec_logs_example() -> None:
    decoded = otlp_logs.decode_json(spec(SPEC_LOGS), DecodeContext())
    [record] = decoded.logs
    assert record.service == "my.service"
    assert record.body == "Example log record"
    assert record.trace_id == "5b8efff798038103d269b633813fc60c"
    assert record.span_id == "eee19b7ec3c1b174"
    assert record.severity == Severity.INFO
    assert record.attributes["boolean.attribute"] == "true"
    assert record.attributes["int.attribute"] == "10"
    assert record.attributes["double.attribute"] == "637.704"
    assert record.attributes["array.attribute"] == '["many","values"]'
    assert record.attributes["map.attribute"] == '{"some.map.key":"some value"}'
    assert record.attributes["my.scope.attribute"] == "some scope attribute"


def test_spec_traces_example() -> None:
    decoded = otlp_traces.decode_json(spec(SPEC_TRACES), DecodeContext())
    [span] = decoded.spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert span.service == "my.service"
    assert span.operation == "I'm a server span"
    assert span.duration_ms == 1000.0
    assert span.attributes["span.kind"] == "server"
    assert not span.error


def test_log_severity_numbers_and_texts_map_to_four_levels() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for number, text in ((9, ""), (13, ""), (17, ""), (21, ""), (0, "ERROR"), (0, "warn")):
        records.add(time_unix_nano=T0, severity_number=number, severity_text=text)
    decoded = otlp_logs.decode_protobuf(request.SerializeToString(), DecodeContext())
    assert [r.severity.value for r in decoded.logs] == [
        "info",
        "warning",
        "error",
        "critical",
        "error",
        "warning",
    ]


def test_failed_span_is_an_error_and_malformed_spans_are_rejected() -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good = spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="GET /")
    good.start_time_unix_nano, good.end_time_unix_nano = T0, T0 + 5_000_000
    good.status.code, good.status.message = 2, "boom"
    spans.add(trace_id=b"\x01" * 3, span_id=b"\x02" * 8, start_time_unix_nano=T0)
    decoded = otlp_traces.decode_protobuf(request.SerializeToString(), DecodeContext())
    [span] = decoded.spans
    assert span.error and span.duration_ms == 5.0
    assert span.attributes["status.message"] == "boom"
    assert decoded.rejected.counts == {"invalid": 1}


def test_undecodable_bodies_name_the_problem() -> None:
    with pytest.raises(DecodeError, match="ExportMetricsServiceRequest"):
        otlp_metrics.decode_protobuf(b"\xff\xff\xff", DecodeContext())
    with pytest.raises(DecodeError, match="traceId"):
        bad = spec(SPEC_TRACES)
        bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "xyz"
        otlp_traces.decode_json(bad, DecodeContext())
    with pytest.raises(DecodeError, match="asDouble"):
        bad = spec(SPEC_METRICS)
        bad["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][1]["gauge"]["dataPoints"][0][
            "asDouble"
        ] = "lots"
        otlp_metrics.decode_json(bad, DecodeContext())
