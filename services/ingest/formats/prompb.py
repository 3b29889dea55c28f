"""Prometheus remote_write 1.0 messages (prompb), declared in code instead of generated.

The subset of prometheus/prompb `remote.proto` and `types.proto` that a receiver needs, with
the same field numbers and types: WriteRequest{timeseries=1, metadata=3}, TimeSeries{labels=1,
samples=2, exemplars=3, histograms=4}, Label, Sample, Exemplar, MetricMetadata. Native
histograms are declared without fields: they are counted and refused, not decoded. The classes
live in private descriptor pools, so they never clash with another copy of prompb.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "prometheus"

# message -> [(field name, number, type, repeated, message type)]
_MESSAGES: dict[str, list[tuple[str, int, int, bool, str]]] = {
    "Label": [("name", 1, _F.TYPE_STRING, False, ""), ("value", 2, _F.TYPE_STRING, False, "")],
    "Sample": [
        ("value", 1, _F.TYPE_DOUBLE, False, ""),
        ("timestamp", 2, _F.TYPE_INT64, False, ""),
    ],
    "Exemplar": [
        ("labels", 1, _F.TYPE_MESSAGE, True, "Label"),
        ("value", 2, _F.TYPE_DOUBLE, False, ""),
        ("timestamp", 3, _F.TYPE_INT64, False, ""),
    ],
    "Histogram": [],
    "TimeSeries": [
        ("labels", 1, _F.TYPE_MESSAGE, True, "Label"),
        ("samples", 2, _F.TYPE_MESSAGE, True, "Sample"),
        ("exemplars", 3, _F.TYPE_MESSAGE, True, "Exemplar"),
        ("histograms", 4, _F.TYPE_MESSAGE, True, "Histogram"),
    ],
    "MetricMetadata": [
        ("type", 1, _F.TYPE_INT32, False, ""),  # an enum on the wire: varint
        ("metric_family_name", 2, _F.TYPE_STRING, False, ""),
        ("help", 4, _F.TYPE_STRING, False, ""),
        ("unit", 5, _F.TYPE_STRING, False, ""),
    ],
    "WriteRequest": [
        ("timeseries", 1, _F.TYPE_MESSAGE, True, "TimeSeries"),
        ("metadata", 3, _F.TYPE_MESSAGE, True, "MetricMetadata"),
    ],
}

# MetricMetadata.MetricType
COUNTER, GAUGE, HISTOGRAM, GAUGEHISTOGRAM, SUMMARY = 1, 2, 3, 4, 5


def _build(raw_series_labels: bool = False) -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="vigil/prompb/remote.proto", package=PACKAGE, syntax="proto3"
    )
    for message, fields in _MESSAGES.items():
        declared = file.message_type.add(name=message)
        for name, number, kind, repeated, type_name in fields:
            if raw_series_labels and (message, name) == ("TimeSeries", "labels"):
                kind, type_name = _F.TYPE_BYTES, ""  # same wire format: length-delimited
            field = declared.field.add(name=name, number=number, type=kind)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if type_name:
                field.type_name = f".{PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}")) for name in _MESSAGES
    }


_CLASSES = _build()
WriteRequest: Any = _CLASSES["WriteRequest"]
TimeSeries: Any = _CLASSES["TimeSeries"]
Label: Any = _CLASSES["Label"]
Sample: Any = _CLASSES["Sample"]
MetricMetadata: Any = _CLASSES["MetricMetadata"]

# The receiver's reading of a WriteRequest: each series' labels kept as their wire bytes, so
# the label sets of series seen before (every scrape repeats them) are looked up, not decoded
# (see remote_write.py). Any valid WriteRequest parses the same with either class.
ShadowWriteRequest: Any = _build(raw_series_labels=True)["WriteRequest"]
