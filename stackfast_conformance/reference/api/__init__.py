"""The reference Stackfast API: a conforming Hono-like app with injectable faults.

Run it as ``python -m stackfast_conformance.reference.api`` (configured by env
vars, see ``ApiConfig.from_env``) or build it in-process with ``create_app``.
"""

from ._app import ApiApp, create_app
from ._config import ApiConfig

__all__ = ["ApiApp", "ApiConfig", "create_app"]
