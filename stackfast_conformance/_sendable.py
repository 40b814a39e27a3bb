"""What the harness can put on the wire: one definition for generation filters and the evidence client.

A header HTTP/1.1 cannot carry (RFC 9110 §5: a token name; a value without surrounding whitespace,
CR, LF or NUL; bytes httpx can encode) is the harness's problem, never the target's: generated
cases are filtered with ``unsendable_reason`` before they are sent, and the evidence client raises
``HarnessError`` for anything left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["unsendable_header", "unsendable_reason"]

_TOKEN = re.compile(r"\A[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# field-value: empty, or field-vchar [ *( SP / HTAB / field-vchar ) field-vchar ]  (obs-text allowed)
_FIELD_VALUE = re.compile(rb"\A(?:[\x21-\x7e\x80-\xff](?:[\x20-\x7e\x80-\xff\t]*[\x21-\x7e\x80-\xff])?)?\Z")


def unsendable_header(name: str | bytes, value: str | bytes) -> str | None:
    """Why ``name: value`` cannot be sent as HTTP/1.1 by httpx, or None when it can."""
    text_name = name.decode("latin-1") if isinstance(name, bytes) else name
    if not _TOKEN.match(text_name):
        return f"header name {text_name[:40]!r} is not an HTTP token"
    if isinstance(value, str):
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            return f"header {text_name}: value {value[:40]!r} is not ASCII (httpx sends str header values as ASCII)"
    else:
        raw = value
    if not _FIELD_VALUE.match(raw):
        return (f"header {text_name}: value {raw[:40]!r} has surrounding whitespace or a control character "
                "(HTTP/1.1 cannot carry it)")
    return None


def unsendable_reason(headers: Iterable[tuple[str | bytes, str | bytes]]) -> str | None:
    """The first reason any of ``headers`` cannot be sent, or None."""
    for name, value in headers:
        why = unsendable_header(name, value)
        if why:
            return why
    return None
