"""What the three OTLP signals share: attributes, resources, ids, and the JSON encoding.

OTLP/JSON is the protobuf JSON mapping with two differences the spec makes: trace and span ids
are hex strings (not base64), and enums may be given as integers. We turn hex ids into base64,
then let protobuf's own JSON parser build the same message the binary encoding would, so both
encodings share one decoding path. Unknown fields are ignored, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from services.ingest.formats import DecodeError

M = TypeVar("M", bound=Message)

ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
ID_FIELDS.update({"trace_id": 16, "span_id": 8, "parent_span_id": 8})
MAX_JSON_DEPTH = 64


def parse_protobuf(cls: type[M], body: bytes) -> M:
    """Parse a binary protobuf message, or raise DecodeError."""
    try:
        return cls.FromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError("body", f"not a valid {cls.__name__} protobuf ({exc})") from None


def parse_json(cls: type[M], body: bytes | Any) -> M:
    """Parse OTLP/JSON (bytes, or an already parsed object) into the protobuf message."""
    try:
        data = json.loads(body) if isinstance(body, bytes | bytearray | str) else body
    except (ValueError, RecursionError) as exc:
        raise DecodeError("body", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DecodeError("body", "expected a JSON object")
    _hex_ids_to_base64(data, "", 0)
    message = cls()
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True, max_recursion_depth=64)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError("body", _short(str(exc))) from None
    return message


def _hex_ids_to_base64(node: Any, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise DecodeError(path or "body", "JSON nested too deeply")
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            size = ID_FIELDS.get(key)
            if size is not None and isinstance(value, str):
                node[key] = _hex_to_base64(value, size, where)
            elif isinstance(value, dict | list):
                _hex_ids_to_base64(value, where, depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict | list):
                _hex_ids_to_base64(value, f"{path}[{i}]", depth + 1)


def _hex_to_base64(value: str, size: int, where: str) -> str:
    if value == "":
        return ""
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise DecodeError(where, f"{value[:40]!r} is not a hex id") from None
    if len(raw) != size:
        raise DecodeError(where, f"a hex id of {size} bytes is expected, got {len(raw)}")
    return base64.b64encode(raw).decode()


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def any_value_to_str(value: AnyValue) -> str:
    """An attribute value as a label string (arrays and maps as compact JSON)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    return _plain_to_str(_to_plain(value, 0))


def _plain_to_str(plain: Any) -> str:
    if isinstance(plain, str):
        return plain
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, float) and not math.isfinite(plain):
        return str(plain)
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)


def _to_plain(value: AnyValue, depth: int) -> Any:
    kind = value.WhichOneof("value")
    if kind is None or depth > MAX_JSON_DEPTH:
        return None
    if kind == "array_value":
        return [_to_plain(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _to_plain(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "double_value" and not math.isfinite(value.double_value):
        return str(value.double_value)
    return getattr(value, kind)


def attributes(kvs: Any, into: dict[str, str]) -> dict[str, str]:
    """Add OTLP attributes (a repeated KeyValue) to `into` as strings; returns `into`."""
    # Fast path: every value a non-empty string (string_value is "" for any other kind).
    fast = {kv.key: kv.value.string_value for kv in kvs}
    if "" in fast.values():
        kv: KeyValue
        for kv in kvs:
            fast[kv.key] = any_value_to_str(kv.value)
    into.update(fast)
    return into


def resource_labels(resource_attributes: Any, scope_attributes: Any = ()) -> dict[str, str]:
    """Labels every point of a resource/scope carries; `service.name` becomes `service`."""
    labels = attributes(resource_attributes, {})
    attributes(scope_attributes, labels)
    service = labels.pop("service.name", None)
    if service is not None:
        labels["service"] = service
    return labels


def hex_id(raw: bytes) -> str | None:
    """A trace or span id as lowercase hex; None when absent (empty or all zero)."""
    if not raw or not any(raw):
        return None
    return raw.hex()
