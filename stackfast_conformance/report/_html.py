"""The run as ONE self-contained HTML page: inline CSS and JS, no external resource.

Everything dynamic goes through ``_e`` (``html.escape``): headers and bodies come from the
target, which may be hostile. The script reads only DOM attributes; no run data is ever
interpolated into it. Without JavaScript the page shows everything, unfiltered.

Stable hooks for tests and for people linking into a report: each criterion is
``<details class="crit" id="crit-R4.7" data-verdict="FAILED">``; filter buttons carry
``data-filter="FAILED"`` (and ``all``, ``blocking``); ``#crit-R4.7`` in the URL opens that row.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping
from typing import Any

from stackfast_conformance.report import _common as c
from stackfast_conformance.verdicts import ERROR_LABELS, verdict_label

_BODY_LIMIT = 4096  # characters of a body excerpt shown (the record already caps them at 2 KiB)


def _e(value: Any) -> str:
    return html.escape(c.text(value), quote=True)


def _href(url: Any) -> str | None:
    """Only http(s) links: a ``javascript:`` URL in the data must not become a link."""
    s = c.text(url).strip()
    return html.escape(s, quote=True) if s.lower().startswith(("https://", "http://")) else None


def _link(url: Any, label: Any) -> str:
    href = _href(url)
    return (
        f'<a href="{href}" rel="noreferrer noopener" target="_blank">{_e(label)}</a>' if href else _e(label)
    )


def _duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _badge(verdict: str, label: str | None = None) -> str:
    """``label`` (e.g. ``ERROR (harness error)``, see verdicts.verdict_label) replaces the shown text only."""
    return (f'<span class="badge v-{_e(verdict)}" title="{_e(c.VERDICT_LABELS.get(verdict, ""))}">'
            f'{_e(label or verdict)}</span>')


def _outcome(outcome: Any) -> str:
    o = c.text(outcome) or "unknown"
    return f'<span class="badge o-{_e(o)}">{_e(o.replace("_", " "))}</span>'


def _copyable(label: str, content: Any, cls: str = "curl") -> str:
    return (
        f'<div class="{cls}"><div class="code-head"><span>{_e(label)}</span>'
        f'<button type="button" class="copy" title="Copy to the clipboard">Copy</button></div>'
        f"<pre>{_e(content)}</pre></div>"
    )


def render_html(run: dict) -> str:
    page = _Page(run)
    return page.render()


class _Page:
    def __init__(self, run: Mapping[str, Any]) -> None:
        self.run = run
        self.info = c.run_info(run)
        self.checks = c.checks_by_id(run)
        self.exchanges = c.exchanges_by_id(run)
        self.blocking = c.blocking_ids(run)
        self.blocking_set = set(self.blocking)
        self.spec_url = (run.get("spec") or {}).get("url")
        self._ids = itertools.count(1)

    # -- page -------------------------------------------------------------------------------
    def render(self) -> str:
        state, sentence = c.headline(self.run)
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="color-scheme" content="light">',
            f"<title>{_e(sentence)} · Stackfast conformance {_e(self.info.get('id') or '')}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            f'<body class="state-{state}">',
            self._header(state, sentence),
            self._toolbar(),
            '<div class="wrap">',
            self._blocking_section(),
            _comparison_section(self.run),
            '<main id="matrix">',
            *(
                self._requirement(rid, title, members)
                for rid, title, members in c.requirement_groups(self.run)
            ),
            '<p id="empty" class="empty" hidden>No criterion matches this filter.</p>',
            "</main>",
            self._findings(),
            self._footer(),
            "</div>",
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
        ]
        return "\n".join(p for p in parts if p) + "\n"

    def _header(self, state: str, sentence: str) -> str:
        info = self.info
        meta: list[tuple[str, str]] = [
            (label, f"<code>{_e(url)}</code>") for label, url in c.targets_line(self.run)
        ]
        meta.append(("Profile", _e(info.get("profile") or "?")))
        meta.append(("Environment", _e(info.get("environment") or "?")))
        when = _e(info.get("started_at") or "?")
        if info.get("duration_s") is not None:
            when += f" · {_e(_duration(info['duration_s']))}"
        meta.append(("Started", when))
        meta.append(("Checks executed", _e(info.get("checks_executed") or 0)))
        meta.append(("Requests sent", _e(info.get("requests_sent") or 0)))
        meta.append(("Opt-ins", _e(c.join(c.opt_ins(self.run)) or "none")))
        spec = self.run.get("spec") or {}
        if spec:
            label = f"{c.text(spec.get('repository'))} {c.text(spec.get('path')).rsplit('/', 1)[-1]}".strip()
            commit = c.text(spec.get("commit"))[:10]
            meta.append(
                (
                    "Spec",
                    _link(spec.get("url"), label or "spec")
                    + (f" @ <code>{_e(commit)}</code>" if commit else ""),
                )
            )
        reference = info.get("reference")
        if isinstance(reference, Mapping):
            meta.append(("Reference faults", _e(c.join(reference.get("faults") or []) or "none")))
            meta.append(("Reference variants", _e(c.join(reference.get("variants") or []) or "none")))
        if isinstance(info.get("reference_inputs"), Mapping):  # reference_inputs.py: the no-argument demo
            meta.append(("Config and repo inputs", _e(info["reference_inputs"].get("note") or "")))
        health = (self.run.get("deploy_evidence") or {}).get("health")
        if isinstance(health, Mapping):
            meta.append(
                (
                    "Health at deploy",
                    f"{_e(health.get('status'))} <code>{_e(c.shorten(health.get('body'), 40))}</code>",
                )
            )
        if info.get("exit_status") is not None:
            meta.append(("Exit status", _e(info.get("exit_status"))))

        caveats = "".join(f"<li>{_e(n)}</li>" for n in c.caveats(self.run))
        chips = "".join(
            f'<span class="chip v-{_e(v)}"><b>{n}</b> {_e(v.replace("_", " "))}</span>'
            for v, n in c.summary_counts(self.run).items()
            if n
        )
        total = sum(c.summary_counts(self.run).values())
        return (
            f'<header class="top"><div class="wrap">'
            f'<p class="kicker">Stackfast conformance · run <code>{_e(info.get("id") or "?")}</code></p>'
            f'<h1 id="run-verdict" data-state="{state}">{_e(sentence)}</h1>'
            + (f'<ul class="caveats">{caveats}</ul>' if caveats else "")
            + '<dl class="meta">'
            + "".join(f"<div><dt>{_e(k)}</dt><dd>{v}</dd></div>" for k, v in meta)
            + "</dl>"
            + f'<div class="chips" id="summary"><span class="chip total"><b>{total}</b> criteria</span>{chips}</div>'
            + "</div></header>"
        )

    def _toolbar(self) -> str:
        counts = c.summary_counts(self.run)
        total = sum(counts.values())
        buttons = [
            f'<button type="button" class="filter active" data-filter="all" aria-pressed="true">All <span>{total}</span></button>',
            f'<button type="button" class="filter f-blocking" data-filter="blocking" aria-pressed="false">'
            f"Blocking <span>{len(self.blocking)}</span></button>",
        ]
        for v, n in counts.items():
            buttons.append(
                f'<button type="button" class="filter v-{_e(v)}{" zero" if not n else ""}" data-filter="{_e(v)}" '
                f'aria-pressed="false">{_e(v)} <span>{n}</span></button>'
            )
        return (
            '<nav class="toolbar" aria-label="Filter the matrix"><div class="wrap bar">'
            f'<div class="filters" role="group" aria-label="Verdict">{"".join(buttons)}</div>'
            '<div class="tools"><input type="search" id="search" placeholder="Search id, statement, reason, check…" '
            'aria-label="Search criteria">'
            '<button type="button" id="expand-all">Expand all</button>'
            '<button type="button" id="collapse-all">Collapse all</button>'
            f'<span id="shown" aria-live="polite">{total} of {total} criteria shown</span></div>'
            "</div></nav>"
        )

    def _blocking_section(self) -> str:
        if not self.blocking:
            return ""
        by_id = {cr.get("id"): cr for cr in c.criteria(self.run)}
        items = []
        for cid in self.blocking:
            cr = by_id.get(cid) or {}
            verdict = c.text(cr.get("verdict") or "FAILED")
            items.append(
                f'<li><a href="#crit-{_e(cid)}" class="cid">{_e(cid)}</a> {_badge(verdict, verdict_label(cr))} '
                f'<span class="reason">{_e(cr.get("reason"))}</span>'
                f'<span class="stmt">{_e(cr.get("statement"))}</span></li>'
            )
        return f'<section class="blocking" id="blocking"><h2>Blocking the release</h2><ol>{"".join(items)}</ol></section>'

    # -- matrix -----------------------------------------------------------------------------
    def _requirement(self, rid: str, title: str, members: list[Mapping[str, Any]]) -> str:
        counts: dict[str, int] = {}
        for cr in members:
            v = c.text(cr.get("verdict") or "UNCOVERED")
            counts[v] = counts.get(v, 0) + 1
        mini = "".join(
            f'<span class="mini v-{_e(v)}" title="{_e(v)}">{counts[v]} {_e(v.replace("_", " ").lower())}</span>'
            for v in c.VERDICTS
            if counts.get(v)
        )
        rows = "".join(self._criterion(cr, title) for cr in members)
        return (
            f'<section class="req" id="req-{_e(rid)}">'
            f'<h2><span class="rid">{_e(rid)}</span> {_e(title)}<span class="minis">{mini}</span></h2>'
            '<div class="cols" aria-hidden="true"><span>Criterion</span><span>Statement</span>'
            "<span>Verdict</span><span>Reason</span><span>Checks</span></div>"
            f"{rows}</section>"
        )

    def _criterion(self, cr: Mapping[str, Any], req_title: str) -> str:
        cid = c.text(cr.get("id"))
        verdict = c.text(cr.get("verdict") or "UNCOVERED")
        own = c.checks_of(cr, self.checks)
        n = len(cr.get("checks") or [])
        blocking = cid in self.blocking_set
        search = " ".join(
            [cid, verdict, c.text(cr.get("statement")), c.text(cr.get("reason")), req_title]
            + [c.text(i) for i in cr.get("checks") or []]
        ).lower()
        summary = (
            f'<summary><span class="cid">{_e(cid)}</span>'
            f'<span class="stmt">{_e(cr.get("statement"))}</span>'
            f'<span class="verdict">{_badge(verdict, verdict_label(cr))}'
            f'{"<span class=blocker>blocks release</span>" if blocking else ""}</span>'
            f'<span class="reason">{_e(cr.get("reason")) or "<span class=muted>—</span>"}</span>'
            f'<span class="nchecks">{n if n else "—"}</span></summary>'
        )
        facts = [
            ("Modality", _e(cr.get("modality"))),
            ("Severity", _e(cr.get("severity"))),
            ("Observation", _e(c.join(cr.get("observation") or []))),
            ("Applies to", _e(c.join(cr.get("applies_to") or []))),
            ("Fingerprint", f"<code>{_e(cr.get('fingerprint'))}</code>" if cr.get("fingerprint") else ""),
            ("Spec", _link(cr.get("spec_url") or self.spec_url, f"{cid} in the spec")),
        ]
        body = ['<div class="crit-body">']
        body.append(
            '<dl class="facts">'
            + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts if v)
            + "</dl>"
        )
        if cr.get("reason"):
            body.append(f'<p class="why"><b>{_e(verdict_label(cr))}:</b> {_e(cr.get("reason"))}</p>')
        attestation = cr.get("attestation")
        if isinstance(attestation, Mapping):
            body.append(
                '<div class="note attest"><b>Attested</b> by '
                f"{_e(attestation.get('by') or '?')} on {_e(attestation.get('at') or '?')}"
                f"{' · expires ' + _e(attestation.get('expires')) if attestation.get('expires') else ''}"
                f"<br>{_e(attestation.get('evidence'))}</div>"
            )
        waiver = cr.get("waiver")
        if isinstance(waiver, Mapping):
            expired = " <b class=expired>EXPIRED</b>" if waiver.get("expired") else ""
            body.append(
                f'<div class="note waiver"><b>Waived</b> by {_e(waiver.get("owner") or "?")}'
                f"{' · expires ' + _e(waiver.get('expires')) if waiver.get('expires') else ' · no expiry'}{expired}"
                f"<br>{_e(waiver.get('reason'))}</div>"
            )
        if own:
            body.append(f'<h3 class="sub">Checks ({len(own)})</h3>')
            body.extend(self._check(ch) for ch in own)
        missing = [i for i in cr.get("checks") or [] if i not in self.checks]
        for i in missing:
            body.append(f'<p class="muted">Check <code>{_e(i)}</code> has no recorded outcome.</p>')
        if not n:
            body.append('<p class="muted">No automated check is linked to this criterion.</p>')
        body.append("</div>")
        return (
            f'<details class="crit v-{_e(verdict)}" id="crit-{_e(cid)}" data-verdict="{_e(verdict)}" '
            f'data-blocking="{"true" if blocking else "false"}" data-search="{_e(search)}">'
            f"{summary}{''.join(body)}</details>"
        )

    # -- checks, exchanges, timelines ------------------------------------------------------
    def _check(self, ch: Mapping[str, Any]) -> str:
        outcome = c.text(ch.get("outcome") or "unknown")
        safety = c.text(ch.get("safety") or "read-only")
        opened = " open" if outcome in ("failed", "error") else ""
        head = (
            f"<summary>{_outcome(outcome)} <code class=name>{_e(ch.get('name') or ch.get('id'))}</code>"
            f' <span class="file">{_e(ch.get("file"))}</span>'
            f' <span class="tag safety-{_e(safety)}" title="safety class">{_e(safety)}</span>'
            f' <span class="dur">{_e(_duration(ch.get("duration_s")))}</span></summary>'
        )
        body = ['<div class="check-body">']
        body.append(f'<p class="check-id"><code>{_e(ch.get("id"))}</code></p>')
        if ch.get("doc"):
            body.append(f'<p class="doc">{_e(ch.get("doc"))}</p>')
        failure = ch.get("failure")
        if isinstance(failure, Mapping):
            body.append(
                '<dl class="failure">'
                f"<div><dt>Expected</dt><dd>{_e(failure.get('expected'))}</dd></div>"
                f"<div><dt>Seen</dt><dd>{_e(failure.get('seen'))}</dd></div></dl>"
            )
        if ch.get("reason"):
            body.append(
                f'<p class="check-reason"><b>{_e(outcome.replace("_", " "))}'
                f'{" (" + ERROR_LABELS.get(ch.get("error_class") or "target", "") + ")" if outcome == "error" else ""}'
                f':</b> {_e(ch.get("reason"))}</p>'
            )
        extras = []
        if ch.get("cases") is not None:
            extras.append(f"{_e(ch.get('cases'))} generated examples")
        if ch.get("seed") is not None:
            extras.append(f"Hypothesis seed <code>{_e(ch.get('seed'))}</code>")
        if extras:
            body.append(f'<p class="extras">{" · ".join(extras)}</p>')
        curl = c.first_curl(ch, self.exchanges)
        if curl:
            body.append(_copyable("Reproduce with curl", curl))
        timeline = ch.get("timeline")
        if timeline:
            body.append(self._timeline(timeline))
        xs = [self.exchanges[i] for i in ch.get("exchanges") or [] if i in self.exchanges]
        if xs:
            body.append(f'<h4 class="sub">Exchanges ({len(xs)})</h4>')
            body.extend(self._exchange(x) for x in xs)
        body.append("</div>")
        return f'<details class="check outcome-{_e(outcome)}"{opened}>{head}{"".join(body)}</details>'

    def _exchange(self, x: Mapping[str, Any]) -> str:
        status = x.get("status")
        if status is None:
            status_html = '<span class="status s-none">no response</span>'
        else:
            status_html = f'<span class="status s-{_e(str(status)[:1])}xx">{_e(status)}</span>'
        timing = f"{float(x['elapsed_ms']):.1f} ms" if x.get("elapsed_ms") is not None else ""
        head = (
            f'<summary><span class="method">{_e(x.get("method"))}</span> <span class="url">{_e(x.get("url"))}</span> '
            f'{status_html} <span class="dur">{_e(timing)}</span></summary>'
        )
        req = [
            f"<h5>Request <span class=muted>{_e(x.get('started_at'))}</span></h5>",
            self._headers(x.get("request_headers")),
        ]
        if x.get("request_body"):
            req.append(f'<pre class="body">{_e(c.shorten(x.get("request_body"), _BODY_LIMIT))}</pre>')
        resp = ["<h5>Response</h5>"]
        if x.get("error"):
            resp.append(f'<p class="x-error">{_e(x.get("error"))}</p>')
        if status is not None or x.get("response_headers"):
            resp.append(self._headers(x.get("response_headers")))
        if x.get("response_body"):
            resp.append(f'<pre class="body">{_e(c.shorten(x.get("response_body"), _BODY_LIMIT))}</pre>')
        parts = [f'<div class="x-grid"><div>{"".join(req)}</div><div>{"".join(resp)}</div></div>']
        if x.get("curl"):
            parts.append(_copyable("curl", x.get("curl")))
        return f'<details class="exchange">{head}<div class="x-body">{"".join(parts)}</div></details>'

    @staticmethod
    def _headers(headers: Any) -> str:
        if not isinstance(headers, Mapping) or not headers:
            return '<p class="muted">no headers recorded</p>'
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in headers.items())
        return f'<table class="headers">{rows}</table>'

    def _timeline(self, entries: Any) -> str:
        """A horizontal timeline: actions as bars lasting until the next action (or their
        ``duration_s``), requests as ticks coloured by ``ok``, notes as diamonds."""
        items = [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("t"), int | float)]
        if not items:
            return ""
        uid = next(self._ids)
        left, right, width = 74.0, 984.0, 1000
        span = max(max(float(e["t"]) + float(e.get("duration_s") or 0) for e in items), 0.001) * 1.04
        lo = min(0.0, min(float(e["t"]) for e in items))
        span -= lo

        def x(t: float) -> float:
            return left + (float(t) - lo) / span * (right - left)

        svg = [
            f'<svg class="tl" viewBox="0 0 {width} 112" role="img" preserveAspectRatio="xMinYMin meet" '
            f'aria-label="Timeline of {len(items)} events over {_e(f"{span:.1f}")} s">'
        ]
        svg.append(
            '<text class="lane" x="6" y="27">actions</text><text class="lane" x="6" y="54">requests</text>'
            '<text class="lane" x="6" y="76">notes</text>'
        )
        actions = sorted((e for e in items if e.get("kind") == "action"), key=lambda e: float(e["t"]))
        for i, a in enumerate(actions):
            start = float(a["t"])
            if a.get("duration_s") is not None:
                end = start + float(a["duration_s"])
            else:
                end = float(actions[i + 1]["t"]) if i + 1 < len(actions) else lo + span
            x0, x1 = x(start), max(x(end), x(start) + 4)
            clip = f"tl{uid}a{i}"
            svg.append(
                f'<g class="action{" bad" if a.get("ok") is False else ""} a{i % 3}"><title>{_e(f"{start:.2f} s")} '
                f"action: {_e(a.get('label'))}</title>"
                f'<clipPath id="{clip}"><rect x="{x0:.1f}" y="14" width="{x1 - x0:.1f}" height="18"/></clipPath>'
                f'<rect x="{x0:.1f}" y="14" width="{x1 - x0:.1f}" height="18" rx="3"/>'
                f'<text x="{x0 + 5:.1f}" y="27" clip-path="url(#{clip})">{_e(a.get("label"))}</text></g>'
            )
        for e in items:
            if e.get("kind") == "request":
                cls = "ok" if e.get("ok") else "bad"
                svg.append(
                    f'<line class="req {cls}" x1="{x(e["t"]):.1f}" x2="{x(e["t"]):.1f}" y1="38" y2="62">'
                    f"<title>{_secs(e['t'])} {_e(e.get('label'))}</title></line>"
                )
        for e in items:
            if e.get("kind") not in ("request", "action"):
                px = x(e["t"])
                cls = "bad" if e.get("ok") is False else "ok"
                svg.append(
                    f'<path class="note {cls}" d="M{px:.1f} 66 l6 6 l-6 6 l-6 -6 z">'
                    f"<title>{_secs(e['t'])} {_e(e.get('label'))}</title></path>"
                )
        svg.append(f'<line class="axis" x1="{left}" x2="{right}" y1="88" y2="88"/>')
        step = _nice_step(span)
        t = 0.0 if lo >= 0 else lo
        while t <= lo + span + 1e-9:
            px = x(t)
            svg.append(
                f'<line class="tick" x1="{px:.1f}" x2="{px:.1f}" y1="88" y2="93"/>'
                f'<text class="tick" x="{px:.1f}" y="106">{_e(f"{t:g}")} s</text>'
            )
            t = round(t + step, 6)
        svg.append("</svg>")
        rows = "".join(
            f'<tr class="k-{_e(e.get("kind"))}"><td>{_secs(e["t"])}</td><td>{_e(e.get("kind"))}</td>'
            f"<td>{_e(e.get('label'))}</td><td>{'ok' if e.get('ok') else 'not ok' if e.get('ok') is False else ''}</td></tr>"
            for e in sorted(items, key=lambda e: float(e["t"]))
        )
        legend = (
            '<div class="legend"><span class="lg action">action</span><span class="lg ok">request ok</span>'
            '<span class="lg bad">request not ok</span><span class="lg note">note</span></div>'
        )
        return (
            f'<div class="timeline"><div class="code-head"><span>Timeline</span>{legend}</div>{"".join(svg)}'
            f'<details class="tl-table"><summary>All {len(items)} timeline entries</summary>'
            f'<table class="entries"><tr><th>t</th><th>kind</th><th>label</th><th>ok</th></tr>{rows}</table>'
            "</details></div>"
        )

    # -- findings, footer -------------------------------------------------------------------
    def _findings(self) -> str:
        findings = self.run.get("findings") or []
        out = [f'<section class="findings" id="findings"><h2>Advisory findings ({len(findings)})</h2>']
        if not findings:
            out.append('<p class="muted">None.</p>')
        for f in findings:
            crits = " ".join(
                f'<a class="cid" href="#crit-{_e(cid)}">{_e(cid)}</a>' for cid in f.get("criteria") or []
            )
            x = self.exchanges.get(f.get("exchange")) if f.get("exchange") else None
            out.append(
                f'<article class="finding"><h3>{_e(f.get("title"))} <span class="tag">{_e(f.get("severity") or "advisory")}</span>'
                f" {crits}</h3><p>{_e(f.get('detail'))}</p>"
                + (f'<p class="muted">from <code>{_e(f.get("check"))}</code></p>' if f.get("check") else "")
                + (self._exchange(x) if x else "")
                + "</article>"
            )
        out.append("</section>")
        return "".join(out)

    def _footer(self) -> str:
        tool = self.run.get("tool") or {}
        return (
            f"<footer><p>{_e(tool.get('name') or 'stackfast-conformance')} {_e(tool.get('version') or '')} · "
            f"{_e(self.run.get('schema') or '')} v{_e(self.run.get('schema_version') or '?')} · "
            f"finished {_e(self.info.get('finished_at') or '?')}</p></footer>"
        )


def _secs(t: Any) -> str:
    return f"{float(t):.2f} s"


def _nice_step(span: float) -> float:
    raw = span / 8
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= raw:
            return float(step)
    return float(round(raw, -2) or 600)


_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;
--PASSED:#1a7f37;--PASSED-bg:#dafbe1;--FAILED:#cf222e;--FAILED-bg:#ffebe9;--ERROR:#bc4c00;--ERROR-bg:#fff1e5;
--SKIPPED:#59636e;--SKIPPED-bg:#eaeef2;--NOT_APPLICABLE:#6e7781;--NOT_APPLICABLE-bg:#f6f8fa;
--MANUAL:#8250df;--MANUAL-bg:#fbefff;--ATTESTED:#0969da;--ATTESTED-bg:#ddf4ff;--WAIVED:#9a6700;--WAIVED-bg:#fff8c5;
--UNCOVERED:#424a53;--UNCOVERED-bg:#eff2f5}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
code,pre,.cid,.method,.url,.status,.tag{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
code{font-size:12.5px;overflow-wrap:anywhere}
a{color:#0969da}
.wrap{max-width:1320px;margin:0 auto;padding:0 20px}
.muted{color:var(--muted)}
header.top{color:#fff;background:#24292f;padding:18px 0 16px}
.state-blocked header.top{background:linear-gradient(90deg,#a40e26,#cf222e)}
.state-clear header.top{background:linear-gradient(90deg,#116329,#1a7f37)}
.state-nothing header.top{background:linear-gradient(90deg,#6e5400,#9a6700)}
header.top code{color:inherit;background:rgba(255,255,255,.16);padding:1px 5px;border-radius:4px}
header.top a{color:#fff}
.kicker{margin:0;opacity:.85;font-size:13px}
h1{margin:4px 0 8px;font-size:28px;letter-spacing:.2px}
.caveats{margin:0 0 10px;padding-left:18px;font-weight:600}
.meta{display:flex;flex-wrap:wrap;gap:6px 22px;margin:0 0 12px}
.meta div{min-width:0}
.meta dt{font-size:11px;text-transform:uppercase;letter-spacing:.6px;opacity:.8}
.meta dd{margin:0;overflow-wrap:anywhere}
.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{display:inline-flex;gap:5px;align-items:baseline;padding:3px 10px;border-radius:999px;font-size:13px;
background:var(--bg);color:var(--fg);border:1px solid rgba(0,0,0,.12)}
.chip.total{background:rgba(255,255,255,.18);color:#fff;border-color:rgba(255,255,255,.35)}
.chip b{font-size:15px}
.toolbar{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.97);border-bottom:1px solid var(--line);
box-shadow:0 1px 3px rgba(0,0,0,.06)}
.bar{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center;padding-top:8px;padding-bottom:8px}
.filters,.tools{display:flex;flex-wrap:wrap;gap:5px;align-items:center}
.tools{margin-left:auto}
button{font:inherit;font-size:12.5px;cursor:pointer;border:1px solid var(--line);background:#fff;color:var(--fg);
border-radius:6px;padding:3px 9px}
button:hover{background:var(--bg)}
button.filter span{color:var(--muted);font-size:11.5px}
button.filter.zero{opacity:.55}
button.filter.active{background:#24292f;color:#fff;border-color:#24292f}
button.filter.active span{color:#d1d9e0}
#search{font:inherit;font-size:13px;padding:4px 9px;border:1px solid var(--line);border-radius:6px;width:290px}
#shown{color:var(--muted);font-size:12.5px;min-width:150px;text-align:right}
h2{font-size:18px;margin:22px 0 8px}
.blocking{margin-top:18px;background:var(--card);border:1px solid var(--line);border-left:4px solid var(--FAILED);
border-radius:8px;padding:4px 16px 10px}
.blocking h2{margin-top:10px;color:var(--FAILED)}
.blocking ol{margin:0;padding-left:20px}
.blocking li{margin:6px 0}
.blocking .reason{font-weight:600;margin-left:4px}
.blocking .stmt{display:block;color:var(--muted)}
a.cid{font-weight:600;text-decoration:none}
.req{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:16px 0;overflow:hidden}
.req>h2{margin:0;padding:10px 14px;background:#f6f8fa;border-bottom:1px solid var(--line);display:flex;
flex-wrap:wrap;gap:8px;align-items:center;font-size:16px}
.rid{font-family:ui-monospace,Menlo,Consolas,monospace;background:#24292f;color:#fff;border-radius:5px;padding:1px 7px}
.minis{margin-left:auto;display:flex;flex-wrap:wrap;gap:4px;font-size:11.5px;font-weight:500}
.mini{padding:1px 7px;border-radius:999px;border:1px solid currentColor}
.cols,.crit>summary{display:grid;grid-template-columns:72px minmax(0,2.3fr) 150px minmax(0,1.7fr) 52px;gap:12px;
padding:7px 14px}
.cols{font-size:11px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);border-bottom:1px solid var(--line);
padding-top:5px;padding-bottom:5px}
.cols span:last-child,.nchecks{text-align:right}
.crit{border-bottom:1px solid #eaeef2;border-left:4px solid transparent}
.crit:last-child{border-bottom:0}
.crit>summary{cursor:pointer;list-style:none;align-items:start}
.crit>summary::-webkit-details-marker{display:none}
.crit>summary:hover{background:#f6f8fa}
.crit[open]>summary{background:#f6f8fa;border-bottom:1px solid #eaeef2}
.crit .cid{font-weight:600;white-space:nowrap}
.crit .cid::before{content:"\\25B8";display:inline-block;width:12px;color:var(--muted)}
.crit[open] .cid::before{content:"\\25BE"}
.crit .stmt,.crit .reason{overflow-wrap:anywhere;min-width:0}
.crit .reason{color:#424a53}
.verdict{display:flex;flex-direction:column;gap:3px;align-items:flex-start}
.blocker{font-size:10.5px;font-weight:700;color:var(--FAILED);text-transform:uppercase;letter-spacing:.4px}
.crit.v-FAILED,.crit.v-ERROR{border-left-color:var(--FAILED)}
.crit.v-ERROR{border-left-color:var(--ERROR)}
.crit.v-WAIVED{border-left-color:var(--WAIVED)}
.badge{display:inline-block;font-size:11px;font-weight:700;letter-spacing:.4px;padding:2px 7px;border-radius:4px;
border:1px solid currentColor;white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace}
.v-PASSED{--c:var(--PASSED);--b:var(--PASSED-bg)}.v-FAILED{--c:var(--FAILED);--b:var(--FAILED-bg)}
.v-ERROR{--c:var(--ERROR);--b:var(--ERROR-bg)}.v-SKIPPED{--c:var(--SKIPPED);--b:var(--SKIPPED-bg)}
.v-NOT_APPLICABLE{--c:var(--NOT_APPLICABLE);--b:var(--NOT_APPLICABLE-bg)}.v-MANUAL{--c:var(--MANUAL);--b:var(--MANUAL-bg)}
.v-ATTESTED{--c:var(--ATTESTED);--b:var(--ATTESTED-bg)}.v-WAIVED{--c:var(--WAIVED);--b:var(--WAIVED-bg)}
.v-UNCOVERED{--c:var(--UNCOVERED);--b:var(--UNCOVERED-bg)}
.badge[class*=v-],.mini[class*=v-],.chip[class*=v-]{color:var(--c);background:var(--b)}
.chip[class*=v-]{border-color:transparent}
button.filter[class*=v-]:not(.active){color:var(--c)}
.o-passed{color:var(--PASSED);background:var(--PASSED-bg)}.o-failed{color:var(--FAILED);background:var(--FAILED-bg)}
.o-error{color:var(--ERROR);background:var(--ERROR-bg)}.o-skipped{color:var(--SKIPPED);background:var(--SKIPPED-bg)}
.o-not_applicable{color:var(--NOT_APPLICABLE);background:var(--NOT_APPLICABLE-bg)}
details.check.outcome-failed,details.check.outcome-error{border-color:#ff8182}
.crit-body{padding:10px 16px 14px 30px}
.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:0 0 8px;font-size:12.5px}
.facts dt{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.5px}
.facts dd{margin:0}
.why{margin:6px 0}
.note{border-radius:6px;padding:7px 10px;margin:8px 0;font-size:13px}
.note.attest{background:var(--ATTESTED-bg)}.note.waiver{background:var(--WAIVED-bg)}
.expired{color:var(--FAILED)}
h3.sub,h4.sub{font-size:12px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);margin:12px 0 6px}
details.check{border:1px solid var(--line);border-radius:6px;margin:6px 0}
details.check>summary{cursor:pointer;padding:6px 10px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
details.check>summary .name{font-weight:600}
.file{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.dur{color:var(--muted);font-size:12px;margin-left:auto}
.tag{font-size:11px;border:1px solid var(--line);border-radius:4px;padding:0 6px;background:#f6f8fa;color:#424a53}
.safety-quota{background:#fff8c5;border-color:#d4a72c}.safety-disruptive{background:#ffebe9;border-color:#ff8182}
.safety-mutating{background:#fbefff;border-color:#c297ff}
.check-body{padding:4px 12px 10px;border-top:1px solid #eaeef2}
.check-id{margin:4px 0;color:var(--muted)}
.doc{margin:4px 0;font-style:italic}
dl.failure{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:8px 0}
dl.failure div{background:#f6f8fa;border-radius:6px;padding:6px 9px;min-width:0}
dl.failure div+div{background:var(--FAILED-bg)}
dl.failure dt{font-size:11px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted)}
dl.failure dd{margin:0;overflow-wrap:anywhere}
.check-reason,.extras{margin:6px 0}
.curl,.timeline{margin:8px 0}
.code-head{display:flex;align-items:center;gap:10px;font-size:11px;text-transform:uppercase;letter-spacing:.6px;
color:var(--muted);margin-bottom:3px}
.code-head button{margin-left:auto;text-transform:none;letter-spacing:0;font-size:11.5px;padding:1px 8px}
.code-head button.done{color:var(--PASSED);border-color:var(--PASSED)}
pre{margin:0;padding:8px 10px;background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;font-size:12.5px;
white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;max-width:100%}
.curl pre{background:#24292f;color:#f0f3f6;border-color:#24292f}
pre.body{max-height:18em;overflow-y:auto;overflow-x:hidden}
details.exchange{border:1px solid #eaeef2;border-radius:6px;margin:5px 0;background:#fff}
details.exchange>summary{cursor:pointer;padding:5px 9px;display:flex;gap:8px;align-items:baseline;min-width:0}
.method{font-weight:700;font-size:12px}
.url{overflow-wrap:anywhere;min-width:0;font-size:12.5px}
.status{font-weight:700;font-size:12px;padding:0 6px;border-radius:4px}
.s-2xx{color:var(--PASSED);background:var(--PASSED-bg)}.s-3xx{color:var(--ATTESTED);background:var(--ATTESTED-bg)}
.s-4xx{color:var(--ERROR);background:var(--ERROR-bg)}.s-5xx,.s-none{color:var(--FAILED);background:var(--FAILED-bg)}
.x-body{padding:4px 10px 10px}
.x-grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:14px}
.x-grid h5{margin:6px 0 4px;font-size:12px}
.x-error{color:var(--FAILED);font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere;margin:4px 0}
table{border-collapse:collapse;width:100%}
table.headers,table.entries{table-layout:fixed;font-size:12px;margin-bottom:6px}
table.headers th{width:34%;text-align:left;font-weight:600;color:#424a53}
table.headers th,table.headers td,table.entries td,table.entries th{padding:2px 6px;border-bottom:1px solid #eaeef2;
vertical-align:top;overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace}
table.entries th{text-align:left}
table.entries td:first-child,table.entries th:first-child{width:70px}
table.entries td:nth-child(2),table.entries th:nth-child(2){width:70px}
table.entries td:last-child,table.entries th:last-child{width:60px}
svg.tl{display:block;width:100%;height:auto;background:#fbfcfd;border:1px solid #eaeef2;border-radius:6px}
svg.tl text{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#424a53}
svg.tl text.lane{fill:#8c959f;font-size:10px}
svg.tl .action rect{fill:#ddf4ff;stroke:#0969da}
svg.tl .action.a1 rect{fill:#fbefff;stroke:#8250df}
svg.tl .action.a2 rect{fill:#fff8c5;stroke:#9a6700}
svg.tl .action.bad rect{fill:#ffebe9;stroke:#cf222e}
svg.tl .req{stroke-width:3;stroke-linecap:round}
svg.tl .req.ok{stroke:#1a7f37}svg.tl .req.bad{stroke:#cf222e}
svg.tl .note{fill:#6e7781}svg.tl .note.bad{fill:#cf222e}
svg.tl .axis,svg.tl .tick{stroke:#8c959f}
svg.tl text.tick{text-anchor:middle;fill:#6e7781;font-size:10px}
.legend{text-transform:none;letter-spacing:0}
.lg{white-space:nowrap;margin-right:12px}
.lg::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px;border-radius:2px}
.lg.action::before{background:#ddf4ff;border:1px solid #0969da}.lg.ok::before{background:#1a7f37;width:3px}
.lg.bad::before{background:#cf222e;width:3px}.lg.note::before{background:#6e7781;transform:rotate(45deg) scale(.75)}
details.tl-table>summary{cursor:pointer;font-size:12px;color:var(--muted);margin-top:4px}
.findings{margin-top:24px}
.finding{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--WAIVED);border-radius:8px;
padding:4px 14px 10px;margin:8px 0}
.finding h3{font-size:15px;margin:8px 0 4px;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.finding p{margin:4px 0;overflow-wrap:anywhere}
.empty{padding:30px;text-align:center;color:var(--muted)}
footer{color:var(--muted);font-size:12px;padding:20px 0 40px}
@media (max-width:900px){.cols{display:none}.crit>summary{grid-template-columns:64px minmax(0,1fr) auto}
.crit .reason{grid-column:2/4}.nchecks{display:none}.x-grid,dl.failure{grid-template-columns:minmax(0,1fr)}
.tools{margin-left:0}#search{width:100%}}
@media print{.toolbar,button{display:none}details{display:block}}
"""

_JS = """
(function(){
  var rows=Array.prototype.slice.call(document.querySelectorAll('details.crit'));
  var sections=Array.prototype.slice.call(document.querySelectorAll('section.req'));
  var buttons=Array.prototype.slice.call(document.querySelectorAll('button[data-filter]'));
  var search=document.getElementById('search');
  var shown=document.getElementById('shown');
  var empty=document.getElementById('empty');
  var current='all';
  function matches(row,terms){
    if(current==='blocking'){if(row.getAttribute('data-blocking')!=='true')return false;}
    else if(current!=='all'&&row.getAttribute('data-verdict')!==current)return false;
    var hay=row.getAttribute('data-search')||'';
    for(var i=0;i<terms.length;i++){if(hay.indexOf(terms[i])<0)return false;}
    return true;
  }
  function apply(){
    var terms=(search.value||'').toLowerCase().split(/\\s+/).filter(Boolean);
    var n=0;
    rows.forEach(function(r){var ok=matches(r,terms);r.hidden=!ok;if(ok)n++;});
    sections.forEach(function(s){s.hidden=!s.querySelector('details.crit:not([hidden])');});
    shown.textContent=n+' of '+rows.length+' criteria shown';
    empty.hidden=n>0;
  }
  function select(filter){
    current=filter;
    buttons.forEach(function(b){var on=b.getAttribute('data-filter')===filter;
      b.classList.toggle('active',on);b.setAttribute('aria-pressed',on?'true':'false');});
    apply();
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){select(b.getAttribute('data-filter'));});});
  search.addEventListener('input',apply);
  document.getElementById('expand-all').addEventListener('click',function(){
    rows.forEach(function(r){if(!r.hidden)r.open=true;});});
  document.getElementById('collapse-all').addEventListener('click',function(){
    rows.forEach(function(r){r.open=false;});});
  function copied(button){button.textContent='Copied';button.classList.add('done');
    setTimeout(function(){button.textContent='Copy';button.classList.remove('done');},1500);}
  document.addEventListener('click',function(ev){
    var button=ev.target.closest&&ev.target.closest('button.copy');
    if(!button)return;
    ev.preventDefault();
    var pre=button.parentNode.parentNode.querySelector('pre');
    var value=pre?pre.textContent:'';
    function fallback(){var area=document.createElement('textarea');area.value=value;
      document.body.appendChild(area);area.select();
      try{document.execCommand('copy');copied(button);}catch(e){}document.body.removeChild(area);}
    if(navigator.clipboard&&window.isSecureContext){
      navigator.clipboard.writeText(value).then(function(){copied(button);},fallback);
    }else{fallback();}
  });
  function openHash(){
    var id=decodeURIComponent(location.hash.slice(1));
    var el=id&&document.getElementById(id);
    if(!el||el.tagName!=='DETAILS')return;
    if(el.hidden){search.value='';select('all');}
    el.open=true;el.scrollIntoView({block:'start'});
  }
  window.addEventListener('hashchange',openHash);
  openHash();
})();
"""


def _comparison_section(run: dict) -> str:
    """run --baseline DIR: the comparison with the baseline run (diff.py), or nothing."""
    from stackfast_conformance.diff import report_section_html

    return report_section_html(run)
