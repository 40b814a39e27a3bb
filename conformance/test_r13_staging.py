"""R13 Staging: a separate environment with its own OAuth app, secrets, Upstash and no auth bypass.

Cross-environment checks: they talk to production (``--api``) and staging (``--staging-api``)
and are SKIPPED when no staging URL is given.
"""

import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from stackfast_conformance.checks import expect
from stackfast_conformance.failures import CouldNotDecide

GENERATION_PATH = "/api/v1/blueprints"
EXTRA_TRIES = 5  # requests past the nominal limit tried before giving up on seeing staging's 429


def _authorize_params(http, base):
    r = http.post("/api/auth/sign-in/social", base=base, json={"provider": "github", "callbackURL": "/"})
    try:
        url = r.json()["url"]
    except (ValueError, KeyError, TypeError):
        raise CouldNotDecide(f"POST /api/auth/sign-in/social on {base.replace('_', ' ')} answered {r.status_code} "
                             "without an authorize URL", r.exchange.curl) from None
    query = parse_qs(urlsplit(url).query)
    return {k: v[0] for k, v in query.items()}, r


def _post_when_not_limited(http, path, base, identity, window, json=None):
    """POST once; on a 429 (a bucket other requests spent) wait out Retry-After (bounded) and try again.

    A fresh client's single request is far from its limit: sent again when the network disturbed it."""
    r = http.post(path, base=base, json={} if json is None else json, identity=identity, retry=True)
    if r.status_code == 429:
        try:
            wait = float(r.headers.get("retry-after", window))
        except ValueError:
            wait = window
        time.sleep(min(max(wait, 0.0), window) + 0.1)
        r = http.post(path, base=base, json={} if json is None else json, identity=identity)
    return r


@pytest.mark.requirement("R13.3")
def test_staging_signs_in_with_its_own_github_app(http, target):
    """Staging's authorize URL: a client_id unlike production's, redirect_uri = the staging API's callback."""
    staging, rs = _authorize_params(http, "staging_api")
    production, rp = _authorize_params(http, "api")
    expect(staging.get("client_id") and staging.get("client_id") != production.get("client_id"), "R13.3",
           expected="staging's GitHub OAuth client_id differs from production's",
           seen=f"staging client_id {staging.get('client_id')!r}, production {production.get('client_id')!r}",
           response=rs)
    callback = f"{target.staging_api_url}/api/auth/callback/github"
    expect(staging.get("redirect_uri") == callback, "R13.3",
           expected=f"staging's redirect_uri is the staging API's callback {callback}",
           seen=f"redirect_uri {staging.get('redirect_uri')!r}", response=rs)


@pytest.mark.requirement("R13.4")
def test_production_refuses_the_staging_admin_key(http, target):
    """An admin request to production with staging's ADMIN_API_KEY is refused (401/403).

    The body is invalid on purpose: even a wrongly accepted key changes nothing (it gets 400).
    """
    if not target.staging_admin_key:
        pytest.skip("no staging admin key: set STACKFAST_STAGING_ADMIN_KEY")
    # Compared with a key production cannot know: the same answer means staging's key is refused too,
    # whatever production's guard does with the (invalid) body — its order is R8.1's business.
    unknown_key = "stackfast-conformance-not-a-key-" + secrets.token_hex(8)
    baseline = http.post("/admin/tools/import", json={}, headers={"X-Admin-API-Key": unknown_key})
    r = http.post("/admin/tools/import", json={}, headers={"X-Admin-API-Key": target.staging_admin_key})
    expect(r.status_code == baseline.status_code, "R13.4",
           expected=f"production treats staging's admin key like an unknown key (status {baseline.status_code}): "
                    "the two environments have different keys",
           seen=f"status {r.status_code} with staging's key (the key was accepted)", response=r)


@pytest.mark.requirement("R13.4")
@pytest.mark.safety("quota")
def test_exhausting_a_staging_bucket_leaves_production_untouched(http, target, fresh_identity):
    """Spend a client's generation bucket on staging; production still serves that client."""
    limit, window = target.generation_limit, target.window_seconds
    identity = fresh_identity()
    if _post_when_not_limited(http, GENERATION_PATH, "api", identity, window).status_code == 429:
        pytest.skip("production already answers this fresh client 429 before staging spent anything: cannot decide")
    started = time.monotonic()
    spent = []
    for _ in range(limit + EXTRA_TRIES):  # until staging limits the client (its exact limit is R4.2's business)
        # sent again when disturbed: a token lost with it only exhausts staging sooner, which is all this needs
        spent.append(http.post(GENERATION_PATH, base="staging_api", json={}, identity=identity, retry=True))
        if spent[-1].status_code == 429:
            break
    else:
        if time.monotonic() - started >= window:
            pytest.skip(f"{len(spent)} staging requests took {time.monotonic() - started:.1f} s, longer than one "
                        f"window ({window:g} s): cannot decide; run with a longer --window-seconds")
        raise CouldNotDecide(f"staging never limited one client ({len(spent)} generation requests, the last "
                             f"{spent[-1].status_code}): cannot tell whether the buckets are shared",
                             spent[-1].exchange.curl)
    r = http.post(GENERATION_PATH, json={}, identity=identity, retry=True)  # one lost token leaves production 29
    elapsed = time.monotonic() - started
    if r.status_code != 429 and elapsed >= window:
        pytest.skip(f"the staging burst and the production request took {elapsed:.1f} s, longer than one window "
                    f"({window:g} s): cannot decide; run with a longer --window-seconds")
    expect(r.status_code != 429, "R13.4",
           expected="production answers a client whose staging bucket is spent (its own Upstash database)",
           seen=f"status 429 on production right after staging's bucket was spent ({elapsed:.2f} s)", response=r)


@pytest.mark.requirement("R13.5")
@pytest.mark.parametrize("path", ["/api/v1/blueprints", "/api/v1/scaffolds"])
def test_staging_generation_routes_need_a_session(http, target, fresh_identity, path):
    """POST a valid idea to staging without a session: 401 (or 503), never the handler's answer."""
    r = _post_when_not_limited(http, path, "staging_api", fresh_identity(), target.window_seconds,
                               json={"idea": "conformance probe: no session"})
    if r.status_code == 429:
        pytest.skip(f"staging keeps answering 429 to a fresh client on {path}: cannot tell whether the handler runs")
    expect(r.status_code in (401, 403, 503), "R13.5",
           expected=f"staging's {path} never runs without a session (401; 503 while auth is not ready): "
                    "ALLOW_AUTH_BYPASS=false",
           seen=f"status {r.status_code}: {r.text[:120]!r}", response=r)
