"""Response helpers shared by every layer: JSON errors carrying the request id."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def request_id_for(incoming: str | None) -> str:
    """Echo a sane incoming X-Request-ID, else mint a uuid4."""
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return str(uuid.uuid4())


def request_id(request: Request) -> str:
    return request.state.request_id


def error(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """``{"error": message, "requestId": ...}`` (upstream's shape), or the shape an error-body variant names."""
    from ._variants import error_body

    body, media_type = error_body(request, status, message)
    return Response(body, status_code=status, headers=dict(headers or {}), media_type=media_type)


class _Invalid:
    """Marker for a body that is missing, oversized or not JSON."""


_INVALID: Any = _Invalid()
MAX_BODY_BYTES = 1_000_000


async def read_json(request: Request) -> Any:
    """The parsed JSON body, or the invalid marker (test with ``is_invalid``)."""
    body = await request.body()
    if not body or len(body) > MAX_BODY_BYTES:
        return _INVALID
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _INVALID


def is_invalid(value: Any) -> bool:
    return value is _INVALID
