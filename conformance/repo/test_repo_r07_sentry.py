"""R7 Sentry wiring in the code: sample rates, web source maps, DSN guard, payload scrub."""

import pytest
from _repo_checks import expect_no_problems

from stackfast_conformance.audits.repo import (
    audit_sentry_api,
    audit_sentry_guard,
    audit_sentry_scrub,
    audit_sentry_web,
)


@pytest.mark.requirement("R7.1")
def test_api_sentry_samples_every_error_and_no_trace(checkout):
    expect_no_problems(audit_sentry_api(checkout), "R7.1", "@sentry/node with sampleRate 1.0, tracesSampleRate 0.0")


@pytest.mark.requirement("R7.2")
def test_web_sentry_and_the_vite_source_map_plugin_are_wired(checkout):
    expect_no_problems(audit_sentry_web(checkout), "R7.2", "@sentry/react init and sentryVitePlugin")


@pytest.mark.requirement("R7.3")
def test_sentry_init_is_guarded_by_the_dsn(checkout):
    expect_no_problems(audit_sentry_guard(checkout), "R7.3", "no Sentry.init without a SENTRY_DSN")


@pytest.mark.requirement("R7.5")
def test_api_sentry_scrubs_idea_and_constraints(checkout):
    expect_no_problems(audit_sentry_scrub(checkout), "R7.5", "beforeSend removes idea and constraints")
