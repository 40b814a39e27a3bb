"""Static audit of a Stackfast checkout (``--repo PATH``): Railway manifests, migrations, limiter,
Sentry wiring, rollback runbook and the README's deployment documentation.

Each ``audit_*`` function returns the :class:`Problem` list for one criterion (empty = conforming),
so a check is ``expect(not problems, ...)`` and a test can call it directly. Problems name the
file (and line when there is one), what was expected and what was found. Nothing here reads
secrets; file contents are only quoted when they are code or documentation.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from stackfast_conformance.audits._commands import PnpmCall, Step, parse_chain, pnpm_call, unwrap

__all__ = ["AUDITS", "ADR_LINKS", "PRODUCTION_VARIABLES", "Problem", "RepoAudit", "destructive_migrations"]

API_MANIFEST = "apps/api/railway.toml"
WEB_MANIFEST = "apps/web/railway.toml"
API_PACKAGE, API_DIR = "@stackfast/api", "apps/api"
WEB_PACKAGE, WEB_DIR = "@stackfast/web", "apps/web"
WEB_DIST = "apps/web/dist"
# ADR 003's secrets table, as criteria.md lists it (R14.1). AZURE_OPENAI_* is a family.
PRODUCTION_VARIABLES = ("PORT", "NODE_ENV", "CORS_ORIGIN", "DATABASE_URL", "BETTER_AUTH_SECRET", "BETTER_AUTH_URL",
                        "ALLOW_AUTH_BYPASS", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ADMIN_API_KEY",
                        "AI_PROVIDER", "AZURE_OPENAI_*", "GEMINI_API_KEY", "UPSTASH_REDIS_REST_URL",
                        "UPSTASH_REDIS_REST_TOKEN", "SENTRY_DSN")
ADR_LINKS = ("docs/decisions/001-authentication-strategy.md", "docs/decisions/002-ai-provider-strategy.md",
             "docs/decisions/003-deployment-architecture.md")
RUNBOOK = "scripts/deploy/rollback.md"
_MIGRATE = re.compile(r"\bmigrat|drizzle-kit\s+(push|migrate)|db:push", re.I)
_SOURCE_SUFFIXES = (".ts", ".tsx", ".js", ".mjs", ".cjs", ".mts")
_DESTRUCTIVE = re.compile(r"\b(DROP\s+COLUMN|RENAME\s+COLUMN)\b", re.I)
# GitHub shows any of these (any letter case) as the repository's README; the root one wins
_README_NAMES = ("readme.md", "readme.markdown", "readme.mdown", "readme.rst", "readme.txt", "readme")
_README_DIRS = ("", ".github", "docs")
_NODE_CODENAMES = {"hydrogen": 18, "iron": 20, "jod": 22}


@dataclass(frozen=True)
class Problem:
    expected: str
    seen: str
    where: str  # "apps/api/railway.toml" or "readme.md:12"

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}; seen {self.seen}"


@dataclass(frozen=True)
class Manifest:
    """A service's Railway config-as-code file (railway.toml or railway.json), parsed."""

    path: str
    data: dict[str, Any]
    text: str

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}


class RepoAudit:
    """Reads files of one checkout (cached) and answers the audits.

    Paths are looked up as written first, then letter-case-insensitively component by component
    (:meth:`find`), because the documents a person reads on GitHub (``readme.md``, ``Docs/…``) keep
    their meaning whatever their case.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"--repo: {self.root} is not a directory; give the path of a Stackfast checkout")
        self._text: dict[str, str | None] = {}
        self._listing: dict[str, dict[str, str]] = {}

    # -- file access ---------------------------------------------------------------------------
    def _entries(self, directory: str) -> dict[str, str]:
        """``{name: name}`` of one directory, exact names (cached)."""
        if directory not in self._listing:
            try:
                names = os.listdir(self.root / directory) if directory else os.listdir(self.root)
            except OSError:
                names = []
            self._listing[directory] = {name: name for name in names}
        return self._listing[directory]

    def exact(self, relative: str) -> bool:
        """Whether ``relative`` names a file with exactly this spelling (GitHub links are case-sensitive)."""
        parts = [p for p in relative.split("/") if p and p != "."]
        directory = ""
        for index, part in enumerate(parts):
            if part not in self._entries(directory):
                return False
            directory = posixpath.join(directory, part) if directory else part
            if index < len(parts) - 1 and not (self.root / directory).is_dir():
                return False
        return bool(parts) and (self.root / directory).is_file()

    def find(self, relative: str) -> str | None:
        """The checkout's own spelling of ``relative``: exact first, then ignoring letter case."""
        if self.exact(relative):
            return relative
        directory = ""
        for part in [p for p in relative.split("/") if p and p != "."]:
            entries = self._entries(directory)
            match = part if part in entries else next((n for n in sorted(entries) if n.lower() == part.lower()), None)
            if match is None:
                return None
            directory = posixpath.join(directory, match) if directory else match
        return directory if (self.root / directory).is_file() else None

    def text(self, relative: str) -> str | None:
        """Text of ``relative`` (found case-insensitively, see :meth:`find`), or None."""
        if relative not in self._text:
            found = self.find(relative)
            try:
                self._text[relative] = (self.root / found).read_text(encoding="utf-8", errors="replace") \
                    if found else None
            except OSError:
                self._text[relative] = None
        return self._text[relative]

    def toml(self, relative: str) -> tuple[dict[str, Any] | None, str | None]:
        text = self.text(relative)
        if text is None:
            return None, "file missing"
        try:
            return tomllib.loads(text), None
        except tomllib.TOMLDecodeError as exc:
            return None, f"not valid TOML ({exc})"

    def package(self, relative: str) -> dict[str, Any] | None:
        text = self.text(relative)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def files(self, under: str, suffixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
        base = self.root / under
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.name.endswith(suffixes) and "node_modules" not in path.parts:
                relative = path.relative_to(self.root).as_posix()
                text = self.text(relative)
                if text is not None:
                    yield relative, text

    def grep(self, under: str, pattern: str, suffixes: tuple[str, ...] = _SOURCE_SUFFIXES) -> list[tuple[str, int, str]]:
        regex = re.compile(pattern)
        hits = []
        for relative, text in self.files(under, suffixes):
            for number, line in enumerate(text.splitlines(), start=1):
                if regex.search(line):
                    hits.append((relative, number, line.strip()))
        return hits

    # -- documents ------------------------------------------------------------------------------
    def readme_path(self) -> str | None:
        """The file GitHub shows as the README (any letter case; root, then .github/, then docs/)."""
        for directory in _README_DIRS:
            entries = self._entries(directory)
            for wanted in _README_NAMES:
                name = next((n for n in sorted(entries) if n.lower() == wanted), None)
                if name and (self.root / directory / name).is_file():
                    return posixpath.join(directory, name) if directory else name
        return None

    def readme(self) -> tuple[str | None, str | None]:
        path = self.readme_path()
        return (path, self.text(path)) if path else (None, None)

    def links(self, relative: str) -> list[tuple[str, str, int]]:
        """(checkout path the link points to, the link as written, line) of a markdown file's links.

        Inline links, reference definitions, HTML ``href`` and autolinks; ``./x``, ``/x`` (repository
        root, as GitHub reads it) and ``https://github.com/OWNER/REPO/blob/REF/x`` all point to ``x``.
        Links to other sites and pure anchors are left out.
        """
        text = self.text(relative) or ""
        base = posixpath.dirname(self.find(relative) or relative)
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            raw_links = re.findall(r"\]\(\s*<?([^)\s>]+)", line)
            raw_links += re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", line)
            raw_links += re.findall(r"href\s*=\s*[\"']([^\"']+)", line)
            raw_links += re.findall(r"<(https?://[^>\s]+)>", line)
            for raw in raw_links:
                target = _link_target(raw, base)
                if target is not None:
                    found.append((target, raw, number))
        return found

    def linked_docs(self, relative: str) -> list[str]:
        """Markdown files of the checkout that ``relative`` links (not the ADRs nor the spec)."""
        docs = []
        for target, _, _ in self.links(relative):
            found = self.find(target)
            if found and found.lower().endswith((".md", ".markdown")) and found not in docs \
                    and not found.lower().startswith(("docs/decisions/", ".kiro/")):
                docs.append(found)
        return docs

    # -- manifests ------------------------------------------------------------------------------
    def manifest(self, service: str) -> tuple[Manifest | None, list[Problem]]:
        """The service's Railway config: ``apps/<service>/railway.toml``, else ``railway.json``."""
        for name in ("railway.toml", "railway.json"):
            relative = f"apps/{service}/{name}"
            if not self.exact(relative):
                continue
            text = self.text(relative) or ""
            try:
                data = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
            except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
                return None, [Problem(f"a valid Railway manifest at {relative}", f"not valid ({exc})", relative)]
            if not isinstance(data, dict):
                return None, [Problem(f"a Railway manifest object at {relative}", type(data).__name__, relative)]
            return Manifest(relative, data, text), []
        relative = f"apps/{service}/railway.toml"
        return None, [Problem(f"a Railway manifest at {relative} (or railway.json)", "file missing", relative)]

    def scripts(self, directory: str | None) -> dict[str, str]:
        """The ``scripts`` of the package in ``directory`` (None: the workspace root)."""
        relative = f"{directory}/package.json" if directory and directory != "." else "package.json"
        scripts = (self.package(relative) or {}).get("scripts") or {}
        return {str(k): str(v) for k, v in scripts.items()} if isinstance(scripts, dict) else {}

    def node_version(self, service: str, manifest: Manifest | None) -> tuple[int | None, str]:
        """(Node major the build gets, where it comes from), in the builders' order of precedence.

        An explicit ``NIXPACKS_NODE_VERSION`` (manifest or nixpacks.toml) beats ``engines.node`` of the
        app, then of the workspace root, then ``.nvmrc`` / ``.node-version`` / ``.tool-versions``.
        """
        pins: list[tuple[Any, str]] = []
        if manifest is not None:
            for table in _variable_tables(manifest.data):
                pins.append((table.get("NIXPACKS_NODE_VERSION"), f"{manifest.path} NIXPACKS_NODE_VERSION"))
        for relative in (f"apps/{service}/nixpacks.toml", "nixpacks.toml"):
            data, _ = self.toml(relative)
            if data:
                pins.append(((data.get("variables") or {}).get("NIXPACKS_NODE_VERSION"),
                             f"{relative} [variables] NIXPACKS_NODE_VERSION"))
                packages = ((data.get("phases") or {}).get("setup") or {}).get("nixPkgs") or []
                node = next((p for p in packages if re.match(r"^nodejs[_-]?\d+", str(p))), None)
                pins.append((re.sub(r"^nodejs[_-]?", "", str(node)) if node else None, f"{relative} nixPkgs"))
        for relative in (f"apps/{service}/package.json", "package.json"):
            engines = (self.package(relative) or {}).get("engines") or {}
            pins.append((engines.get("node") if isinstance(engines, dict) else None, f"{relative} engines.node"))
        for relative in (f"apps/{service}/.nvmrc", ".nvmrc", f"apps/{service}/.node-version", ".node-version"):
            pins.append(((self.text(relative) or "").strip() or None, relative))
        tools = re.search(r"^\s*node(?:js)?\s+(\S+)", self.text(".tool-versions") or "", re.M)
        pins.append((tools.group(1) if tools else None, ".tool-versions"))
        for value, source in pins:
            if value not in (None, ""):
                return _node_major(str(value)), f"{source} = {value!r}"
        return None, "no Node version pinned (NIXPACKS_NODE_VERSION, engines.node, .nvmrc)"


def _variable_tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    build = data.get("build") if isinstance(data.get("build"), dict) else {}
    plan = build.get("nixpacksPlan") if isinstance(build.get("nixpacksPlan"), dict) else {}
    tables = [plan.get("variables"), build.get("variables"), data.get("variables")]
    return [t for t in tables if isinstance(t, dict)]


def _node_major(spec: str) -> int | None:
    """The lowest Node major a version or range admits (``>=20.0.0`` -> 20, ``lts/iron`` -> 20)."""
    text = spec.strip().lower()
    codename = re.fullmatch(r"lts/(\w+)", text)
    if codename:
        return _NODE_CODENAMES.get(codename.group(1))
    majors = []
    for alternative in text.split("||"):
        bounds = re.findall(r"(>=|<=|>|<|\^|~|=)?\s*v?(\d+)(?:\.[\dxX*]+)*", alternative)
        lower = [int(n) + (1 if op == ">" else 0) for op, n in bounds if op not in ("<", "<=")]
        if lower:
            majors.append(min(lower))
    return min(majors) if majors else None


def _link_target(raw: str, base: str) -> str | None:
    raw = raw.strip().strip("<>")
    parts = urlsplit(raw)
    if parts.scheme in ("http", "https"):
        match = re.match(r"^/[^/]+/[^/]+/(?:blob|tree|raw)/[^/]+/(.+)$", parts.path) \
            if parts.hostname in ("github.com", "www.github.com") else None
        return posixpath.normpath(unquote(match.group(1))) if match else None
    if parts.scheme or not parts.path:
        return None  # mailto:, another scheme, or a pure #anchor
    path = unquote(parts.path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(base, path)
    normal = posixpath.normpath(joined)
    return None if normal.startswith("..") else normal


# -- commands: meaning of build, start and migration commands ------------------------------------

def _main_path(steps: list[Step]) -> list[Step]:
    """Steps that run when every earlier step succeeds (not the `||` fallbacks, not `cd`)."""
    return [s for s in steps if s.after != "||" and s.words[:1] != ("cd",)]


def _describe(command: Any) -> str:
    return repr(command) if not isinstance(command, list) else repr(" && ".join(map(str, command)))


def _build_problems(audit: RepoAudit, manifest: Manifest, package: str, directory: str) -> list[Problem]:
    """The buildCommand installs with the ``<package>...`` filter, then builds ``package``."""
    command = manifest.section("build").get("buildCommand")
    wanted = f"[build] buildCommand installing with `--filter {package}...` then running `pnpm --filter {package} build`"
    steps = parse_chain(command)
    if not steps:
        return [Problem(wanted, "no buildCommand" if command in (None, "") else f"not a command: {_describe(command)}",
                        manifest.path)]
    main = _main_path(steps)
    calls = [(i, call) for i, s in enumerate(main) if (call := pnpm_call(s)) is not None]
    installs = [(i, c) for i, c in calls if c.is_install]
    good_install = next((i for i, c in installs if c.selects(package, directory, with_dependencies=True)), None)
    problems = []
    if good_install is None:
        if not installs:
            seen = "no pnpm install on the success path" + (" (it follows `||`)" if any(
                (c := pnpm_call(s)) is not None and c.is_install for s in steps) else "")
        elif any(not c.filters and c.directory is None for _, c in installs):
            seen = "`pnpm install` without the workspace filter"
        elif any(c.selects(package, directory) for _, c in installs):
            seen = f"a filter on {package} without `...`: its workspace dependencies are not installed"
        else:
            seen = "an install filtered to " + ", ".join(f for _, c in installs for f in c.filters)
        problems.append(Problem(wanted, f"{seen} in {_describe(command)}", manifest.path))
    builds = [(i, c) for i, c in calls if c.command == "run" and c.script == "build"]
    good_build = next((i for i, c in builds if c.selects(package, directory) or
                       c.selects(package, directory, with_dependencies=True)), None)
    if good_build is None:
        if builds:
            other = [f for _, c in builds for f in c.selects_other_than(package, directory)] or ["no package filter"]
            seen = f"the build step selects {', '.join(other)}, not {package}"
        else:
            seen = "no `pnpm … build` step on the success path"
        problems.append(Problem(wanted, f"{seen} in {_describe(command)}", manifest.path))
    elif good_install is not None and good_build < good_install:
        problems.append(Problem(wanted, f"the build runs before the install in {_describe(command)}", manifest.path))
    return problems


def _runs_script(audit: RepoAudit, call: PnpmCall, package: str, directory: str, script: str) -> bool:
    return call.command == "run" and call.script == script and (
        call.selects(package, directory) or call.selects(package, directory, with_dependencies=True))


def _same_as_script(audit: RepoAudit, step: Step, directory: str, script: str) -> bool:
    """``node apps/api/dist/index.js`` is the package's ``start`` script (``node dist/index.js``) run from the root."""
    body = audit.scripts(directory).get(script)
    ours = parse_chain(body or "", directory)
    if len(ours) != 1:
        return False

    def resolved(s: Step) -> tuple[str, ...]:
        return tuple(posixpath.normpath(posixpath.join(s.cwd, w)) if "/" in w or w.endswith((".js", ".mjs", ".cjs"))
                     else w for w in unwrap(s.words))
    return resolved(step) == resolved(ours[0])


def _start_problems(audit: RepoAudit, manifest: Manifest, package: str, directory: str) -> list[Problem]:
    command = manifest.section("deploy").get("startCommand")
    wanted = f"[deploy] startCommand running the start script of {package} (`pnpm --filter {package} start`)"
    main = _main_path(parse_chain(command))
    for step in main:
        call = pnpm_call(step)
        if call is not None and _runs_script(audit, call, package, directory, "start"):
            return []
        if call is None and _same_as_script(audit, step, directory, "start"):
            return []
    return [Problem(wanted, _describe(command) if command else "no startCommand", manifest.path)]


def _node_problems(audit: RepoAudit, service: str, manifest: Manifest) -> list[Problem]:
    major, source = audit.node_version(service, manifest)
    if major == 20:
        return []
    return [Problem("Node 20 (NIXPACKS_NODE_VERSION, engines.node, .nvmrc or .node-version selecting 20)",
                    source if major is None else f"Node {major} from {source}", manifest.path)]


def _is_migration(audit: RepoAudit, step: Step) -> bool:
    """A step that applies migrations: drizzle-kit migrate/push, a migrate script or runner file."""
    words = unwrap(step.words)
    if words[:2] == ("railway", "run"):
        inner = list(words[words.index("--") + 1:]) if "--" in words else []
        return bool(inner) and any(_is_migration(audit, s) for s in parse_chain(" ".join(inner), step.cwd))
    call = pnpm_call(step)
    if call is not None and call.command == "run" and call.script:
        directory = call.directory or (API_DIR if call.filters and any(
            call.selects(API_PACKAGE, API_DIR, d) for d in (False, True)) else None)
        body = audit.scripts(directory).get(call.script, "")
        return bool(_MIGRATE.search(call.script) or _MIGRATE.search(body))
    return bool(_MIGRATE.search(" ".join(words)))


def _migration_steps(audit: RepoAudit, command: Any) -> list[Step]:
    return [s for s in _main_path(parse_chain(command)) if _is_migration(audit, s)]


def _code_commands(text: str) -> list[tuple[str, int]]:
    """Commands a markdown document shows: fenced code lines (with ``\\`` continuations) and inline code."""
    found: list[tuple[str, int]] = []
    fenced = False
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or line.startswith(("    ", "\t")):
            body = stripped.removeprefix("$ ").strip()
            if pending:
                body = pending + " " + body
            else:
                start = number
            if body.endswith("\\"):
                pending = body[:-1]
                continue
            pending = ""
            if body:
                found.append((body, start))
            continue
        for span in re.findall(r"`([^`]+)`", line):
            found.append((span, number))
    return found


def _canonical(audit: RepoAudit, step: Step) -> tuple[Any, ...]:
    """What a step does, spelling aside: pnpm selection + command + script + args; else its words."""
    words = unwrap(step.words)
    if words[:2] == ("railway", "run") and "--" in words:
        inner = parse_chain(" ".join(words[words.index("--") + 1:]), step.cwd)
        return _canonical(audit, inner[-1]) if inner else words
    call = pnpm_call(step)
    if call is None:
        return words
    selected = tuple(sorted({f.rstrip(".") for f in call.filters})) or (call.directory or ".",)
    return ("pnpm", selected, call.command, call.script, call.args)


def _documented_one_shots(audit: RepoAudit) -> list[tuple[str, str, int]]:
    """`railway run … -- <migration>` commands in the README, the docs it links and scripts/deploy/*.md."""
    path, _ = audit.readme()
    documents = ([path, *audit.linked_docs(path)] if path else []) + \
        [r for r, _ in audit.files("scripts/deploy", (".md",))]
    found = []
    for document in dict.fromkeys(documents):
        for command, number in _code_commands(audit.text(document) or ""):
            for step in parse_chain(command):
                if unwrap(step.words)[:2] == ("railway", "run") and _is_migration(audit, step):
                    found.append((command, document, number))
    return found


def _one_shot_services(audit: RepoAudit) -> list[str]:
    """Railway manifests of a one-shot migration service (restartPolicyType NEVER, migration start)."""
    found = []
    for directory in ("apps", "services", "scripts/deploy", "scripts"):
        for relative, text in audit.files(directory, ("railway.toml", "railway.json")):
            if relative in (API_MANIFEST, WEB_MANIFEST) or relative.startswith(("apps/api/", "apps/web/")):
                continue
            try:
                data = tomllib.loads(text) if relative.endswith(".toml") else json.loads(text)
            except (tomllib.TOMLDecodeError, json.JSONDecodeError):
                continue
            deploy = data.get("deploy") if isinstance(data, dict) and isinstance(data.get("deploy"), dict) else {}
            if str(deploy.get("restartPolicyType", "")).upper() == "NEVER" and \
                    _migration_steps(audit, deploy.get("startCommand")):
                found.append(relative)
    return found


def audit_api_service(audit: RepoAudit) -> list[Problem]:
    """R1.1: the API manifest builds with the @stackfast/api filter commands, starts it, on Node 20.

    Commands are judged by meaning (see ``_commands.py``): extra flags, ``--filter=`` spellings,
    ``pnpm run build`` and set-up steps such as ``corepack enable &&`` are the same command.
    """
    manifest, problems = audit.manifest("api")
    if manifest is None:
        return problems
    return (_build_problems(audit, manifest, API_PACKAGE, API_DIR) + _start_problems(audit, manifest, API_PACKAGE, API_DIR)
            + _node_problems(audit, "api", manifest))


def audit_api_healthcheck(audit: RepoAudit) -> list[Problem]:
    """R1.1 (service definition): the API service's Railway healthcheck is /health."""
    manifest, problems = audit.manifest("api")
    if manifest is None:
        return problems
    path = manifest.section("deploy").get("healthcheckPath")
    return [] if path == "/health" else [Problem("[deploy] healthcheckPath = '/health'", repr(path), manifest.path)]


def _served_roots(audit: RepoAudit, manifest: Manifest) -> list[tuple[str, str]]:
    """(directory, where it is set) of every static root the web's configuration names."""
    roots = []
    for table in _variable_tables(manifest.data):
        for name in ("NIXPACKS_SPA_OUTPUT_DIR", "RAILPACK_STATIC_FILE_ROOT", "NIXPACKS_STATIC_ROOT"):
            if table.get(name):
                roots.append((posixpath.normpath(str(table[name]).strip("/")), f"{manifest.path} {name}"))
    for relative in ("Staticfile", "apps/web/Staticfile"):
        match = re.search(r"^\s*root:\s*(\S+)", audit.text(relative) or "", re.M)
        if match:
            base = posixpath.dirname(relative)
            roots.append((posixpath.normpath(posixpath.join(base, match.group(1))), f"{relative} root"))
    for step in _main_path(parse_chain(manifest.section("deploy").get("startCommand"))):
        words = unwrap(step.words)
        call = pnpm_call(step)
        base = step.cwd
        if call is not None:
            if call.selects(WEB_PACKAGE, WEB_DIR) or call.directory == WEB_DIR:
                base = WEB_DIR
            words = (call.script or call.command, *call.args)
        if not any(w in ("serve", "http-server", "caddy", "sirv", "static") for w in words):
            continue
        for word in words[1:]:
            if not word.startswith("-") and ("/" in word or word in ("dist", "build", "public", "out")):
                roots.append((posixpath.normpath(posixpath.join(base, word)), f"{manifest.path} startCommand"))
    return roots


def audit_web_service(audit: RepoAudit) -> list[Problem]:
    """R1.2: the web manifest builds with the @stackfast/web filter commands and serves apps/web/dist.

    The static root counts where the configuration sets it (Nixpacks/Railpack variables, a
    Staticfile, a serve command); a root set out of band (``railway variables --set
    RAILPACK_STATIC_FILE_ROOT=apps/web/dist``) counts when the manifest or README documents it.
    """
    manifest, problems = audit.manifest("web")
    if manifest is None:
        return problems
    problems = _build_problems(audit, manifest, WEB_PACKAGE, WEB_DIR)
    roots = _served_roots(audit, manifest)
    wrong = [(root, where) for root, where in roots if root != WEB_DIST]
    if wrong:
        problems.append(Problem(f"the static output {WEB_DIST} served",
                                "; ".join(f"{where} serves {root}" for root, where in wrong), manifest.path))
    elif not roots:
        _, readme = audit.readme()
        if WEB_DIST not in manifest.text and WEB_DIST not in (readme or ""):
            problems.append(Problem(f"the static output {WEB_DIST} served (manifest variables, Staticfile, a serve "
                                    "command, or the documented RAILPACK_STATIC_FILE_ROOT)",
                                    f"no mention of {WEB_DIST}", manifest.path))
    return problems + _node_problems(audit, "web", manifest)


def audit_migrations_one_shot(audit: RepoAudit) -> list[Problem]:
    """R2.4: migrations run as a one-shot Railway deploy command, never in the start command or script.

    One-shot means: a migration in the API manifest's ``preDeployCommand``; or a documented
    ``railway run --service … -- <migration>`` (README, the docs it links, scripts/deploy/*.md);
    or a separate migration service whose restart policy is NEVER.
    """
    manifest, problems = audit.manifest("api")
    if manifest is None:
        return problems
    deploy = manifest.section("deploy")
    if not (_migration_steps(audit, deploy.get("preDeployCommand")) or _documented_one_shots(audit)
            or _one_shot_services(audit)):
        problems.append(Problem("a one-shot migration command: [deploy] preDeployCommand, a documented "
                                "`railway run --service stackfast-api -- <migrate>`, or a one-shot service",
                                f"preDeployCommand {_describe(deploy.get('preDeployCommand'))} and no documented "
                                "one-shot migration", manifest.path))
    start = deploy.get("startCommand")
    if _migration_steps(audit, start):
        problems.append(Problem("no migration in [deploy] startCommand", _describe(start), manifest.path))
    scripts = audit.scripts(API_DIR)
    for name in ("start", "prestart", "poststart"):
        if _MIGRATE.search(scripts.get(name, "")):
            problems.append(Problem(f"no migration in the {name!r} script", repr(scripts[name]),
                                    "apps/api/package.json"))
    return problems


def _migration_files(audit: RepoAudit) -> list[tuple[str, str]]:
    found = []
    for under in ("apps/api/drizzle", "apps/api/migrations", "apps/api/src/db/migrations", "drizzle"):
        found.extend(audit.files(under, (".sql", ".ts", ".js")))
    return found


def audit_forward_only(audit: RepoAudit) -> list[Problem]:
    """R2.5: no down migrations (files or scripts)."""
    problems = []
    for relative, _ in _migration_files(audit):
        if re.search(r"(^|[._/-])down([._-]|$)", Path(relative).name, re.I):
            problems.append(Problem("forward-only migrations (no down migration files)", "a down migration", relative))
    scripts = (audit.package("apps/api/package.json") or {}).get("scripts") or {}
    for name, command in scripts.items():
        if re.search(r"(migrat\w*|db)[:_-]?(down|rollback|revert)", name, re.I) or \
                re.search(r"drizzle-kit\s+drop|migrate\s+(down|rollback)", str(command)):
            problems.append(Problem("no script that reverts migrations", f"script {name!r}: {command!r}",
                                    "apps/api/package.json"))
    return problems


def destructive_migrations(audit: RepoAudit) -> list[Problem]:
    """R2.6 (advisory): statements that drop or rename a column, for two-phase review."""
    problems = []
    for relative, text in _migration_files(audit):
        for number, line in enumerate(text.splitlines(), start=1):
            if _DESTRUCTIVE.search(line):
                problems.append(Problem("a column drop/rename shipped over two sequential deploys (reviewed)",
                                        line.strip()[:160], f"{relative}:{number}"))
    return problems


def audit_upstash_limiter(audit: RepoAudit) -> list[Problem]:
    """R4.1: @upstash/ratelimit + @upstash/redis are dependencies and used; no in-memory Map limiter."""
    problems = []
    deps = (audit.package("apps/api/package.json") or {}).get("dependencies") or {}
    for name in ("@upstash/ratelimit", "@upstash/redis"):
        if name not in deps:
            problems.append(Problem(f"{name} in dependencies", "missing", "apps/api/package.json"))
    if not audit.grep("apps/api/src", r"from\s+['\"]@upstash/ratelimit['\"]|require\(['\"]@upstash/ratelimit"):
        problems.append(Problem("the limiter built on @upstash/ratelimit", "no import of @upstash/ratelimit",
                                "apps/api/src"))
    for relative, number, line in audit.grep("apps/api/src", r"rateLimitBuckets|(rate|limit|bucket)\w*\s*[:=][^=\n]*new Map\b"):
        problems.append(Problem("no in-memory Map rate limiter", line[:120], f"{relative}:{number}"))
    return problems


def audit_upstash_env_names(audit: RepoAudit) -> list[Problem]:
    """R4.6 (repo): the API reads UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN."""
    if audit.grep("apps/api/src", r"Redis\.fromEnv\("):
        return []
    problems = []
    for name in ("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"):
        if not audit.grep("apps/api/src", rf"\b{name}\b"):
            problems.append(Problem(f"the API reads {name}", "no reference in apps/api/src", "apps/api/src"))
    return problems


def _init_site(audit: RepoAudit, under: str, package: str) -> tuple[str, str] | None:
    for relative, text in audit.files(under, _SOURCE_SUFFIXES):
        if re.search(rf"['\"]{re.escape(package)}['\"]", text) and "Sentry.init(" in text:
            return relative, text
    return None


def audit_sentry_api(audit: RepoAudit) -> list[Problem]:
    """R7.1: @sentry/node initialised with sampleRate 1.0 and tracesSampleRate 0.0."""
    site = _init_site(audit, "apps/api/src", "@sentry/node")
    if site is None:
        return [Problem("Sentry.init from @sentry/node in apps/api/src", "none", "apps/api/src")]
    relative, text = site
    problems = []
    if not re.search(r"\bsampleRate\s*:\s*1(\.0+)?\b", text):
        problems.append(Problem("sampleRate: 1.0", _quote(text, r"\bsampleRate\b"), relative))
    if not re.search(r"\btracesSampleRate\s*:\s*0(\.0+)?\b", text):
        problems.append(Problem("tracesSampleRate: 0.0", _quote(text, r"tracesSampleRate"), relative))
    return problems


def audit_sentry_web(audit: RepoAudit) -> list[Problem]:
    """R7.2: @sentry/react initialised; the Vite plugin uploads source maps."""
    problems = []
    if _init_site(audit, "apps/web/src", "@sentry/react") is None:
        problems.append(Problem("Sentry.init from @sentry/react in apps/web/src", "none", "apps/web/src"))
    package = audit.package("apps/web/package.json") or {}
    deps = {**(package.get("dependencies") or {}), **(package.get("devDependencies") or {})}
    if "@sentry/vite-plugin" not in deps:
        problems.append(Problem("@sentry/vite-plugin in the web's dependencies", "missing", "apps/web/package.json"))
    config = next((r for r in ("apps/web/vite.config.ts", "apps/web/vite.config.js", "apps/web/vite.config.mts")
                   if audit.text(r) is not None), None)
    if config is None or "sentryVitePlugin(" not in (audit.text(config) or ""):
        problems.append(Problem("sentryVitePlugin(...) in the Vite config", "not used", config or "apps/web/vite.config.ts"))
    return problems


def audit_sentry_guard(audit: RepoAudit) -> list[Problem]:
    """R7.3: each Sentry.init is behind a DSN guard (an `if` on the DSN before the init)."""
    problems = []
    for under, package in (("apps/api/src", "@sentry/node"), ("apps/web/src", "@sentry/react")):
        site = _init_site(audit, under, package)
        if site is None:
            continue  # R7.1 / R7.2 report the missing init
        relative, text = site
        head = text[: text.index("Sentry.init(")]
        if "SENTRY_DSN" not in text or not re.search(r"\bif\s*\(\s*!?\s*[\w.]*dsn\b", head, re.I):
            problems.append(Problem("`if (!dsn) return` (or equivalent) on SENTRY_DSN before Sentry.init",
                                    "Sentry.init reachable without a DSN guard", relative))
    return problems


def audit_sentry_scrub(audit: RepoAudit) -> list[Problem]:
    """R7.5: the API's beforeSend removes `idea` and `constraints`."""
    site = _init_site(audit, "apps/api/src", "@sentry/node")
    if site is None:
        return [Problem("Sentry.init with a beforeSend scrub in apps/api/src", "no Sentry.init", "apps/api/src")]
    relative, text = site
    if "beforeSend" not in text:
        return [Problem("a beforeSend hook scrubbing idea and constraints", "no beforeSend", relative)]
    body = text[text.index("beforeSend"):]
    missing = [f for f in ("idea", "constraints") if not re.search(rf"\b{f}\b", body)]
    return [Problem("beforeSend removes idea and constraints", f"{', '.join(missing)} not removed", relative)] if missing else []


def _quote(text: str, pattern: str) -> str:
    match = re.search(rf".*{pattern}.*", text)
    return repr(match.group(0).strip()[:100]) if match else "absent"


# -- README (R14) --------------------------------------------------------------------------------

def _readme(audit: RepoAudit) -> tuple[str, str | None, list[Problem]]:
    """(path, text, problems): the README as GitHub finds it, whatever its letter case."""
    path, text = audit.readme()
    if path is None:
        return "README.md", None, [Problem("a README at the checkout's root (README.md, readme.md, any case)",
                                           "missing", "README.md")]
    return path, text, []


def _documented_names(text: str) -> set[str]:
    """Variable names a document shows, with the shorthands of ADR 003's table expanded.

    ``GITHUB_CLIENT_ID`` / ``_SECRET`` names GITHUB_CLIENT_SECRET; ``UPSTASH_REDIS_REST_{URL,TOKEN}``
    names both.
    """
    names = set(re.findall(r"(?<![\w-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]*)+(?![a-z0-9])|\b[A-Z]{3,}\b", text))
    for first, suffix in re.findall(r"\b([A-Z][A-Z0-9_]*_[A-Z0-9]+)`?\s*(?:/|,|\bor\b|\band\b)\s*`?(_[A-Z][A-Z0-9_]*)\b",
                                    text):
        names.add(first.rsplit("_", 1)[0] + suffix)
    for prefix, options in re.findall(r"\b([A-Z][A-Z0-9_]*_)\{([A-Z0-9_, ]+)\}", text):
        names.update(prefix + option.strip() for option in options.split(","))
    return names


def audit_readme_variables(audit: RepoAudit) -> list[Problem]:
    """R14.1: every production variable of ADR 003's table appears in the README (any layout)."""
    path, text, problems = _readme(audit)
    if text is None:
        return problems
    names = _documented_names(text)
    missing = [v for v in PRODUCTION_VARIABLES
               if not (any(n.startswith(v[:-1]) for n in names) if v.endswith("*") else v in names)]
    return [Problem("every production variable documented", f"missing {', '.join(missing)}", path)] if missing else []


def _service_lines(text: str, pattern: str) -> dict[str, int]:
    """Which services ("web", "api") lines matching ``pattern`` name: ``--service X`` wins over prose."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not re.search(pattern, line):
            continue
        command = line.split("#", 1)[0]
        named = re.findall(r"(?:--service|-s)[ =](\S+)", command)
        for service in ("web", "api"):
            hit = any(service in n.lower() for n in named) if named else re.search(rf"\b{service}\b", line, re.I)
            if hit:
                found.setdefault(service, number)
    return found


def audit_readme_deploy(audit: RepoAudit) -> list[Problem]:
    """R14.2: `railway up` for the web service and for the API."""
    path, text, problems = _readme(audit)
    if text is None:
        return problems
    found = _service_lines(text, r"\brailway\s+(up|deploy|redeploy)\b")
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("`railway up --service …` for web and API", f"none for {', '.join(missing)}", path)] if missing else []


def _runbook(audit: RepoAudit) -> str | None:
    return audit.find(RUNBOOK)


def audit_readme_rollback(audit: RepoAudit) -> list[Problem]:
    """R14.3: the rollback procedure per service, in the README or a document it links."""
    path, text, problems = _readme(audit)
    if text is None:
        return problems
    found = _service_lines(text, r"\brailway\s+(rollback|redeploy)\b|\broll\s*back\b")
    for document in audit.linked_docs(path):
        for service, line in _service_lines(audit.text(document) or "", r"\brailway\s+(rollback|redeploy)\b").items():
            found.setdefault(service, line)
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("a rollback command for web and for the API (README or the runbook it links)",
                    f"none for {', '.join(missing)}", path)] if missing else []


def audit_rollback_runbook(audit: RepoAudit) -> list[Problem]:
    """R14.3 (runbook): scripts/deploy/rollback.md names the Railway rollback of each service."""
    relative = _runbook(audit)
    if relative is None:
        return [Problem("the rollback runbook scripts/deploy/rollback.md", "missing", RUNBOOK)]
    found = _service_lines(audit.text(relative) or "", r"\brailway\s+(rollback|redeploy)\b")
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("a `railway rollback` step for web and for the API", f"none for {', '.join(missing)}",
                    relative)] if missing else []


def audit_readme_migration(audit: RepoAudit) -> list[Problem]:
    """R14.4: the README (or a document it links) shows the one-shot migration command.

    With a ``preDeployCommand``, a shown command that means the same (flags and spelling aside,
    or wrapped in ``railway run … --``) counts; without one, any migration command shown as a
    ``railway run`` one-shot or a drizzle-kit/db:migrate invocation.
    """
    path, text, problems = _readme(audit)
    if text is None:
        return problems
    manifest, _ = audit.manifest("api")
    pre = _migration_steps(audit, manifest.section("deploy").get("preDeployCommand")) if manifest else []
    wanted = {_canonical(audit, s) for s in pre}
    for document in [path, *audit.linked_docs(path)]:
        for command, _number in _code_commands(audit.text(document) or ""):
            steps = [s for s in parse_chain(command) if _is_migration(audit, s)]
            if not steps:
                continue
            if not wanted or any(_canonical(audit, s) in wanted for s in steps):
                return []
            if any(unwrap(s.words)[:2] == ("railway", "run") for s in steps):
                return []
    shown = " && ".join(s.text for s in pre)
    return [Problem(f"the migration command {shown!r}" if pre else "a migration command (drizzle-kit migrate / db:migrate, "
                    "or `railway run … -- <migrate>`)", "not in the README", path)]


def audit_readme_adr_links(audit: RepoAudit) -> list[Problem]:
    """R14.5: the README links the three ADRs and the links resolve in the checkout.

    Relative (``docs/…``, ``./docs/…``), repository-root (``/docs/…``) and GitHub blob URLs all
    count; the ADR path is matched ignoring letter case, but the link must name the file exactly
    as the checkout spells it, because GitHub resolves links case-sensitively.
    """
    path, text, problems = _readme(audit)
    if text is None:
        return problems
    links = audit.links(path)
    for adr in ADR_LINKS:
        matching = [(target, raw, number) for target, raw, number in links if target.lower() == adr]
        if not matching:
            problems.append(Problem(f"a link to {adr}", "no link", path))
            continue
        for target, raw, number in matching:
            if audit.exact(target):
                continue
            actual = audit.find(target)
            seen = (f"the file is {actual}: the link's letter case differs and GitHub links are case-sensitive"
                    if actual else "no such file")
            problems.append(Problem(f"the link {raw} to resolve to a file in the checkout", seen, f"{path}:{number}"))
    return problems


AUDITS: dict[str, Callable[[RepoAudit], list[Problem]]] = {
    "api_service": audit_api_service,
    "api_healthcheck": audit_api_healthcheck,
    "web_service": audit_web_service,
    "migrations_one_shot": audit_migrations_one_shot,
    "forward_only": audit_forward_only,
    "upstash_limiter": audit_upstash_limiter,
    "upstash_env_names": audit_upstash_env_names,
    "sentry_api": audit_sentry_api,
    "sentry_web": audit_sentry_web,
    "sentry_guard": audit_sentry_guard,
    "sentry_scrub": audit_sentry_scrub,
    "readme_variables": audit_readme_variables,
    "readme_deploy": audit_readme_deploy,
    "readme_rollback": audit_readme_rollback,
    "rollback_runbook": audit_rollback_runbook,
    "readme_migration": audit_readme_migration,
    "readme_adr_links": audit_readme_adr_links,
}
