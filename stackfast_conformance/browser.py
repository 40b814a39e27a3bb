"""A small Chrome DevTools Protocol client for Debian's headless Chromium (no downloads, no drivers).

The harness never fetches a browser: it uses the ``chromium`` on ``PATH`` (Debian package
``chromium``) or ``STACKFAST_CHROMIUM``. Chromium is started with ``--remote-debugging-pipe``:
the protocol runs over two inherited pipes (fd 3: commands in, fd 4: replies and events out),
NUL-separated JSON, so no port is opened and no websocket library is needed.

    with Browser.launch(extra_args=ref.chromium_args()) as browser:
        page = browser.new_page()
        page.navigate("https://stackfast.app")
        page.wait_for("document.body.dataset.ready === '1'", timeout=20)

Every wait has a deadline; a browser that does not answer raises ``BrowserError``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["INSTALL_HINT", "Browser", "BrowserError", "Page", "find_chromium"]

INSTALL_HINT = "no Chromium found: install Debian's browser with `apt-get install chromium` (or set STACKFAST_CHROMIUM)"
# The flags every launch uses (headless, no GPU/QUIC, nothing phoning home, no first-run UI).
BASE_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio")
COMMAND_TIMEOUT_SECONDS = 15.0
LAUNCH_TIMEOUT_SECONDS = 20.0


_TRAMPOLINE = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
               "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")


class BrowserError(RuntimeError):
    """Chromium did not start, died, or did not answer within its deadline."""


def find_chromium() -> str | None:
    """The Chromium executable to use, or None when none is installed."""
    configured = os.environ.get("STACKFAST_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium process with a fresh profile, driven over the DevTools pipe."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int, profile: Any) -> None:
        self._proc = proc
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._profile = profile
        self._ids = iter(range(1, 1 << 31))
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=5000)
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    # lifecycle --------------------------------------------------------------
    @classmethod
    def launch(cls, extra_args: Iterable[str] = (), executable: str | None = None) -> Browser:
        executable = executable or find_chromium()
        if not executable:
            raise BrowserError(INSTALL_HINT)
        profile = tempfile.TemporaryDirectory(prefix="stackfast-chromium-")
        cmd_read, cmd_write = os.pipe()     # we write commands, Chromium reads them on fd 3
        evt_read, evt_write = os.pipe()     # Chromium writes on fd 4, we read
        cmd_read, evt_write = _above_four(cmd_read), _above_four(evt_write)
        argv = [executable, *BASE_ARGS, f"--user-data-dir={profile.name}", "--remote-debugging-pipe",
                *extra_args, "about:blank"]
        # A tiny trampoline renumbers the two pipe ends to fds 3 and 4 and execs Chromium
        # (thread-safe, unlike preexec_fn; dash cannot name fds above 9).
        log = open(Path(profile.name) / "chromium.log", "wb")  # noqa: SIM115 - kept by the child
        try:
            proc = subprocess.Popen([sys.executable, "-c", _TRAMPOLINE, str(cmd_read), str(evt_write), *argv],
                                    pass_fds=(cmd_read, evt_write), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
            os.close(cmd_read)
            os.close(evt_write)
        browser = cls(proc, cmd_write, evt_read, profile)
        try:
            browser.send("Browser.getVersion", timeout=LAUNCH_TIMEOUT_SECONDS)
        except BrowserError:
            browser.close()
            raise
        return browser

    def log_tail(self, limit: int = 1500) -> str:
        try:
            return (Path(self._profile.name) / "chromium.log").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.send("Browser.close", timeout=3)
        except BrowserError:
            pass
        for stream in (self._out, self._in):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # protocol ---------------------------------------------------------------
    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None,
             timeout: float = COMMAND_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Send one command and wait (bounded) for its reply; a protocol error raises BrowserError."""
        with self._lock:
            message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        try:
            self._out.write(json.dumps(message).encode() + b"\0")
        except (OSError, ValueError) as exc:
            raise BrowserError(f"Chromium is gone ({method}): {exc}; log: {self.log_tail()}") from None
        deadline = time.monotonic() + timeout
        with self._cond:
            while message_id not in self._replies:
                left = deadline - time.monotonic()
                if self._closed and message_id not in self._replies:
                    raise BrowserError(f"Chromium closed the DevTools pipe during {method}; log: {self.log_tail()}")
                if left <= 0:
                    raise BrowserError(f"Chromium did not answer {method} within {timeout:g} s")
                self._cond.wait(left)
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')} ({reply['error'].get('data', '')})")
        return dict(reply.get("result") or {})

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session_id = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session_id)
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        return page

    def events_of(self, session_id: str, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e.get("params", {}) for e in self.events if e.get("sessionId") == session_id
                    and e.get("method") == method]


class Page:
    """One tab: navigate, evaluate, click, screenshot, read cookies — every wait bounded."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = COMMAND_TIMEOUT_SECONDS
             ) -> dict[str, Any]:
        return self.browser.send(method, params, self.session_id, timeout)

    def events(self, method: str) -> list[dict[str, Any]]:
        return self.browser.events_of(self.session_id, method)

    def navigate(self, url: str) -> None:
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"navigating to {url} failed: {answer['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page; a thrown exception raises BrowserError."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if answer.get("exceptionDetails"):
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"evaluating {expression!r} threw {text}")
        return answer.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, poll: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy; a navigation in between is tolerated. Bounded."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
                if value:
                    return value
            except BrowserError as exc:  # the context is destroyed while a navigation runs
                last_error = str(exc)
            time.sleep(poll)
        raise BrowserError(f"waited {timeout:g} s for {expression!r}" + (f" (last error: {last_error})"
                                                                         if last_error else ""))

    def click(self, selector: str) -> None:
        """A real mouse click (press + release) at the centre of the element ``selector``."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
        if not box:
            raise BrowserError(f"no element matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                    "button": "left", "clickCount": 1})

    def text(self, selector: str) -> str | None:
        return self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                             " return e ? e.textContent : null; })()")

    def cookies(self, urls: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Cookies the browser holds (for ``urls``, or all); callers must not record ``value``."""
        params = {"urls": list(urls)} if urls is not None else {}
        return list(self.send("Network.getCookies", params).get("cookies", []))

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.send("Page.getLayoutMetrics").get("cssContentSize") or {}
            if size:
                params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000),
                                  "scale": 1}
        data = self.send("Page.captureScreenshot", params, timeout=30)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def set_viewport(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})


def _above_four(fd: int) -> int:
    """``fd`` moved to a number > 4, so renumbering the child's fds 3 and 4 cannot clobber it."""
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def wait_until(predicate: Callable[[], Any], timeout: float, poll: float = 0.1) -> Any:
    """Poll ``predicate`` until truthy (returns its value) or the deadline passes (returns None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    return None


# --- the Stackfast SPA's sign-in, as a user's browser lives it ------------------------------------

SIGN_IN_TIMEOUT_SECONDS = 20.0
# Clicks on Sign in per attempt: the SPA's sign-in call answered by the edge (not the API) is clicked again.
SIGN_IN_CLICKS = 3


class SpaSignIn:
    """What Chromium saw while a user signed in through the SPA (no cookie value is kept).

    ``api_cookies``: the cookies Chromium holds for the API origin (CDP cookie objects minus
    ``value``); ``refused``: Set-Cookie lines Chromium refused, as (reasons, ``SetCookie``);
    ``get_session_cookies``: the cookie names Chromium attached to the SPA's last get-session call;
    ``requests``: (method, url, status) of every request, in order; ``failed``: (url, why) of
    requests the browser failed (CORS, network); ``stuck``: why the round trip did not come back.
    """

    def __init__(self) -> None:
        self.landed_at: str | None = None
        self.session_text: str | None = None
        self.protected_text: str | None = None
        self.api_cookies: list[dict[str, Any]] = []
        self.refused: list[tuple[list[str], Any]] = []
        self.seen_set_cookies: list[Any] = []
        self.get_session_cookies: list[str] | None = None
        self.get_session_url: str | None = None     # where the SPA's last get-session went (any origin)
        self.requests: list[tuple[str, str, int | None]] = []
        self.failed: list[tuple[str, str]] = []     # (url, why) of requests that failed in the browser
        self.stuck: str | None = None               # why the round trip did not come back, if it did not
        self.failed_after_click: list[tuple[str, str]] = []  # the part of ``failed`` sent after the last click
        self.disturbed: list[tuple[str, str]] = []  # (url, what) the network disturbed after the last click
        self.earlier: list[str] = []                # why earlier attempts were redone (sign_in_until_undisturbed)


def _safe_evaluate(page: Page, expression: str) -> Any:
    try:
        return page.evaluate(expression)
    except BrowserError:
        return None


def _failed_url(page: Page, failure: dict[str, Any]) -> str:
    for event in page.events("Network.requestWillBeSent"):
        if event["requestId"] == failure.get("requestId"):
            return str(event["request"]["url"])
    return ""


def network_disturbances(page: Page) -> list[tuple[str, str, str]]:
    """(request id, url, what) of the page's requests the network disturbed, by ``_transient``'s rules.

    An edge's own 502/503/504 page (``responseReceived[ExtraInfo]``: status, headers, body when DevTools
    still has it; Chromium reports one answering a cross-origin fetch as a CORS error) or a connection
    lost on the way (``loadingFailed`` net::ERR_EMPTY_RESPONSE, ERR_CONNECTION_RESET, ...). The favicon
    is left out: the browser's own fetch, nothing of the app depends on it.
    """
    from stackfast_conformance import _transient

    urls = {e["requestId"]: str(e["request"]["url"]).split("?", 1)[0] for e in page.events("Network.requestWillBeSent")}
    found: dict[str, tuple[str, str, str]] = {}

    def add(request_id: str, what: str | None) -> None:
        url = urls.get(request_id, "")
        if what and request_id not in found and not url.endswith("/favicon.ico"):
            found[request_id] = (request_id, url, what)

    answers = [(e["requestId"], e.get("statusCode"), e.get("headers")) for e in
               page.events("Network.responseReceivedExtraInfo")]
    answers += [(e["requestId"], e["response"].get("status"), e["response"].get("headers"))
                for e in page.events("Network.responseReceived")]
    for request_id, status, headers in answers:
        if request_id in found or int(status or 0) not in _transient.GATEWAY_STATUSES:
            continue
        body = b""
        try:  # a CORS-blocked answer's body is usually gone; the edge's headers and content type still tell
            got = page.send("Network.getResponseBody", {"requestId": request_id}, timeout=3)
            text = str(got.get("body", ""))
            body = base64.b64decode(text) if got.get("base64Encoded") else text.encode()
        except (BrowserError, ValueError):
            pass
        add(request_id, _transient.browser_gateway_error(int(status), dict(headers or {}), body))
    for failure in page.events("Network.loadingFailed"):
        add(failure["requestId"], _transient.browser_transport_error(failure.get("errorText", "")))
    return list(found.values())


SIGN_IN_ATTEMPTS = 3


def sign_in_until_undisturbed(launch: Callable[[], Browser], web_url: str, api_url: str,
                              attempts: int = SIGN_IN_ATTEMPTS) -> SpaSignIn:
    """``sign_in_through_spa`` in a fresh Chromium, redone (at most ``attempts`` times) until one is clean.

    A gateway error in the middle of the OAuth round trip says nothing about the target, and an OAuth
    code and state are single-use, so the whole round trip starts over. A round trip that did not
    complete is redone too, even when DevTools shows no disturbance: Chromium silently resends a request
    whose reused connection closed without an answer, and when the first one had reached the API the
    resent callback finds its single-use state consumed (403). A failure the target causes repeats in
    every attempt; one the network caused does not. Returns the first clean attempt, else the last
    that ran to its end — with ``disturbed`` non-empty (a check must not FAIL on it) when that one or an
    earlier attempt was disturbed, since then the failure was not seen to repeat undisturbed — or, when
    none ran to its end, raises ``TransientFault``. ``earlier`` says what was redone and why.
    """
    from stackfast_conformance import _transient

    earlier: list[str] = []
    completed: SpaSignIn | None = None
    whats: list[str] = []
    every_disturbance: list[tuple[str, str]] = []
    for attempt in range(1, attempts + 1):
        with launch() as browser:
            page = browser.new_page()
            try:
                seen = sign_in_through_spa(page, web_url, api_url)
            except BrowserError as exc:
                disturbed = network_disturbances(page)
                if not disturbed:
                    raise
                whats = [what for _, _, what in disturbed]
                every_disturbance += [(url, what) for _, url, what in disturbed]
                earlier.append(f"browser sign-in {attempt} stopped ({str(exc)[:160]}) after the network disturbed "
                               + ", ".join(f"{url} ({what})" for _, url, what in disturbed[:4]))
                continue
        seen.earlier = list(earlier)
        incomplete = seen.stuck or "; ".join(f"{url}: {why}" for url, why in seen.failed_after_click
                                             if not url.endswith("/favicon.ico"))
        if not seen.disturbed and not incomplete:
            return seen
        completed, whats = seen, [what for _, what in seen.disturbed] or whats
        every_disturbance += seen.disturbed
        earlier.append(f"browser sign-in {attempt} of at most {attempts} not clean: " + (
            "the network disturbed " + ", ".join(f"{url} ({what})" for url, what in seen.disturbed[:4])
            if seen.disturbed else f"it did not complete ({incomplete[:200]}), no disturbance seen"))
    if completed is not None:
        completed.earlier = earlier
        completed.disturbed = completed.disturbed or every_disturbance
        return completed
    raise _transient.fault(whats, f"in each of {attempts} browser sign-ins through {web_url}: "
                                  + "; ".join(earlier)[:600])


def sign_in_through_spa(page: Page, web_url: str, api_url: str, timeout: float = SIGN_IN_TIMEOUT_SECONDS
                        ) -> SpaSignIn:
    """Open the SPA, click ``#sign-in``, let the fake GitHub send the browser back, read the page.

    Waits for ``document.body.dataset.ready == "1"`` before and after (each wait bounded by ``timeout``);
    a round trip that does not come back is reported in ``stuck``, not raised.
    Every cookie value Chromium reports is registered with the evidence masker and dropped.
    """
    from stackfast_conformance.evidence import register_secret
    from stackfast_conformance.sessions import parse_set_cookie

    seen = SpaSignIn()
    page.navigate(web_url)
    page.wait_for("document.body && document.body.dataset.ready === '1'", timeout)
    page.evaluate("window.__stackfastBeforeSignIn = true")
    web_url_now = _safe_evaluate(page, "location.href")
    landed = "!window.__stackfastBeforeSignIn && document.body && document.body.dataset.ready === '1'"
    for click in range(1, SIGN_IN_CLICKS + 1):
        thrown_before = len(page.events("Runtime.exceptionThrown"))
        failed_before = len(page.events("Network.loadingFailed"))
        sent_before = {e["requestId"] for e in page.events("Network.requestWillBeSent")}
        page.click("#sign-in")

        def settled(thrown_before: int = thrown_before, failed_before: int = failed_before) -> bool:
            # landed back on a ready page, or the SPA's sign-in call failed (e.g. CORS) and nothing will move
            try:
                if page.evaluate(landed):
                    return True
            except BrowserError:
                return False  # mid-navigation
            if (len(page.events("Runtime.exceptionThrown")) > thrown_before
                    and _safe_evaluate(page, "location.href") == web_url_now):
                return True  # the click handler threw (e.g. "Failed to fetch": a CSP blocked the call before the network)
            return any("/api/auth/sign-in/social" in _failed_url(page, f)
                       for f in page.events("Network.loadingFailed")[failed_before:])

        done = wait_until(settled, timeout)
        if (done and not _safe_evaluate(page, landed) and click < SIGN_IN_CLICKS
                and any(rid not in sent_before and url.endswith("/api/auth/sign-in/social")
                        for rid, url, _ in network_disturbances(page))):
            continue  # the edge, not the API, answered the SPA's sign-in call: a user clicks again (nothing consumed)
        break
    if not done:
        seen.stuck = f"the page did not come back ready within {timeout:g} s of the click"
    elif not _safe_evaluate(page, landed):
        seen.stuck = "the SPA's sign-in call failed, so the browser never left for GitHub"
    seen.landed_at = _safe_evaluate(page, "location.href")
    seen.session_text = _safe_evaluate(page, "(document.getElementById('session') || {}).textContent")
    seen.protected_text = _safe_evaluate(page, "(document.getElementById('protected') || {}).textContent")
    for failure in page.events("Network.loadingFailed"):
        cors = (failure.get("corsErrorStatus") or {}).get("corsError")
        reason = cors and f"CORS error {cors}" or failure.get("blockedReason") or failure.get("errorText")
        seen.failed.append((_failed_url(page, failure).split("?", 1)[0], str(reason)))
        if failure["requestId"] not in sent_before:
            seen.failed_after_click.append(seen.failed[-1])

    for cookie in page.cookies([api_url]):
        register_secret(str(cookie.get("value", "")))
        seen.api_cookies.append({k: v for k, v in cookie.items() if k != "value"})
    for event in page.events("Network.responseReceivedExtraInfo"):
        for blocked in event.get("blockedCookies") or []:
            parsed = parse_set_cookie(blocked.get("cookieLine", ""))
            if parsed is not None:
                register_secret(parsed.value)
                seen.refused.append((list(blocked.get("blockedReasons") or []), parsed))
        for name, value in (event.get("headers") or {}).items():
            if name.lower() == "set-cookie":
                for line in str(value).split("\n"):
                    parsed = parse_set_cookie(line)
                    if parsed is not None:
                        register_secret(parsed.value)
                        seen.seen_set_cookies.append(parsed)
    sent = {e["requestId"]: e for e in page.events("Network.requestWillBeSentExtraInfo")}
    statuses = {e["requestId"]: e["response"].get("status") for e in page.events("Network.responseReceived")}
    api = api_url.rstrip("/")
    last_hop: dict[str, int] = {}  # requestId -> index in seen.requests (redirect hops share the id)
    for event in page.events("Network.requestWillBeSent"):
        request, request_id = event["request"], event["requestId"]
        if event.get("redirectResponse") and request_id in last_hop:
            method, url, _ = seen.requests[last_hop[request_id]]
            seen.requests[last_hop[request_id]] = (method, url, event["redirectResponse"].get("status"))
        url = request["url"].split("?", 1)[0]  # code/state of the OAuth hops are not kept
        last_hop[request_id] = len(seen.requests)
        seen.requests.append((request["method"], url, None))
        if url.endswith("/api/auth/get-session") and request["method"] == "GET":
            seen.get_session_url = url
        if url == api + "/api/auth/get-session" and request["method"] == "GET":
            extra = sent.get(event["requestId"]) or {}
            seen.get_session_cookies = [a["cookie"]["name"] for a in extra.get("associatedCookies") or []
                                        if not a.get("blockedReasons")]
    for request_id, index in last_hop.items():
        method, url, _ = seen.requests[index]
        seen.requests[index] = (method, url, statuses.get(request_id))
    # what the outcome rests on: the requests of the last click on (an earlier click's or the first page's are not)
    seen.disturbed = [(url, what) for rid, url, what in network_disturbances(page) if rid not in sent_before]
    return seen


# --- launching against any target: --connect-to and --ca-bundle, honoured ------------------------

def target_launch_args(urls: Iterable[str], connect_to: Iterable[str] = (), ca_bundle: str | None = None,
                       timeout: float = 10.0) -> list[str]:
    """Chromium flags that reach ``urls`` as the harness does: ``--connect-to`` and ``--ca-bundle`` honoured.

    ``--connect-to HOST:PORT:ADDR:APORT`` becomes ``--host-resolver-rules=MAP HOST:PORT ADDR:APORT``.
    With ``--ca-bundle`` Chromium cannot be given the CA, so each https origin's served leaf is first
    verified here with Python's ``ssl`` against the bundle (hostname included); only then is that leaf's
    SPKI pinned with ``--ignore-certificate-errors-spki-list``. A leaf that does not verify raises
    ``CertificateNotTrusted``: certificate errors are never ignored blindly.
    """
    from urllib.parse import urlsplit

    rules = []
    mapped: dict[tuple[str, int], tuple[str, int]] = {}
    for item in connect_to:
        parts = item.split(":")
        if len(parts) != 4 or not parts[0] or not parts[1].isdigit():
            continue  # the settings validated every item; an IPv6 address is not mapped here
        host, port, addr, aport = parts
        mapped[(host.lower(), int(port))] = (addr or host, int(aport or port))
        rules.append(f"MAP {host}:{port} {addr or host}:{aport or port}")
    args = [f"--host-resolver-rules={', '.join(rules)}"] if rules else []
    if ca_bundle:
        pins = []
        for url in dict.fromkeys(urls):
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                continue
            host, port = parts.hostname.lower(), parts.port or 443
            addr, aport = mapped.get((host, port), (host, port))
            pins.append(verified_leaf_spki(host, addr, aport, ca_bundle, timeout))
        if pins:
            args.append(f"--ignore-certificate-errors-spki-list={','.join(dict.fromkeys(pins))}")
    return args


class CertificateNotTrusted(BrowserError):
    """The leaf a host serves does not verify against ``--ca-bundle`` (so Chromium is not told to trust it)."""


def verified_leaf_spki(host: str, addr: str, port: int, ca_bundle: str, timeout: float = 10.0) -> str:
    """Base64 SHA-256 of the SPKI of the leaf ``addr:port`` serves for ``host``, after verifying it."""
    import hashlib
    import socket
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    context = ssl.create_default_context(cafile=ca_bundle)
    try:
        with socket.create_connection((addr, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise CertificateNotTrusted(f"the certificate {host} serves (at {addr}:{port}) does not verify against "
                                    f"{ca_bundle}: {exc.verify_message or exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise BrowserError(f"could not reach {host} at {addr}:{port} to read its certificate: {exc}") from None
    if not der:
        raise CertificateNotTrusted(f"{host} presented no certificate")
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# --- HAR 1.2 from the Network domain --------------------------------------------------------------

def _har_headers(headers: dict[str, Any] | None) -> list[dict[str, str]]:
    out = []
    for name, value in (headers or {}).items():
        for line in str(value).split("\n"):  # CDP joins repeated headers (Set-Cookie) with newlines
            out.append({"name": str(name), "value": line})
    return out


def _har_request_cookies(headers: list[dict[str, str]]) -> list[dict[str, str]]:
    cookies = []
    for h in headers:
        if h["name"].lower() == "cookie":
            for pair in h["value"].split(";"):
                name, _, value = pair.strip().partition("=")
                if name:
                    cookies.append({"name": name, "value": value})
    return cookies


def _har_response_cookies(headers: list[dict[str, str]]) -> list[dict[str, Any]]:
    from stackfast_conformance.sessions import parse_set_cookie

    cookies = []
    for h in headers:
        if h["name"].lower() == "set-cookie":
            parsed = parse_set_cookie(h["value"])
            if parsed is None:
                continue
            cookie: dict[str, Any] = {"name": parsed.name, "value": parsed.value}
            for key, har_key in (("path", "path"), ("domain", "domain"), ("expires", "expires"),
                                 ("samesite", "sameSite")):
                if parsed.attribute(key):
                    cookie[har_key] = parsed.attribute(key)
            cookie["httpOnly"], cookie["secure"] = parsed.has("HttpOnly"), parsed.has("Secure")
            cookies.append(cookie)
    return cookies


def _iso(wall_time: float | None) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(wall_time, UTC) if wall_time else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_har(page: Page, bodies: bool = True, request_ids: bool = False) -> dict[str, Any]:
    """The page's Network events so far as a HAR 1.2 log (as Chrome's "Save all as HAR with content").

    Request headers come from ``requestWillBeSentExtraInfo`` (what went on the wire, ``Cookie``
    included) and response headers from ``responseReceivedExtraInfo`` (``Set-Cookie`` included),
    matched to the hops of one request id in order; a request the browser failed or blocked is an
    entry with status 0 and ``response._error`` (plus ``_blockedReason`` / ``_corsError``), as
    Chrome writes it. Response bodies of text answers are read with ``Network.getResponseBody``.
    """
    method_events: list[tuple[str, dict[str, Any]]] = []
    with page.browser._lock:
        for e in page.browser.events:
            if e.get("sessionId") == page.session_id and str(e.get("method", "")).startswith("Network."):
                method_events.append((e["method"], e.get("params", {})))
    entries: list[dict[str, Any]] = []
    hops: dict[str, list[dict[str, Any]]] = {}
    sent_extra: dict[str, list[dict[str, Any]]] = {}
    got_extra: dict[str, list[dict[str, Any]]] = {}

    def close_hop(entry: dict[str, Any], response: dict[str, Any]) -> None:
        entry["response"].update(status=int(response.get("status") or 0), statusText=response.get("statusText", ""),
                                 httpVersion=response.get("protocol", "http/1.1").upper(),
                                 headers=_har_headers(response.get("headers")))
        entry["response"]["content"]["mimeType"] = response.get("mimeType", "")
        entry["response"]["redirectURL"] = next((h["value"] for h in entry["response"]["headers"]
                                                 if h["name"].lower() == "location"), "")
        entry["_remote"] = response.get("remoteIPAddress")

    for method, p in method_events:
        rid = p.get("requestId", "")
        if method == "Network.requestWillBeSent":
            if p.get("redirectResponse") and hops.get(rid):
                close_hop(hops[rid][-1], p["redirectResponse"])
            request = p["request"]
            url = request["url"] + request.get("urlFragment", "")
            from urllib.parse import parse_qsl, urlsplit

            entry: dict[str, Any] = {
                "startedDateTime": _iso(p.get("wallTime")), "time": 0, "_resourceType": str(p.get("type", "")).lower(),
                "_requestId": rid,
                "request": {"method": request["method"], "url": url, "httpVersion": "HTTP/1.1",
                            "headers": _har_headers(request.get("headers")), "cookies": [],
                            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query)],
                            "headersSize": -1, "bodySize": len(request.get("postData", "") or "")},
                "response": {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                             "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1,
                             "bodySize": -1},
                "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
            }
            if request.get("postData"):
                entry["request"]["postData"] = {"mimeType": request.get("headers", {}).get("Content-Type", ""),
                                                "text": request["postData"]}
            hops.setdefault(rid, []).append(entry)
            entries.append(entry)
        elif method == "Network.requestWillBeSentExtraInfo":
            sent_extra.setdefault(rid, []).append(p)
        elif method == "Network.responseReceivedExtraInfo":
            got_extra.setdefault(rid, []).append(p)
        elif method == "Network.responseReceived" and hops.get(rid):
            close_hop(hops[rid][-1], p["response"])
            hops[rid][-1]["_finalHop"] = True
        elif method == "Network.loadingFailed" and hops.get(rid):
            last = hops[rid][-1]
            last["response"]["_error"] = p.get("errorText", "")
            if p.get("blockedReason"):
                last["response"]["_blockedReason"] = p["blockedReason"]
            cors = (p.get("corsErrorStatus") or {}).get("corsError")
            if cors:
                last["response"]["_corsError"] = cors
        elif method == "Network.loadingFinished" and hops.get(rid):
            hops[rid][-1]["_finished"] = True

    for rid, chain in hops.items():
        for entry, extra in zip(chain, sent_extra.get(rid, []), strict=False):
            entry["request"]["headers"] = _har_headers(extra.get("headers"))
        for entry, extra in zip(chain, got_extra.get(rid, []), strict=False):
            if entry["response"].get("_error"):
                continue
            entry["response"]["headers"] = _har_headers(extra.get("headers"))
            entry["response"]["status"] = int(extra.get("statusCode") or entry["response"]["status"])
        for entry in chain:
            entry["request"]["cookies"] = _har_request_cookies(entry["request"]["headers"])
            entry["response"]["cookies"] = _har_response_cookies(entry["response"]["headers"])
        last = chain[-1]
        mime = last["response"]["content"]["mimeType"]
        if bodies and last.pop("_finished", False) and ("json" in mime or mime.startswith("text/")):
            try:
                body = page.send("Network.getResponseBody", {"requestId": rid}, timeout=5)
            except BrowserError:
                continue
            last["response"]["content"].update(text=body.get("body", ""), size=len(body.get("body", "")))
            if body.get("base64Encoded"):
                last["response"]["content"]["encoding"] = "base64"
    for entry in entries:
        entry.pop("_finished", None)
        entry.pop("_finalHop", None)
        if not request_ids:  # DevTools' request id: for matching Network events, not part of the HAR
            entry.pop("_requestId", None)
    version = page.browser.send("Browser.getVersion").get("product", "Chromium")
    return {"log": {"version": "1.2", "creator": {"name": "stackfast-conformance", "version": "1"},
                    "browser": {"name": "Chromium", "version": version}, "pages": [], "entries": entries}}


def sanitize_har(har: dict[str, Any]) -> dict[str, Any]:
    """``har`` as Chrome exports it by default: no Cookie, Set-Cookie or Authorization headers, no cookies."""
    out = json.loads(json.dumps(har))
    for entry in out["log"]["entries"]:
        for side in ("request", "response"):
            part = entry[side]
            part["headers"] = [h for h in part["headers"]
                               if h["name"].lower() not in ("cookie", "set-cookie", "authorization")]
            part["cookies"] = []
    return out


# --- the live audit of a web app: what a visitor's browser sees, no sign-in -----------------------

AUDIT_TIMEOUT_SECONDS = 20.0
_VIOLATION_LISTENER = """
window.__sfViolations = window.__sfViolations || [];
document.addEventListener('securitypolicyviolation', (e) => window.__sfViolations.push({
  directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI,
  policy: e.originalPolicy, disposition: e.disposition, page: String(location.href)}));
"""


class WebAudit:
    """What Chromium saw loading a web app and following its in-app links (no cookie value is kept).

    ``requests``: dicts ``{method, url, type, status, error, blocked, cors, credentials, origin,
    acao, acac}`` (``url`` without its query); ``violations``: CSP ``securitypolicyviolation``
    events; ``console``: console errors and uncaught exceptions; ``visited``: the pages seen.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.violations: list[dict[str, Any]] = []
        self.console: list[str] = []
        self.visited: list[str] = []
        self.har: dict[str, Any] | None = None
        self.session_call: dict[str, Any] | None = None
        self.disturbed: list[tuple[str, str]] = []  # (url, what) the network disturbed (network_disturbances)
        self.earlier: list[str] = []                # why earlier visits were redone


def _network_idle(page: Page, quiet: float = 0.5, timeout: float = AUDIT_TIMEOUT_SECONDS) -> bool:
    """Wait (bounded) until every request has finished or failed and nothing new started for ``quiet`` s."""
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        started = {e["requestId"] for e in page.events("Network.requestWillBeSent")}
        done = {e["requestId"] for m in ("Network.loadingFinished", "Network.loadingFailed")
                for e in page.events(m)}
        count = len(page.browser.events)
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        ready = _safe_evaluate(page, "document.readyState") == "complete"
        if ready and started <= done and time.monotonic() - last_change >= quiet:
            return True
        time.sleep(0.1)
    return False


def _collect_violations(page: Page, audit: WebAudit) -> None:
    for violation in _safe_evaluate(page, "window.__sfViolations || []") or []:
        if violation not in audit.violations:
            audit.violations.append(violation)


def audit_web_app(page: Page, web_url: str, max_links: int = 3, timeout: float = AUDIT_TIMEOUT_SECONDS
                  ) -> WebAudit:
    """Open ``web_url``, follow up to ``max_links`` same-origin in-app links, record what the browser saw."""
    from urllib.parse import urlsplit

    from stackfast_conformance.evidence import register_secret

    audit = WebAudit()
    page.send("Log.enable")
    page.send("Page.addScriptToEvaluateOnNewDocument", {"source": _VIOLATION_LISTENER})
    page.navigate(web_url)
    _network_idle(page, timeout=timeout)
    audit.visited.append(str(_safe_evaluate(page, "location.href")))
    _collect_violations(page, audit)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(web_url))
    links = _safe_evaluate(page, "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)") or []
    followed = [u for u in dict.fromkeys(links) if u.startswith(origin + "/") and "/api/" not in u
                and u.split("#", 1)[0] != audit.visited[0].split("#", 1)[0]][:max_links]
    for url in followed:
        clicked = _safe_evaluate(page, "(() => { const a = Array.from(document.querySelectorAll('a[href]'))"
                                       f".find(a => a.href === {json.dumps(url)}); if (!a) return false;"
                                       " a.click(); return true; })()")
        if not clicked:
            page.navigate(url)
        _network_idle(page, timeout=timeout)
        audit.visited.append(str(_safe_evaluate(page, "location.href")))
        _collect_violations(page, audit)

    for event in page.events("Log.entryAdded"):
        entry = event.get("entry", {})
        if entry.get("level") == "error":
            audit.console.append(f"[{entry.get('source')}] {entry.get('text', '')}"[:400])
    for event in page.events("Runtime.consoleAPICalled"):
        if event.get("type") == "error":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in event.get("args", []))
            audit.console.append(f"[console] {text}"[:400])
    for event in page.events("Runtime.exceptionThrown"):
        details = event.get("exceptionDetails", {})
        audit.console.append(f"[exception] {details.get('exception', {}).get('description') or details.get('text')}"
                             [:400])
    audit.har = record_har(page, bodies=False, request_ids=True)
    found = network_disturbances(page)
    disturbed = {request_id: what for request_id, _, what in found}
    audit.disturbed = [(url, what) for _, url, what in found]
    for entry in audit.har["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        for cookie in request["cookies"] + response["cookies"]:
            register_secret(str(cookie.get("value", "")))

        def header(headers: list[dict[str, str]], name: str) -> str | None:
            return next((h["value"] for h in headers if h["name"].lower() == name), None)

        audit.requests.append({
            "method": request["method"], "url": request["url"].split("?", 1)[0], "type": entry["_resourceType"],
            "status": response["status"] or None, "error": response.get("_error"),
            "blocked": response.get("_blockedReason"), "cors": response.get("_corsError"),
            "credentials": bool(request["cookies"]), "origin": header(request["headers"], "origin"),
            "acao": header(response["headers"], "access-control-allow-origin"),
            "acac": header(response["headers"], "access-control-allow-credentials"),
            "disturbed": disturbed.get(entry.pop("_requestId", "")),  # an edge's page or a dropped connection
        })
    return audit
