"""The fallback for lines no other decoder recognises: the whole line is the
message of a log (or security) event. Binary payloads (NUL bytes) are dead letters."""

from __future__ import annotations

from schemas.errors import DecodeError
from streams.ingest.decoders.base import DecodeContext, Decoded, utf8


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    if "\x00" in text:
        raise DecodeError("decode_error", "binary payload (NUL bytes) in a text record")
    if ctx.stream == "metrics":
        raise DecodeError("decode_error", "unrecognised text on a metrics stream")
    return [Decoded(None, {"message": text}, {"sluice.format": "text"})]
