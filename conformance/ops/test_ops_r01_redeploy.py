"""R1 Railway services: redeploying one service leaves the other serving, without a restart.

While the operator's redeploy command runs, the other service is polled continuously; every
poll must answer 200 and its build fingerprint must be the same afterwards. The timeline of
the check (action bar, one tick per poll) is the evidence.
"""

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.operator import Poller, api_fingerprint, web_fingerprint


def _first_bad_response(poller: Poller):
    return next((p.response for p in poller.failures if p.response is not None), None)


@pytest.mark.requirement("R1.5")
@pytest.mark.safety("disruptive")
def test_api_keeps_serving_while_web_is_redeployed(http, operator, poll_interval):
    """Poll the API's /health while redeploy-web runs: no failed poll, same API build."""
    operator.require("redeploy-web")
    before, _ = api_fingerprint(http)
    with Poller(http, "/health", base="api", interval=poll_interval) as poller:
        poller.wait_for(1)
        operator.run("redeploy-web")
        poller.wait_for(len(poller.polls) + 1)
    after, r = api_fingerprint(http)
    expect(not poller.failures, "R1.5", expected="every poll of the API's /health answers 200 while web is redeployed",
           seen=poller.summary(), response=_first_bad_response(poller) or r)
    expect(after == before, "R1.5", expected=f"the same API build before and after the web redeploy ({before})",
           seen=f"API build {after}", response=r)


@pytest.mark.requirement("R1.6")
@pytest.mark.safety("disruptive")
def test_web_keeps_serving_while_api_is_redeployed(http, operator, poll_interval):
    """Poll web's / while redeploy-api runs: no failed poll, same web build."""
    operator.require("redeploy-api")
    before, _ = web_fingerprint(http)
    with Poller(http, "/", base="web", interval=poll_interval) as poller:
        poller.wait_for(1)
        operator.run("redeploy-api")
        poller.wait_for(len(poller.polls) + 1)
    after, r = web_fingerprint(http)
    expect(not poller.failures, "R1.6", expected="every poll of web's / answers 200 while the API is redeployed",
           seen=poller.summary(), response=_first_bad_response(poller) or r)
    expect(after == before, "R1.6", expected=f"the same web build before and after the API redeploy ({before})",
           seen=f"web build {after}", response=r)
