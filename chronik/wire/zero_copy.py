"""Decode Produce record sets as memoryviews into the request frame.

kafka-python copies every `records` field into a new bytes object. On the
produce path that copy (and the fresh pages it touches) costs more than
everything else the broker does with the bytes, and the broker then needs
a mutable buffer to patch baseOffset anyway. The request frame is already
a bytearray the broker owns, so for ProduceRequest we decode `records` as
a writable slice of it: no copy, patched in place, written to the file.

Only the broker's ProduceRequest field is switched; kafka-python's client
side (used by the CLI and tests) keeps its bytes.
"""

from __future__ import annotations

from kafka.protocol.producer.produce import ProduceRequest
from kafka.protocol.schemas.fields.codecs import Bytes, UnsignedVarInt32


class RecordsView(Bytes):
    @classmethod
    def emit_decode_from(cls, ctx, var_name, indent, compact=False):
        ln = ctx.next_var("ln")
        if compact:
            UnsignedVarInt32.emit_decode_from(ctx, ln, indent)
            ctx.emit(indent, f"{ln} -= 1")
        else:
            ctx.emit(indent, f'{ln} = unpack_from(">i", data, pos)[0]')
            ctx.emit(indent, "pos += 4")
        ctx.emit(indent, f"if {ln} < 0:")
        ctx.emit(indent, f"    {var_name} = None")
        ctx.emit(indent, "else:")
        ctx.emit(indent, f"    if pos + {ln} > len(data): raise ValueError('records run past the frame')")
        ctx.emit(indent, f"    {var_name} = data[pos:pos+{ln}]")
        ctx.emit(indent, f"    pos += {ln}")


def _find(struct, path: list[str]):
    field = next(f for f in struct.untagged_fields(ProduceRequest.max_version) if f.name == path[0])
    if len(path) == 1:
        return field
    return _find(field.array_of, path[1:])


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    field = _find(ProduceRequest._struct, ["topic_data", "partition_data", "records"])
    field._type = RecordsView
    # Decoders compile lazily and are cached per version; drop any built before us.
    ProduceRequest._struct._compiled_encoders.clear()
    _installed = True
