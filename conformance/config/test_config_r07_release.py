"""R7.6 The Sentry release id is the Git SHA Railway injects: RAILWAY_GIT_COMMIT_SHA is present."""

import re

import pytest

from stackfast_conformance.checks import expect


@pytest.mark.requirement("R7.6")
def test_railway_git_commit_sha_is_present_in_production(production, recorder):
    """RAILWAY_GIT_COMMIT_SHA holds a Git SHA; a SENTRY_RELEASE override, if set, is that same SHA."""
    sha = production.get("RAILWAY_GIT_COMMIT_SHA")
    recorder.notes.append(f"production RAILWAY_GIT_COMMIT_SHA={sha!r}")
    expect(sha and re.fullmatch(r"[0-9a-f]{7,40}", sha), "R7.6",
           expected="RAILWAY_GIT_COMMIT_SHA set to a Git commit SHA", seen=f"RAILWAY_GIT_COMMIT_SHA={sha!r}")
    release = production.get("SENTRY_RELEASE")
    expect(release in (None, "", sha), "R7.6", expected="no SENTRY_RELEASE override other than the Git SHA",
           seen=f"SENTRY_RELEASE={release!r}")
