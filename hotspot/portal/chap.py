"""HotSpot HTTP-CHAP for the fallback login: the browser logs itself in at the router.

When the appliance cannot log a paid device in over the API it sends the browser back to the
router's `link-login-only` with the credentials. By default a HotSpot only accepts HTTP-CHAP
(`login-by=http-chap,cookie`): the password field must then be what the router's own login page
computes in JavaScript,

    hexMD5('$(chap-id)' + password + '$(chap-challenge)')

where `$(chap-id)` (1 byte) and `$(chap-challenge)` (16 bytes) are rendered by RouterOS as
octal-escaped JavaScript string literals (`\\371`, `\\357\\015\\330...`). Our router page hands them
to the portal exactly as rendered, so the portal has to read them the way a browser's JavaScript
engine would and hash like MikroTik's `md5.js`, which takes each character's code `& 0xFF` as one
byte. The three functions here do that, with no I/O, so they can be tested against vectors.
"""

from __future__ import annotations

import hashlib

__all__ = ["chap_response", "login_fields", "unescape_octal"]

_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"
# Single-character JavaScript escapes. RouterOS only emits octal ones, but a page or proxy that
# re-escapes the literal may produce these, and they are unambiguous.
_SIMPLE_ESCAPES = {
    "\\": 0x5C,
    '"': 0x22,
    "'": 0x27,
    "n": 0x0A,
    "r": 0x0D,
    "t": 0x09,
    "b": 0x08,
    "f": 0x0C,
    "v": 0x0B,
}


def unescape_octal(value: str) -> bytes:
    """The bytes a RouterOS `$(chap-id)`/`$(chap-challenge)` literal stands for.

    RouterOS escapes every byte as `\\ooo`; this reads that the way a browser reads the literal in
    the stock login page (JavaScript's legacy octal escapes: `\\0`-`\\377`, greedy up to three
    digits, so `\\400` is `\\40` followed by `0`), plus `\\\\`, `\\"`, `\\'`, the one-letter escapes
    (`\\n`, `\\t`, ...), `\\xHH` and `\\uHHHH` up to 0xFF, and literal printable ASCII characters.

    Anything else raises ValueError rather than silently hashing different bytes: a non-ASCII
    literal means the value was re-encoded on its way here (a UTF-8/Latin-1 mix-up would give a
    wrong CHAP response the router rejects with a confusing "invalid username or password"), and
    an unknown escape or a trailing backslash means it was cut or mangled.
    """
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char != "\\":
            if not " " <= char <= "~":
                raise ValueError(
                    f"unexpected character {char!r} at position {i} in CHAP value {value!r}: "
                    "RouterOS escapes every byte as \\ooo"
                )
            out.append(ord(char))
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError(f"CHAP value {value!r} ends with a lone backslash")
        escape = value[i + 1]
        if escape in _OCTAL:
            # JavaScript: [0-3][0-7][0-7] or [0-7][0-7] or [0-7], longest match first.
            limit = 3 if escape in "0123" else 2
            j = i + 1
            while j < n and j - (i + 1) < limit and value[j] in _OCTAL:
                j += 1
            out.append(int(value[i + 1 : j], 8))
            i = j
        elif escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif escape in "xu":
            width = 2 if escape == "x" else 4
            digits = value[i + 2 : i + 2 + width]
            if len(digits) != width or any(d not in _HEX for d in digits):
                raise ValueError(f"bad \\{escape} escape at position {i} in CHAP value {value!r}")
            code = int(digits, 16)
            if code > 0xFF:
                raise ValueError(f"\\u{digits} at position {i} in CHAP value {value!r} is not a byte")
            out.append(code)
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{escape} at position {i} in CHAP value {value!r}")
    return bytes(out)


def _md5js_bytes(text: str) -> bytes:
    """A JS string as MikroTik's md5.js feeds it to MD5: one byte per character, `code & 0xFF`.

    For ASCII (every voucher code and generated password) this is the UTF-8 encoding; for other
    characters it is what a browser running the router's own login page would send, so the
    router accepts our response exactly when it would accept its own page's.
    """
    return bytes(ord(char) & 0xFF for char in text)


def chap_response(chap_id: str, password: str, chap_challenge: str) -> str:
    """The `password` field for a CHAP login: lowercase hex MD5(id ‖ password ‖ challenge).

    `chap_id` and `chap_challenge` are the literals as RouterOS rendered them (`\\371`, ...).
    The id must be exactly one byte (it is the CHAP identifier octet, RFC 1994) and the challenge
    non-empty (RouterOS sends 16 bytes); anything else means the values were lost or cut on the
    way through the portal, and a hash over them could never be accepted. Raises ValueError.
    """
    ident = unescape_octal(chap_id)
    if len(ident) != 1:
        raise ValueError(f"chap-id must be one byte, got {len(ident)} from {chap_id!r}")
    challenge = unescape_octal(chap_challenge)
    if not challenge:
        raise ValueError("chap-challenge is empty")
    digest = hashlib.md5(ident + _md5js_bytes(password) + challenge, usedforsecurity=False)
    return digest.hexdigest()


def login_fields(
    username: str,
    password: str,
    *,
    chap_id: str | None,
    chap_challenge: str | None,
    dst: str | None,
) -> dict[str, str]:
    """The form to send to the router's `$(link-login-only)` (POST body or GET query).

    Like the stock login page: CHAP (`password` = chap_response) when the router gave both
    `chap-id` and `chap-challenge` (it renders them empty when `http-chap` is not in the server
    profile's `login-by`), otherwise the plain password, which the router accepts only with
    `http-pap`. `dst` is where the router sends the browser after a successful login (left out
    when empty: the router then shows its own "logged in" page); `popup=true` as the stock page.
    """
    if chap_id and chap_challenge:
        password = chap_response(chap_id, password, chap_challenge)
    fields = {"username": username, "password": password}
    if dst:
        fields["dst"] = dst
    fields["popup"] = "true"
    return fields
