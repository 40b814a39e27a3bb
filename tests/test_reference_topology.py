"""The topology of the embedded reference: supervisor, TLS edge, web, fake GitHub,
upstash link and operator actions. Uses the real reference API when it exists,
else a ten-line stand-in (so the topology can be tested on its own)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from stackfast_conformance._connect import make_transport, resolve
from stackfast_conformance.reference import Reference, load_faults, start_reference

# module-scoped fixtures (its references started once): under `pytest -n 4 --dist loadgroup` one worker runs the whole module
pytestmark = pytest.mark.xdist_group("test_reference_topology")

STANDIN_API = textwrap.dedent('''
    import os, redis, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route
    r = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1)
    def gen(req):
        n = r.incr("generation:" + req.headers.get("x-forwarded-for", "local"))
        return JSONResponse({"error": "rate"}, 429) if n > 30 else JSONResponse({"error": "auth"}, 401)
    app = Starlette(routes=[Route("/health", lambda q: PlainTextResponse("OK")),
        Route("/openapi.json", lambda q: JSONResponse({"info": {"version": os.environ["BUILD_ID"]}})),
        Route("/api/v1/blueprints", gen, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
''')


@pytest.fixture(scope="module", autouse=True)
def api_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if importlib.util.find_spec("stackfast_conformance.reference.api") is not None:
        yield
        return
    d = tmp_path_factory.mktemp("standin")
    (d / "standin_api.py").write_text(STANDIN_API)
    mp = pytest.MonkeyPatch()
    mp.setenv("STACKFAST_REFERENCE_API_MODULE", "standin_api")
    mp.setenv("PYTHONPATH", os.pathsep.join([str(d), os.environ.get("PYTHONPATH", "")]))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def ref(api_module: None) -> Iterator[Reference]:
    t0 = time.monotonic()
    with start_reference(window_seconds=60) as reference:
        reference.startup_seconds = time.monotonic() - t0  # type: ignore[attr-defined]
        yield reference


@pytest.fixture(scope="module")
def client(ref: Reference) -> Iterator[httpx.Client]:
    with httpx.Client(transport=make_transport(ref.connect_to, str(ref.ca_bundle)), timeout=10) as c:
        yield c


def act(ref: Reference, action: str) -> str:
    p = subprocess.run(ref.actions[action], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def web_build(client: httpx.Client, url: str = "https://stackfast.app/") -> str:
    html = client.get(url).text
    return html.split('name="stackfast-build" content="', 1)[1].split('"', 1)[0]


def api_version(client: httpx.Client, url: str = "https://api.stackfast.app") -> str:
    return str(client.get(url + "/openapi.json").json()["info"]["version"])


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:  # a zombie is dead for our purposes
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                continue
        except (OSError, IndexError):
            continue
        alive.append(pid)
    return alive


def all_pids(ref: Reference) -> list[int]:
    s = ref.refresh()
    pids = [s["pid"], s["redis"]["pid"], s["oauth"]["pid"]] + ([s["edge"]["pid"]] if s["edge"]["pid"] else [])
    for stack in s["stacks"].values():
        pids += [stack["api"]["pid"], stack["web"]["pid"]]
    return pids


def test_start_takes_seconds_not_tens(ref: Reference) -> None:
    assert ref.startup_seconds < 10  # type: ignore[attr-defined]
    assert ref.api_url == "https://api.stackfast.app" and ref.web_url == "https://stackfast.app"
    assert ref.staging_api_url == "https://api.staging.stackfast.app"
    assert "redis-server" in ref.state["store"]


def test_health_through_the_tls_edge_with_the_ca_bundle(ref: Reference, client: httpx.Client) -> None:
    r = client.get("https://api.stackfast.app/health")
    assert (r.status_code, r.text) == (200, "OK")
    assert r.headers["strict-transport-security"] == "max-age=31536000"
    assert client.get("https://api.staging.stackfast.app/health").status_code == 200


def test_hostname_verification_fails_for_a_host_not_in_the_certificate(ref: Reference) -> None:
    addr, port = resolve(ref.connect_to, "api.stackfast.app", 443)
    with httpx.Client(transport=make_transport([f"evil.example:443:{addr}:{port}"], str(ref.ca_bundle))) as c:
        with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname"):
            c.get("https://evil.example/health")
    with httpx.Client(transport=make_transport(ref.connect_to, None)) as c:  # system trust store: not trusted
        with pytest.raises(httpx.ConnectError):
            c.get("https://api.stackfast.app/health")


def test_http_redirects_301_to_the_same_https_url(client: httpx.Client) -> None:
    for host in ("stackfast.app", "api.stackfast.app"):
        r = client.get(f"http://{host}/some/path?a=1&b=two")
        assert r.status_code == 301
        assert r.headers["location"] == f"https://{host}/some/path?a=1&b=two"


def test_edge_keeps_every_set_cookie_and_adds_no_request_headers(ref: Reference, client: httpx.Client) -> None:
    r = client.get("https://github.com/login/oauth/authorize",
                   params={"client_id": ref.state["stacks"]["production"]["github_client_id"],
                           "redirect_uri": "https://api.stackfast.app/api/auth/callback/github", "state": "s1"},
                   headers={"x-forwarded-for": "198.18.0.9"})
    assert r.status_code == 302 and "code=" in r.headers["location"] and "state=s1" in r.headers["location"]
    seen = httpx.get(ref.oauth_url + "/_last_authorize").json()
    assert seen["redirect_uri"] == "https://api.stackfast.app/api/auth/callback/github"
    assert seen["host"] == "github.com"


def test_web_serves_the_spa_and_api_paths_get_html_not_json(client: httpx.Client) -> None:
    r = client.get("https://stackfast.app/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert web_build(client) == "web-build-1"
    bundle = r.text.split('src="', 1)[1].split('"', 1)[0]
    js = client.get("https://stackfast.app" + bundle).text
    assert 'const API_BASE = "https://api.stackfast.app"' in js
    assert 'const API_BASE = "https://api.staging.stackfast.app"' in client.get(
        "https://staging.stackfast.app" + client.get("https://staging.stackfast.app/").text
        .split('src="', 1)[1].split('"', 1)[0]).text
    for path in ("/api/anything", "/api/v1/tools/search?q=x", "/health", "/deep/link"):
        r = client.get("https://stackfast.app" + path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
    assert client.post("https://stackfast.app/api/v1/blueprints", json={}).status_code == 405


def test_restart_api_keeps_the_rate_limit_counts(ref: Reference, client: httpx.Client) -> None:
    who = {"x-forwarded-for": f"198.18.7.{os.getpid() % 250}"}
    url = "https://api.stackfast.app/api/v1/blueprints"
    for _ in range(20):
        assert client.post(url, json={}, headers=who).status_code != 429
    pid_before = ref.refresh()["stacks"]["production"]["api"]["pid"]
    act(ref, "restart-api")
    assert ref.refresh()["stacks"]["production"]["api"]["pid"] != pid_before
    statuses = [client.post(url, json={}, headers=who).status_code for _ in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429, statuses


def test_redeploy_and_rollback_change_only_their_service(ref: Reference, client: httpx.Client) -> None:
    api_before = api_version(client)
    act(ref, "redeploy-web")
    assert web_build(client) == "web-build-2" and api_version(client) == api_before
    act(ref, "rollback-web")
    assert web_build(client) == "web-build-1"
    act(ref, "redeploy-api")
    assert "api-build-2" in api_version(client) and web_build(client) == "web-build-1"
    act(ref, "rollback-api")
    assert "api-build-1" in api_version(client)
    p = subprocess.run(ref.actions["rollback-api"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no previous" in p.stderr
    assert web_build(client, "https://staging.stackfast.app/") == "web-build-1"


def test_redeploy_of_one_service_never_interrupts_the_other(ref: Reference) -> None:
    import threading

    seen: list[object] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(transport=make_transport(ref.connect_to, str(ref.ca_bundle)), timeout=5) as c:
            while not stop.is_set():
                for url in ("https://api.stackfast.app/health", "https://stackfast.app/"):
                    try:
                        seen.append(c.get(url).status_code)
                    except httpx.TransportError as exc:
                        seen.append(type(exc).__name__)

    t = threading.Thread(target=poll)
    t.start()
    try:
        act(ref, "redeploy-api")
        act(ref, "redeploy-web")
    finally:
        stop.set()
        t.join()
    assert len(seen) > 10 and set(seen) == {200}


def test_upstash_link_modes(ref: Reference) -> None:
    port = ref.refresh()["stacks"]["production"]["upstash_link"]["port"]

    def ping() -> object:
        with redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5,
                         retry=Retry(NoBackoff(), 0)) as r:
            return r.ping()

    assert ping() is True
    try:
        act(ref, "upstash-outage-refuse")
        with pytest.raises(redis.ConnectionError):
            ping()
        act(ref, "upstash-outage-hang")
        with pytest.raises(redis.TimeoutError):
            ping()
        act(ref, "upstash-outage-error")
        with pytest.raises(redis.ResponseError, match="upstash simulated failure"):
            ping()
    finally:
        act(ref, "upstash-recover")
    assert ping() is True
    assert ref.refresh()["stacks"]["production"]["upstash_link"]["mode"] == "pass"


def test_staging_is_isolated(ref: Reference) -> None:
    s = ref.refresh()["stacks"]
    assert s["production"]["redis_db"] != s["staging"]["redis_db"]
    assert s["production"]["github_client_id"] != s["staging"]["github_client_id"]
    assert ref.admin_key and ref.staging_admin_key and ref.admin_key != ref.staging_admin_key
    env = ref.harness_env()
    assert env["STACKFAST_ADMIN_KEY"] == ref.admin_key
    assert len(env["STACKFAST_CONNECT_TO"].split()) == 10


def test_db_outage_flag_and_logs(ref: Reference) -> None:
    flag = Path(ref.refresh()["stacks"]["production"]["db_outage_flag"])
    act(ref, "db-outage-start")
    assert flag.exists()
    act(ref, "db-outage-end")
    assert not flag.exists()
    assert subprocess.run(ref.actions["logs-api"], capture_output=True, timeout=30).returncode == 0


def test_unknown_fault_says_did_you_mean() -> None:
    with pytest.raises(ValueError, match="did you mean edge-redirect-302"):
        start_reference(faults=("edge-redirect-320",))


def test_fault_registry_is_well_formed() -> None:
    faults = load_faults()
    assert {"edge-redirect-302", "cert-expired", "rollback-web-touches-api"} <= set(faults)
    for f in faults.values():
        # every fault proves something: criteria it breaks, findings it raises, or (leak) that masking holds
        assert (f.breaks or f.findings or f.leak) and all(b.startswith("R") for b in f.breaks), f


def test_cert_fault_breaks_only_the_api_host(api_module: None) -> None:
    with start_reference(faults=("cert-wrong-host", "edge-redirect-302"), staging=False) as ref:
        with httpx.Client(transport=make_transport(ref.connect_to, str(ref.ca_bundle))) as c:
            assert c.get("https://stackfast.app/").status_code == 200
            with pytest.raises(httpx.ConnectError):
                c.get("https://api.stackfast.app/health")
            assert c.get("http://stackfast.app/x").status_code == 302
        assert ref.staging_api_url is None


def test_local_dev_web_proxies_api_same_origin(api_module: None) -> None:
    with start_reference(env="local-dev") as ref:
        assert ref.connect_to == [] and ref.ca_bundle is None and ref.web_url.startswith("http://127.0.0.1:")
        r = httpx.get(ref.web_url + "/api/v1/blueprints-not-there")
        assert not r.headers["content-type"].startswith("text/html")
        js_path = httpx.get(ref.web_url).text.split('src="', 1)[1].split('"', 1)[0]
        assert 'const API_BASE = ""' in httpx.get(ref.web_url + js_path).text
        assert httpx.get(ref.api_url + "/health").text == "OK"


def test_stop_and_a_killed_supervisor_leave_no_processes(api_module: None) -> None:
    ref = start_reference(staging=False)
    pids = all_pids(ref)
    ref.stop()
    assert not Path(ref.state_dir).exists() or not (Path(ref.state_dir) / "state.json").exists()
    assert pids_alive(pids) == []

    ref = start_reference(staging=False)
    try:
        pids = all_pids(ref)
        os.kill(ref.state["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pids_alive(pids[1:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids_alive(pids[1:]) == []
    finally:
        ref.stop()


def test_ctl_reports_failure_without_a_running_reference(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "stackfast_conformance.reference.ctl", "--state-dir", str(tmp_path),
                        "restart-api"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "no running reference" in p.stderr
