"""R4 Upstash limiter in the code: dependencies, no Map limiter, the credential variables."""

import pytest
from _repo_checks import expect_no_problems, record_files

from stackfast_conformance.audits.repo import audit_upstash_env_names, audit_upstash_limiter


@pytest.mark.requirement("R4.1")
def test_limiter_uses_upstash_and_no_in_memory_map_is_left(checkout, recorder):
    record_files(checkout, recorder, "apps/api/package.json", "apps/api/src/app.ts")
    expect_no_problems(audit_upstash_limiter(checkout), "R4.1",
                       "@upstash/ratelimit + @upstash/redis used, no in-memory Map limiter")


@pytest.mark.requirement("R4.6")
def test_api_reads_the_upstash_rest_variables(checkout):
    expect_no_problems(audit_upstash_env_names(checkout), "R4.6",
                       "the API reads UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN")
