"""R4.6 Upstash credentials come from UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN."""

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.snapshots import describe_url, fingerprint


@pytest.mark.requirement("R4.6")
def test_upstash_rest_url_and_token_are_set_in_production(production, recorder):
    """Both variables are set; the URL is an https Upstash REST endpoint; the token is not trivially short."""
    url, token = production.get("UPSTASH_REDIS_REST_URL"), production.get("UPSTASH_REDIS_REST_TOKEN")
    recorder.notes.append(f"production UPSTASH_REDIS_REST_URL: {describe_url(url)}; "
                          f"UPSTASH_REDIS_REST_TOKEN: {fingerprint(token)}")
    expect(url and url.startswith("https://"), "R4.6", expected="UPSTASH_REDIS_REST_URL set to an https:// URL",
           seen=f"UPSTASH_REDIS_REST_URL {describe_url(url) if url else '(unset)'}")
    expect(token and len(token) >= 20, "R4.6", expected="UPSTASH_REDIS_REST_TOKEN set (a REST token)",
           seen=f"UPSTASH_REDIS_REST_TOKEN {fingerprint(token)}")
