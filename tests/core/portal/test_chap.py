"""HotSpot HTTP-CHAP helpers: expected values are computed here with hashlib over explicit bytes."""

from __future__ import annotations

import hashlib

import pytest

from hotspot.portal.chap import chap_response, login_fields, unescape_octal

# The shape RouterOS renders: every byte as \ooo (a 1-byte id, a 16-byte challenge).
CHAP_ID_BYTES = b"\xf9"
CHALLENGE_BYTES = bytes.fromhex("ef0dd8003c7f80ff10204060a5c35a99")
CHAP_ID = "\\371"
# Written out by hand, not generated from the bytes.
CHALLENGE = "\\357\\015\\330\\000\\074\\177\\200\\377\\020\\040\\100\\140\\245\\303\\132\\231"


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_octal_literals_become_bytes() -> None:
    assert unescape_octal(CHAP_ID) == CHAP_ID_BYTES
    assert unescape_octal(CHALLENGE) == CHALLENGE_BYTES
    assert len(unescape_octal(CHALLENGE)) == 16
    assert unescape_octal("") == b""


def test_every_byte_value_round_trips_through_routeros_escaping() -> None:
    everything = bytes(range(256))
    assert unescape_octal("".join(f"\\{b:03o}" for b in everything)) == everything


def test_printable_characters_and_other_escapes_mix_in() -> None:
    assert unescape_octal("a\\101b") == b"aAb"
    assert unescape_octal("\\\\x\\\"y\\'z") == b"\\x\"y'z"
    assert unescape_octal("\\n\\r\\t\\b\\f\\v") == b"\n\r\t\b\f\v"
    assert unescape_octal("\\x41\\xfF\\u00e9") == b"A\xff\xe9"
    assert unescape_octal(' !"~') == b' !"~'


def test_octal_escapes_are_read_like_javascript() -> None:
    assert unescape_octal("\\0") == b"\x00"
    assert unescape_octal("\\7a") == b"\x07a"
    assert unescape_octal("\\12") == b"\n"
    assert unescape_octal("\\1234") == b"S4"  # at most three digits
    assert unescape_octal("\\400") == b" 0"  # \4.. takes two digits at most: \40 then "0"
    assert unescape_octal("\\08") == b"\x008"


@pytest.mark.parametrize(
    ("garbage", "why"),
    [
        ("\\", "lone backslash"),
        ("\\371\\", "lone backslash"),
        ("\\q", "unknown escape"),
        ("\\8", "unknown escape"),
        ("\\x4", "bad \\x"),
        ("\\xzz", "bad \\x"),
        ("\\u0100", "not a byte"),
        ("\\u12", "bad \\u"),
        ("\u00e9", "unexpected character"),  # re-encoded on the way: refuse rather than hash it
        ("\n", "unexpected character"),
        ("\x7f", "unexpected character"),
    ],
)
def test_garbage_raises_a_clear_error(garbage: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("\\", "\\\\")):
        unescape_octal(garbage)


def test_chap_response_is_md5_of_id_password_challenge() -> None:
    expected = md5hex(CHAP_ID_BYTES + b"s3cret" + CHALLENGE_BYTES)
    got = chap_response(CHAP_ID, "s3cret", CHALLENGE)
    assert got == expected
    assert got == got.lower() and len(got) == 32


def test_chap_response_with_printable_characters_in_the_literals() -> None:
    # A literal that mixes raw characters and escapes stands for the same bytes as all-octal.
    assert chap_response("A", "pw", "a\\102c") == md5hex(b"A" + b"pw" + b"aBc")
    assert chap_response("\\101", "pw", "\\141\\102\\143") == md5hex(b"ApwaBc")


def test_password_characters_are_bytes_like_mikrotik_md5_js() -> None:
    # md5.js takes charCodeAt(i) & 0xFF for every character of the JS string.
    assert chap_response(CHAP_ID, "caf\u00e9", CHALLENGE) == md5hex(
        CHAP_ID_BYTES + b"caf\xe9" + CHALLENGE_BYTES
    )
    assert chap_response(CHAP_ID, "\u20ac", CHALLENGE) == md5hex(CHAP_ID_BYTES + b"\xac" + CHALLENGE_BYTES)
    assert chap_response(CHAP_ID, "", CHALLENGE) == md5hex(CHAP_ID_BYTES + CHALLENGE_BYTES)


def test_chap_response_rejects_values_that_cannot_be_a_router_challenge() -> None:
    with pytest.raises(ValueError, match="one byte"):
        chap_response("\\371\\372", "pw", CHALLENGE)
    with pytest.raises(ValueError, match="one byte"):
        chap_response("", "pw", CHALLENGE)
    with pytest.raises(ValueError, match="empty"):
        chap_response(CHAP_ID, "pw", "")
    with pytest.raises(ValueError, match="unknown escape"):
        chap_response(CHAP_ID, "pw", "\\q")


def test_login_fields_chap_when_the_router_gave_a_challenge() -> None:
    fields = login_fields(
        "VCH8K2", "s3cret", chap_id=CHAP_ID, chap_challenge=CHALLENGE, dst="http://neverssl.com/"
    )
    assert fields == {
        "username": "VCH8K2",
        "password": md5hex(CHAP_ID_BYTES + b"s3cret" + CHALLENGE_BYTES),
        "dst": "http://neverssl.com/",
        "popup": "true",
    }


@pytest.mark.parametrize(
    ("chap_id", "chap_challenge"),
    [(None, None), ("", ""), (CHAP_ID, None), (None, CHALLENGE), (CHAP_ID, "")],
)
def test_login_fields_plain_password_without_a_full_challenge(
    chap_id: str | None, chap_challenge: str | None
) -> None:
    fields = login_fields("VCH8K2", "s3cret", chap_id=chap_id, chap_challenge=chap_challenge, dst=None)
    assert fields == {"username": "VCH8K2", "password": "s3cret", "popup": "true"}


def test_login_fields_leaves_out_an_empty_dst() -> None:
    fields = login_fields("u", "p", chap_id=None, chap_challenge=None, dst="")
    assert "dst" not in fields
