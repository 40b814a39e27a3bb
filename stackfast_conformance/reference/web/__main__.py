"""``python -m stackfast_conformance.reference.web`` — see the package docstring."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .. import _serve
from ..edge import Routes
from . import WebApp


def main() -> None:
    faults = frozenset(f.strip() for f in os.environ.get("REF_FAULTS", "").split(",") if f.strip())
    proxy: Callable[[], str | None] | None = None
    if os.environ.get("WEB_PROXY_API"):
        fixed = os.environ["WEB_PROXY_API"]
        proxy = lambda: fixed  # noqa: E731
    elif os.environ.get("WEB_ROUTES_FILE") and os.environ.get("WEB_PROXY_HOST"):
        routes, host = Routes(Path(os.environ["WEB_ROUTES_FILE"])), os.environ["WEB_PROXY_HOST"]
        proxy = lambda: routes.lookup(host)  # noqa: E731
    app = WebApp(os.environ.get("BUILD_ID", "web-build-1"), os.environ.get("WEB_API_BASE", ""), proxy, faults)
    _serve.run([_serve.make_server(app, int(os.environ["PORT"]))])


if __name__ == "__main__":
    main()
