"""stackfast-conformance: spec-conformance harness for the Stackfast 2026 Phase 8 deployment.

The public surface is what checks and operators use; everything else is internal.
"""

from stackfast_conformance.checks import expect, fail, not_applicable, require_opt_in
from stackfast_conformance.failures import CheckFailure, CouldNotDecide

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
