"""R10.1 CORS_ORIGIN is https://stackfast.app in production."""

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.settings import EXPECTED_BY_ENVIRONMENT


@pytest.mark.requirement("R10.1")
def test_cors_origin_is_the_production_web_origin(production, recorder):
    wanted = EXPECTED_BY_ENVIRONMENT["production"]["web_origin"]
    value = production.get("CORS_ORIGIN")
    recorder.notes.append(f"production CORS_ORIGIN={value!r}")
    expect(value == wanted, "R10.1", expected=f"CORS_ORIGIN={wanted} (exactly one origin, no wildcard)",
           seen=f"CORS_ORIGIN={value!r}")
