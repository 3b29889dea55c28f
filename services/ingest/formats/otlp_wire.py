"""A faster reading of OTLP metrics: data-point attributes kept as their wire bytes.

Decoding every attribute of every data point into protobuf objects is the largest cost of
OTLP metrics ingest. The same attribute sets recur across the metrics of an export (and
across exports), so this module parses requests with a *shadow* of the official descriptors
in which the data points' `attributes` field is declared `repeated bytes` instead of
`repeated KeyValue`: the wire format is the same (length-delimited), so the shadow reads any
valid request. Each attribute's bytes are decoded once (with the official KeyValue class) and
cached; a data point's whole label set is cached by the tuple of its attribute bytes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message_factory import GetMessageClass
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from services.ingest.formats import DecodeError, label_block
from services.ingest.formats.otlp_common import any_value_to_str

_POINTS = {
    "NumberDataPoint",
    "HistogramDataPoint",
    "ExponentialHistogramDataPoint",
    "SummaryDataPoint",
}
MAX_CACHED = 200_000


def _shadow_request_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, metrics_pb2, metrics_service_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file)
        for message in file.message_type:
            if message.name in _POINTS:
                for field in message.field:
                    if field.name == "attributes":
                        field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                        field.ClearField("type_name")
        pool.Add(file)
    name = "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"
    return GetMessageClass(pool.FindMessageTypeByName(name))


ShadowMetricsRequest: Any = _shadow_request_class()

_pairs: dict[bytes, tuple[str, str]] = {}


def parse(body: bytes) -> Any:
    """Parse a binary export request into the shadow message."""
    try:
        return ShadowMetricsRequest.FromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError(
            "body", f"not a valid ExportMetricsServiceRequest protobuf ({exc})"
        ) from None


def from_official(request: metrics_service_pb2.ExportMetricsServiceRequest) -> Any:
    """The shadow of an official message (for JSON, which protobuf parses into the official)."""
    return ShadowMetricsRequest.FromString(request.SerializeToString())


def _pair(raw: bytes) -> tuple[str, str]:
    pair = _pairs.get(raw)
    if pair is None:
        try:
            kv = KeyValue.FromString(raw)
        except (ProtobufDecodeError, RecursionError, ValueError) as exc:
            raise DecodeError("dataPoints.attributes", f"not a valid KeyValue ({exc})") from None
        pair = (kv.key, any_value_to_str(kv.value))
        if len(_pairs) >= MAX_CACHED:
            _pairs.clear()
        _pairs[raw] = pair
    return pair


class LabelSets:
    """The labels of the data points of one scope: base labels plus each point's attributes."""

    def __init__(self, base: dict[str, str]) -> None:
        self.base = base
        # raw attributes -> (labels, block); hot loops look here first, then call `of`
        self.known: dict[tuple[bytes, ...], tuple[dict[str, str], str]] = {}

    def of(self, attributes: Any) -> tuple[dict[str, str], str]:
        """(labels, label block) for a point's raw attributes; the dict must not be mutated."""
        raw = tuple(attributes)
        found = self.known.get(raw)
        if found is None:
            labels = self.base.copy()
            for item in raw:
                key, value = _pair(item)
                labels[key] = value
            found = self.known[raw] = (labels, label_block(labels))
        return found
