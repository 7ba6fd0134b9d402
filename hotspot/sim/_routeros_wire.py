"""RouterOS API framing: length-prefixed words, sentences ended by a zero-length word.

Kept apart from the simulator so the encoder/decoder can be checked against librouteros' own
test vectors without a socket. The router side must accept every length form a client may send
(1-5 bytes) but only ever send 1-4 byte forms, because librouteros cannot decode the fifth.
"""

from __future__ import annotations

__all__ = [
    "MAX_WORD",
    "FramingError",
    "SentenceDecoder",
    "decode_length",
    "encode_length",
    "encode_sentence",
    "encode_word",
    "length_size",
]

# A router refuses absurd words rather than buffering them; 16 MiB is far above any real sentence.
MAX_WORD = 16 * 1024 * 1024


class FramingError(Exception):
    """The peer sent bytes that cannot be a word (a reserved control byte or a huge length)."""


def encode_length(length: int) -> bytes:
    """Encode a word length the way RouterOS does (big-endian, 1-4 bytes; 5 only for >= 256 MiB)."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length <= 0xFFFFFFFF:
        return b"\xf0" + length.to_bytes(4, "big")
    raise ValueError(f"length {length} does not fit the API's 5-byte form")


def length_size(first: int) -> int:
    """How many bytes the length prefix starting with `first` occupies (1-5)."""
    if first < 0x80:
        return 1
    if first < 0xC0:
        return 2
    if first < 0xE0:
        return 3
    if first < 0xF0:
        return 4
    if first == 0xF0:
        return 5
    raise FramingError(f"reserved control byte 0x{first:02X}")


def decode_length(prefix: bytes) -> int:
    """Decode a complete length prefix (as sized by length_size)."""
    size = length_size(prefix[0])
    if len(prefix) != size:
        raise FramingError(f"length prefix needs {size} bytes, got {len(prefix)}")
    if size == 1:
        return prefix[0]
    if size == 5:
        return int.from_bytes(prefix[1:], "big")
    mask = {2: 0x8000, 3: 0xC00000, 4: 0xE0000000}[size]
    return int.from_bytes(prefix, "big") ^ mask


def encode_word(word: str, encoding: str = "utf-8") -> bytes:
    data = word.encode(encoding)
    if len(data) >= 0x10000000:
        raise ValueError("a reply word must stay below 256 MiB (librouteros has no 5-byte form)")
    return encode_length(len(data)) + data


def encode_sentence(words: list[str] | tuple[str, ...], encoding: str = "utf-8") -> bytes:
    return b"".join(encode_word(word, encoding) for word in words) + b"\x00"


class SentenceDecoder:
    """Turns a byte stream into sentences, whatever the read boundaries are.

    A client may send half a word per read, or several sentences in one; a 0x00 byte only ends a
    sentence where a length is expected (a 256-byte word starts `81 00`). Empty sentences are
    dropped, as the router ignores them.
    """

    def __init__(self, encoding: str = "utf-8", max_word: int = MAX_WORD) -> None:
        self._buffer = bytearray()
        self._words: list[str] = []
        self._encoding = encoding
        self._max_word = max_word

    @property
    def pending(self) -> bool:
        """True while a sentence has started but not ended (bytes or words held back)."""
        return bool(self._buffer or self._words)

    def feed(self, data: bytes) -> list[list[str]]:
        self._buffer += data
        buffer = self._buffer
        sentences: list[list[str]] = []
        pos = 0
        while pos < len(buffer):
            size = length_size(buffer[pos])
            if pos + size > len(buffer):
                break
            length = decode_length(bytes(buffer[pos : pos + size]))
            if length > self._max_word:
                raise FramingError(f"word of {length} bytes is too long")
            end = pos + size + length
            if end > len(buffer):
                break
            if length == 0:
                if self._words:
                    sentences.append(self._words)
                self._words = []
            else:
                self._words.append(bytes(buffer[pos + size : end]).decode(self._encoding, "replace"))
            pos = end
        del buffer[:pos]
        return sentences
