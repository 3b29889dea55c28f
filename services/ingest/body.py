"""Reading request bodies within limits: content type, size, and decompression.

Limits apply twice: to the body as sent (`max_body_bytes`) and after decompression
(`max_decompressed_bytes`), so a small gzip or snappy bomb is a 413, never a memory spike.
Snappy is the block format (as Prometheus sends it), whose header declares the uncompressed
length: it is checked before anything is decompressed.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import cramjam

from services.ingest.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_ALIASES = {"application/protobuf": PROTOBUF, "application/x-protobuf": PROTOBUF, JSON: JSON}
ENCODINGS = ("", "identity", "gzip", "x-gzip", "deflate", "snappy")
SNAPPY_FRAMED_MAGIC = b"\xff\x06\x00\x00sNaPpY"


def media_type(content_type: str | None) -> str:
    """The media type without parameters, lower case; protobuf aliases folded."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return MEDIA_ALIASES.get(media, media)


def require_media(content_type: str | None, allowed: tuple[str, ...]) -> str:
    """The request's media type if it is one of `allowed`, else a 415."""
    media = media_type(content_type)
    if media not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not supported here; use {' or '.join(allowed)}"
        )
    return media


def check_encoding(content_encoding: str | None) -> str:
    """The request's content coding if supported, else a 415."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or snappy"
        )
    return encoding


async def read_limited(
    chunks: AsyncIterator[bytes], declared_length: str | None, max_bytes: int
) -> bytes:
    """The whole body, or a 413 as soon as it is known to be larger than `max_bytes`."""
    if declared_length and declared_length.isdigit() and int(declared_length) > max_bytes:
        raise PayloadTooLarge(f"body larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"body larger than {max_bytes} bytes")
    return bytes(body)


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """The body with its content coding removed, at most `max_bytes` long."""
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(body, max_bytes, encoding)
    return snappy_block(body, max_bytes)


def _inflate(body: bytes, max_bytes: int, encoding: str) -> bytes:
    out = bytearray()
    data = body
    try:
        while data:
            # wbits 47: gzip or zlib header, detected; raw deflate is tried below.
            inflater = zlib.decompressobj(wbits=47)
            out += inflater.decompress(data, max_bytes + 1 - len(out))
            if len(out) > max_bytes or inflater.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed body larger than {max_bytes} bytes")
            if not inflater.eof:
                raise BadRequest(f"{encoding} body is truncated")
            data = inflater.unused_data  # a further gzip member
    except zlib.error as exc:
        if encoding == "deflate" and not out:
            return _raw_deflate(body, max_bytes)
        raise BadRequest(f"body is not valid {encoding} data ({exc})") from None
    return bytes(out)


def _raw_deflate(body: bytes, max_bytes: int) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits=-15)
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid deflate data ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"decompressed body larger than {max_bytes} bytes")
    return out


def snappy_block(body: bytes, max_bytes: int) -> bytes:
    """Decompress snappy block format (not the framed format), checking the size first."""
    if body.startswith(SNAPPY_FRAMED_MAGIC):
        raise BadRequest("snappy framed format is not supported; send the block format")
    length, shift = 0, 0
    for i, byte in enumerate(body[:5]):
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
        if i == 4:
            raise BadRequest("body is not valid snappy data (bad length header)")
    else:
        raise BadRequest("body is not valid snappy data (empty)")
    if length > max_bytes:
        raise PayloadTooLarge(f"decompressed body larger than {max_bytes} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # noqa: BLE001 - cramjam raises its own DecompressionError
        raise BadRequest(f"body is not valid snappy data ({exc})") from None
