"""R1 Split Railway services, from the checkout's Railway manifests."""

import pytest
from _repo_checks import expect_no_problems, manifest_path, record_files

from stackfast_conformance.audits.repo import audit_api_healthcheck, audit_api_service, audit_web_service


@pytest.mark.requirement("R1.1")
def test_api_manifest_builds_and_starts_with_the_api_filter_on_node_20(checkout, recorder):
    record_files(checkout, recorder, manifest_path(checkout, "api"), "apps/api/package.json")
    expect_no_problems(audit_api_service(checkout), "R1.1",
                       "apps/api/railway.toml: the @stackfast/api build/start commands on Node 20")


@pytest.mark.requirement("R1.1")
def test_api_manifest_health_checks_slash_health(checkout, recorder):
    record_files(checkout, recorder, manifest_path(checkout, "api"))
    expect_no_problems(audit_api_healthcheck(checkout), "R1.1", "the API service's Railway healthcheck on /health")


@pytest.mark.requirement("R1.2")
def test_web_manifest_builds_with_the_web_filter_and_serves_dist(checkout, recorder):
    record_files(checkout, recorder, manifest_path(checkout, "web"))
    expect_no_problems(audit_web_service(checkout), "R1.2",
                       "apps/web/railway.toml: the @stackfast/web build, static apps/web/dist")
