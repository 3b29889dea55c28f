"""Fuzzing every decoder and the HTTP surface: bad input is a 4xx, never a crash or a 500."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
from typing import Any

import cramjam
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.metrics.v1 import metrics_pb2

from services.core.bus import InMemoryBus
from services.core.events import series_key
from services.ingest.app import create_app
from services.ingest.formats import (
    DecodeContext,
    Decoded,
    DecodeError,
    TooManyItems,
    alertmanager,
    label_block,
    native_json,
    otlp_logs,
    otlp_metrics,
    otlp_traces,
    pagerduty,
    remote_write,
)
from services.ingest.formats.prompb import WriteRequest
from services.ingest.routes import ENDPOINTS
from services.ingest.settings import IngestSettings
from tests.unit.ingest_payloads import SPEC_LOGS, SPEC_METRICS, SPEC_TRACES, kv, metrics_request

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

BINARY_DECODERS = [
    otlp_metrics.decode_protobuf,
    otlp_logs.decode_protobuf,
    otlp_traces.decode_protobuf,
    remote_write.decode,
]
JSON_DECODERS = [
    otlp_metrics.decode_json,
    otlp_logs.decode_json,
    otlp_traces.decode_json,
    alertmanager.decode,
    pagerduty.decode,
    native_json.decode_metrics,
    native_json.decode_batch,
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceMetrics",
                    "resourceLogs",
                    "resourceSpans",
                    "scopeMetrics",
                    "metrics",
                    "gauge",
                    "sum",
                    "dataPoints",
                    "asDouble",
                    "timeUnixNano",
                    "traceId",
                    "spanId",
                    "attributes",
                    "key",
                    "value",
                    "version",
                    "alerts",
                    "status",
                    "labels",
                    "startsAt",
                    "points",
                    "name",
                    "routing_key",
                    "event_action",
                    "payload",
                    "logs",
                    "events",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _survives(decoder: Any, payload: Any) -> None:
    try:
        result = decoder(payload, DecodeContext(max_items=1000))
    except (DecodeError, TooManyItems):
        return
    assert isinstance(result, Decoded)
    assert len(result.metric_keys) in (0, len(result.metrics))


@FUZZ
@given(st.binary(max_size=400))
def test_binary_decoders_survive_random_bytes(data: bytes) -> None:
    for decoder in BINARY_DECODERS:
        _survives(decoder, data)


@FUZZ
@given(json_values)
def test_json_decoders_survive_random_json(data: Any) -> None:
    for decoder in JSON_DECODERS:
        _survives(decoder, data)


def _mutations(example: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The spec example with one leaf replaced by something random."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))
        paths.append(path)

    walk(example, ())

    def mutate(path: tuple[Any, ...], value: Any) -> Any:
        import copy

        data = copy.deepcopy(example)
        if not path:
            return value
        node = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return data

    return st.builds(mutate, st.sampled_from(paths), json_values)


@FUZZ
@given(_mutations(SPEC_METRICS), _mutations(SPEC_LOGS), _mutations(SPEC_TRACES))
def test_otlp_json_decoders_survive_mutated_spec_examples(m: Any, lg: Any, tr: Any) -> None:
    _survives(otlp_metrics.decode_json, m)
    _survives(otlp_logs.decode_json, lg)
    _survives(otlp_traces.decode_json, tr)


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)
u64 = st.integers(min_value=0, max_value=2**64 - 1)


@st.composite
def odd_metrics(draw: st.DrawFn) -> bytes:
    """Structurally valid OTLP with hostile numbers: NaN, huge counts, odd buckets, scales."""
    metrics = []
    for i in range(draw(st.integers(1, 4))):
        metric = metrics_pb2.Metric(name=draw(st.text(max_size=5)) or f"m{i}")
        kind = draw(st.sampled_from(["gauge", "sum", "histogram", "exp", "summary"]))
        t, start = draw(u64), draw(u64)
        if kind in ("gauge", "sum"):
            data = metric.gauge if kind == "gauge" else metric.sum
            if kind == "sum":
                metric.sum.is_monotonic = draw(st.booleans())
                metric.sum.aggregation_temporality = draw(st.integers(0, 3))
            dp = data.data_points.add(time_unix_nano=t, start_time_unix_nano=start)
            dp.as_double = draw(finite_or_not)
            dp.attributes.append(kv(draw(st.text(max_size=3)), draw(st.text(max_size=3))))
        elif kind == "histogram":
            metric.histogram.aggregation_temporality = draw(st.integers(0, 3))
            dp = metric.histogram.data_points.add(time_unix_nano=t, start_time_unix_nano=start)
            dp.count, dp.sum = draw(u64), draw(finite_or_not)
            dp.bucket_counts.extend(draw(st.lists(u64, max_size=5)))
            dp.explicit_bounds.extend(draw(st.lists(finite_or_not, max_size=4)))
        elif kind == "exp":
            metric.exponential_histogram.aggregation_temporality = draw(st.integers(0, 3))
            dp = metric.exponential_histogram.data_points.add(time_unix_nano=t)
            dp.scale = draw(st.integers(-(2**31), 2**31 - 1))
            dp.count, dp.zero_count = draw(u64), draw(u64)
            dp.zero_threshold = draw(finite_or_not)
            dp.positive.offset = draw(st.integers(-(2**31), 2**31 - 1))
            dp.positive.bucket_counts.extend(draw(st.lists(u64, max_size=5)))
            dp.negative.offset = draw(st.integers(-(2**31), 2**31 - 1))
            dp.negative.bucket_counts.extend(draw(st.lists(u64, max_size=5)))
        else:
            dp = metric.summary.data_points.add(time_unix_nano=t, count=draw(u64))
            dp.sum = draw(finite_or_not)
            dp.quantile_values.add(quantile=draw(finite_or_not), value=draw(finite_or_not))
        metrics.append(metric)
    return bytes(metrics_request(*metrics).SerializeToString())


@FUZZ
@given(st.lists(odd_metrics(), min_size=1, max_size=3))
def test_metrics_decoder_survives_hostile_numbers_with_state(bodies: list[bytes]) -> None:
    ctx = DecodeContext()
    for body in bodies:  # the same context: cumulative state is exercised across requests
        result = otlp_metrics.decode_protobuf(body, ctx)
        assert all(math.isfinite(p.value) for p in result.metrics)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=4),
            st.lists(st.tuples(finite_or_not, st.integers(-(2**63), 2**63 - 1)), max_size=3),
        ),
        max_size=4,
    )
)
def test_remote_write_decoder_survives_hostile_series(series: list[Any]) -> None:
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in labels.items():
            ts.labels.add(name=name, value=value)
        ts.labels.add(name="__name__", value="x_total")
        for value, ms in samples:
            ts.samples.add(value=value, timestamp=ms)
    ctx = DecodeContext()
    for _ in range(2):
        result = remote_write.decode(request.SerializeToString(), ctx)
        assert all(math.isfinite(p.value) for p in result.metrics)


@FUZZ
@given(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=6), st.text(max_size=8))
def test_label_block_is_the_series_key_suffix(labels: dict[str, str], name: str) -> None:
    assert name + label_block(labels) == series_key(name, labels)


APP = create_app(IngestSettings(ingest_max_body_bytes=4096), InMemoryBus(keep_last=10))
CONTENT_TYPES = [
    "application/x-protobuf",
    "application/json",
    "text/plain",
    "",
    "application/json; charset=utf-8",
]
ENCODINGS = ["", "gzip", "snappy", "deflate", "br"]


def _encode(body: bytes, encoding: str, valid: bool) -> bytes:
    if not valid:
        return body
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "snappy":
        return bytes(cramjam.snappy.compress_raw(body))
    return body


@FUZZ
@given(
    st.sampled_from([e.path for e in ENDPOINTS]),
    st.sampled_from(CONTENT_TYPES),
    st.sampled_from(ENCODINGS),
    st.booleans(),
    st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
)
def test_http_never_answers_500(path: str, ctype: str, enc: str, valid: bool, body: bytes) -> None:
    headers = {"Content-Type": ctype, "Content-Encoding": enc}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            return await client.post(path, content=_encode(body, enc, valid), headers=headers)

    response = asyncio.run(go())
    assert response.status_code < 500, (response.status_code, response.text)
