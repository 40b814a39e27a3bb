"""stackfast-conformance: spec-conformance harness for the Stackfast 2026 Phase 8 deployment.

The public surface is what checks and operators use; everything else is internal. It is loaded on
first use (PEP 562): the reference's server processes import this package too, and must not pay for
pytest (which ``checks`` imports) every time one starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CheckFailure",
    "CouldNotDecide",
    "__version__",
    "expect",
    "fail",
    "not_applicable",
    "require_opt_in",
]

_HOME = {"expect": "checks", "fail": "checks", "not_applicable": "checks", "require_opt_in": "checks",
         "CheckFailure": "failures", "CouldNotDecide": "failures"}

if TYPE_CHECKING:
    from stackfast_conformance.checks import expect, fail, not_applicable, require_opt_in
    from stackfast_conformance.failures import CheckFailure, CouldNotDecide


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
