"""``python -m stackfast_conformance.reference.api``: serve the app with uvicorn on HOST:PORT."""

from __future__ import annotations

import uvicorn

from ._app import create_app
from ._config import ApiConfig


def main() -> None:
    config = ApiConfig.from_env()
    app = create_app(config)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
