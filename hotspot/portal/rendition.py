"""A page rendered once and served many times, with a few holes filled in per request.

Why: the landing page is the same for every new phone but for its request id (the `<meta
name="request-id">` and the footer's "ref") and the router's redirect (hidden inputs of the buy
form). Rendering it with Jinja and gzipping it costs ~1.5 ms a request; filling holes in bytes
made in advance costs a few microseconds.

How the gzip body is made without compressing anything per request: the page is deflated once,
the deflate stream flushed to a byte boundary on both sides of every hole, and per request each
hole becomes a "stored" (uncompressed) deflate block holding its value.

* A fixed hole (always `size` bytes, like a request id) is deflated as a placeholder, whose
  compressed bytes are thrown away (sync flushes around it). The text after it may still point
  back at text before it: distances do not change, as the hole keeps its length. Nothing can
  point into the hole: placeholders are made of control bytes (PLACEHOLDER_BYTES) that never
  occur in the page (checked), and a match needs equal bytes.
* A variable hole is preceded by a full flush: the compressor forgets everything before it, so
  no distance crosses it. It costs some compression of the text after it; put it late.

The CRC-32 of the body is combined from the pieces' CRCs made in advance and the holes' own
(`_Shift`), so the per-request work is proportional to the holes, not to the page.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["PLACEHOLDER_BYTES", "Hole", "Rendition", "RenditionError"]

# What placeholders are made of: control characters a page never contains (checked when made).
PLACEHOLDER_BYTES = "\x01\x02\x03\x04"
_PLACEHOLDER = re.compile(rb"[\x01-\x04]+")
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0, max compression
_MAX_STORED = 0xFFFF
_STORED_HEADER = struct.Struct("<BHH").pack  # a final-bit-clear stored block: 0, LEN, NLEN
_TRAILER = struct.Struct("<II").pack  # gzip's CRC-32 and ISIZE


class RenditionError(ValueError):
    """The page cannot be served from holes (a placeholder was altered, or a value is the wrong size)."""


@dataclass(frozen=True)
class Hole:
    """A per-request value drawn into the page as `placeholder` (a run of PLACEHOLDER_BYTES).

    `fixed`: every value has the placeholder's length in bytes (see the module docstring). Two
    holes must not be drawn next to each other: they would read as one run."""

    name: str
    placeholder: str
    fixed: bool = True

    def __post_init__(self) -> None:
        if not self.placeholder or self.placeholder.strip(PLACEHOLDER_BYTES):
            raise ValueError(f"{self.name}: a placeholder is a run of PLACEHOLDER_BYTES")

    @property
    def size(self) -> int:
        return len(self.placeholder.encode())


class _Shift:
    """crc32(A + B) from crc32(A) and crc32(B) when len(B) is known in advance.

    CRC-32 is affine in its input: crc32(A + B) = Z(crc32(A)) ^ crc32(B), where Z, feeding
    len(B) zero bytes through the bare register, is linear: kept as four 256-entry tables, one
    per byte of the CRC. (zlib has crc32_combine; Python's zlib does not offer it.)"""

    def __init__(self, length: int) -> None:
        zeros = bytes(length)
        # zlib.crc32(zeros, c) = Z(c ^ ~0) ^ ~0 for the linear map Z, so Z(r) = crc32(zeros, r ^ ~0) ^ ~0.
        self._tables = [
            [zlib.crc32(zeros, (b << (8 * k)) ^ 0xFFFFFFFF) ^ 0xFFFFFFFF for b in range(256)]
            for k in range(4)
        ]

    def __call__(self, crc: int, crc_of_next: int) -> int:
        t0, t1, t2, t3 = self._tables
        return t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF] ^ t3[crc >> 24] ^ crc_of_next


@lru_cache(maxsize=64)
def _shift(length: int) -> _Shift:
    """Renditions of one page (one per request id length) share their pieces' lengths."""
    return _Shift(length)


@dataclass(frozen=True)
class Rendition:
    """Static pieces (identity and deflated) around named holes, in page order."""

    pieces: tuple[bytes, ...]  # len(holes) + 1
    deflated: tuple[bytes, ...]  # each piece as raw deflate, byte-aligned; the last one ends the stream
    holes: tuple[Hole, ...]
    crcs: tuple[int, ...]  # crc32 of each piece
    shifts: tuple[_Shift, ...]  # per hole: shifts a CRC over the piece that follows it
    size: int  # bytes of the page outside its holes

    @classmethod
    def build(cls, page: str, holes: Mapping[str, Hole]) -> Rendition:
        """Split `page` at the placeholders of `holes` (each may occur any number of times)."""
        data = page.encode()
        by_bytes = {hole.placeholder.encode(): hole for hole in holes.values()}
        pieces: list[bytes] = []
        order: list[Hole] = []
        start = 0
        for match in _PLACEHOLDER.finditer(data):
            hole = by_bytes.get(match.group())
            if hole is None:
                raise RenditionError(f"unexpected control bytes at {match.start()}: {match.group()!r}")
            pieces.append(data[start : match.start()])
            order.append(hole)
            start = match.end()
        pieces.append(data[start:])
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        deflated: list[bytes] = []
        for piece, hole in zip(pieces, order, strict=False):
            if hole.fixed:
                deflated.append(compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH))
                compressor.compress(hole.placeholder.encode())
                compressor.flush(zlib.Z_SYNC_FLUSH)  # the placeholder's blocks: replaced per request
            else:
                deflated.append(compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH))
        deflated.append(compressor.compress(pieces[-1]) + compressor.flush(zlib.Z_FINISH))
        return cls(
            tuple(pieces),
            tuple(deflated),
            tuple(order),
            tuple(zlib.crc32(piece) for piece in pieces),
            tuple(_shift(len(piece)) for piece in pieces[1:]),
            sum(len(piece) for piece in pieces),
        )

    def _filled(self, values: Mapping[str, bytes]) -> list[bytes]:
        filled = [values[hole.name] for hole in self.holes]
        for hole, value in zip(self.holes, filled, strict=True):
            if hole.fixed and len(value) != hole.size:
                raise RenditionError(f"{hole.name}: {len(value)} bytes for a hole of {hole.size}")
            if len(value) > _MAX_STORED:
                raise RenditionError(f"{hole.name}: {len(value)} bytes is more than one stored block")
        return filled

    def body(self, values: Mapping[str, bytes]) -> bytes:
        """The page as it is (no Content-Encoding)."""
        filled = self._filled(values)
        parts = [self.pieces[0]]
        for value, piece in zip(filled, self.pieces[1:], strict=True):
            parts += (value, piece)
        return b"".join(parts)

    def gzip(self, values: Mapping[str, bytes]) -> bytes:
        """The page gzipped: the deflated pieces, each hole as a stored block, CRC and length."""
        filled = self._filled(values)
        parts = [_GZIP_HEADER, self.deflated[0]]
        crc = self.crcs[0]
        size = self.size
        for value, deflated, crc_of_next, shift in zip(
            filled, self.deflated[1:], self.crcs[1:], self.shifts, strict=True
        ):
            parts += (_STORED_HEADER(0, len(value), len(value) ^ 0xFFFF), value, deflated)
            crc = shift(zlib.crc32(value, crc), crc_of_next)
            size += len(value)
        parts.append(_TRAILER(crc, size & 0xFFFFFFFF))
        return b"".join(parts)
