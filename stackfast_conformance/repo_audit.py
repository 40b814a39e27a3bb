"""Static audit of a Stackfast checkout (``--repo PATH``): Railway manifests, migrations, limiter,
Sentry wiring, rollback runbook and the README's deployment documentation.

Each ``audit_*`` function returns the :class:`Problem` list for one criterion (empty = conforming),
so a check is ``expect(not problems, ...)`` and a test can call it directly. Problems name the
file (and line when there is one), what was expected and what was found. Nothing here reads
secrets; file contents are only quoted when they are code or documentation.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AUDITS", "ADR_LINKS", "PRODUCTION_VARIABLES", "Problem", "RepoAudit", "destructive_migrations"]

API_MANIFEST = "apps/api/railway.toml"
WEB_MANIFEST = "apps/web/railway.toml"
API_BUILD = "pnpm install --filter @stackfast/api... && pnpm --filter @stackfast/api build"
API_START = "pnpm --filter @stackfast/api start"
WEB_FILTER = "--filter @stackfast/web"
# ADR 003's secrets table, as criteria.md lists it (R14.1). AZURE_OPENAI_* is a family.
PRODUCTION_VARIABLES = ("PORT", "NODE_ENV", "CORS_ORIGIN", "DATABASE_URL", "BETTER_AUTH_SECRET", "BETTER_AUTH_URL",
                        "ALLOW_AUTH_BYPASS", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ADMIN_API_KEY",
                        "AI_PROVIDER", "AZURE_OPENAI_*", "GEMINI_API_KEY", "UPSTASH_REDIS_REST_URL",
                        "UPSTASH_REDIS_REST_TOKEN", "SENTRY_DSN")
ADR_LINKS = ("docs/decisions/001-authentication-strategy.md", "docs/decisions/002-ai-provider-strategy.md",
             "docs/decisions/003-deployment-architecture.md")
_MIGRATE = re.compile(r"\bmigrat|drizzle-kit\s+(push|migrate)|db:push", re.I)
_SOURCE_SUFFIXES = (".ts", ".tsx", ".js", ".mjs", ".cjs", ".mts")
_DESTRUCTIVE = re.compile(r"\b(DROP\s+COLUMN|RENAME\s+COLUMN)\b", re.I)


@dataclass(frozen=True)
class Problem:
    expected: str
    seen: str
    where: str  # "apps/api/railway.toml" or "README.md:12"

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}; seen {self.seen}"


class RepoAudit:
    """Reads files of one checkout (cached) and answers the audits."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"--repo: {self.root} is not a directory; give the path of a Stackfast checkout")
        self._text: dict[str, str | None] = {}

    # -- file access ---------------------------------------------------------------------------
    def text(self, relative: str) -> str | None:
        if relative not in self._text:
            path = self.root / relative
            try:
                self._text[relative] = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
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

    # -- manifests ------------------------------------------------------------------------------
    def _manifest(self, relative: str) -> tuple[dict[str, Any], list[Problem]]:
        data, error = self.toml(relative)
        if data is None:
            return {}, [Problem(f"a Railway manifest at {relative}", error or "unreadable", relative)]
        return data, []

    def _node_20(self, service: str) -> bool:
        manifest = self.text(f"apps/{service}/railway.toml") or ""
        if re.search(r"NIXPACKS_NODE_VERSION\s*=\s*\"?20\b", manifest):
            return True
        for relative in (f"apps/{service}/package.json", "package.json"):
            engines = ((self.package(relative) or {}).get("engines") or {}).get("node", "")
            if re.match(r"^\s*(\^|~|>=\s*)?20(\.|\s|$|\.x)", str(engines)):
                return True
        for relative in (".nvmrc", ".node-version", f"apps/{service}/.nvmrc"):
            if re.match(r"^\s*v?20(\.|\s|$)", self.text(relative) or "x"):
                return True
        return False


def _norm(command: Any) -> str:
    if isinstance(command, list):
        command = " && ".join(str(c) for c in command)
    return " ".join(str(command or "").split())


def audit_api_service(audit: RepoAudit) -> list[Problem]:
    """R1.1: apps/api/railway.toml builds and starts with the @stackfast/api filter commands on Node 20."""
    data, problems = audit._manifest(API_MANIFEST)
    if problems:
        return problems
    build, deploy = data.get("build") or {}, data.get("deploy") or {}
    if _norm(build.get("buildCommand")) != API_BUILD:
        problems.append(Problem(f"[build] buildCommand = {API_BUILD!r}", repr(build.get("buildCommand")), API_MANIFEST))
    if _norm(deploy.get("startCommand")) != API_START:
        problems.append(Problem(f"[deploy] startCommand = {API_START!r}", repr(deploy.get("startCommand")), API_MANIFEST))
    if not audit._node_20("api"):
        problems.append(Problem("Node 20 (NIXPACKS_NODE_VERSION=20, engines.node 20.x or .nvmrc 20)",
                                "no Node 20 pin", API_MANIFEST))
    return problems


def audit_api_healthcheck(audit: RepoAudit) -> list[Problem]:
    """R1.1 (service definition): the API service's Railway healthcheck is /health."""
    data, problems = audit._manifest(API_MANIFEST)
    if problems:
        return problems
    path = (data.get("deploy") or {}).get("healthcheckPath")
    return [] if path == "/health" else [Problem("[deploy] healthcheckPath = '/health'", repr(path), API_MANIFEST)]


def audit_web_service(audit: RepoAudit) -> list[Problem]:
    """R1.2: apps/web/railway.toml builds with the @stackfast/web filter commands and serves apps/web/dist."""
    data, problems = audit._manifest(WEB_MANIFEST)
    if problems:
        return problems
    build = _norm((data.get("build") or {}).get("buildCommand"))
    if not (f"pnpm install {WEB_FILTER}" in build and f"pnpm {WEB_FILTER} build" in build):
        problems.append(Problem(f"[build] buildCommand with `pnpm install {WEB_FILTER}...` and "
                                f"`pnpm {WEB_FILTER} build`", repr(build), WEB_MANIFEST))
    if "apps/web/dist" not in (audit.text(WEB_MANIFEST) or ""):
        problems.append(Problem("the static output apps/web/dist served", "no mention of apps/web/dist", WEB_MANIFEST))
    if not audit._node_20("web"):
        problems.append(Problem("Node 20 for the build", "no Node 20 pin", WEB_MANIFEST))
    return problems


def audit_migrations_one_shot(audit: RepoAudit) -> list[Problem]:
    """R2.4: a pre-deploy (one-shot) migration command; none in the start command or start script."""
    data, problems = audit._manifest(API_MANIFEST)
    if problems:
        return problems
    deploy = data.get("deploy") or {}
    pre = _norm(deploy.get("preDeployCommand"))
    if not _MIGRATE.search(pre):
        problems.append(Problem("[deploy] preDeployCommand running the Drizzle migrations (one-shot)",
                                repr(deploy.get("preDeployCommand")), API_MANIFEST))
    start = _norm(deploy.get("startCommand"))
    if _MIGRATE.search(start):
        problems.append(Problem("no migration in [deploy] startCommand", repr(start), API_MANIFEST))
    scripts = (audit.package("apps/api/package.json") or {}).get("scripts") or {}
    for name in ("start", "prestart", "poststart"):
        if _MIGRATE.search(str(scripts.get(name, ""))):
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

def _readme(audit: RepoAudit) -> tuple[str | None, list[Problem]]:
    text = audit.text("README.md")
    return text, [] if text is not None else [Problem("a README.md at the checkout's root", "missing", "README.md")]


def audit_readme_variables(audit: RepoAudit) -> list[Problem]:
    """R14.1: every production variable of ADR 003's table appears in the README."""
    text, problems = _readme(audit)
    if text is None:
        return problems
    missing = [v for v in PRODUCTION_VARIABLES
               if not re.search(r"\b" + re.escape(v.rstrip("*")) + (r"\w*" if v.endswith("*") else r"\b"), text)]
    return [Problem("every production variable documented", f"missing {', '.join(missing)}", "README.md")] if missing else []


def _service_lines(text: str, pattern: str) -> dict[str, int]:
    """Which services ("web", "api") lines matching ``pattern`` name: ``--service X`` wins over prose."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not re.search(pattern, line):
            continue
        command = line.split("#", 1)[0]
        named = re.findall(r"--service[ =](\S+)", command)
        for service in ("web", "api"):
            hit = any(service in n.lower() for n in named) if named else re.search(rf"\b{service}\b", line, re.I)
            if hit:
                found.setdefault(service, number)
    return found


def audit_readme_deploy(audit: RepoAudit) -> list[Problem]:
    """R14.2: `railway up` for the web service and for the API."""
    text, problems = _readme(audit)
    if text is None:
        return problems
    found = _service_lines(text, r"\brailway\s+(up|deploy|redeploy)\b")
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("`railway up --service …` for web and API", f"none for {', '.join(missing)}", "README.md")] if missing else []


def audit_readme_rollback(audit: RepoAudit) -> list[Problem]:
    """R14.3: the rollback procedure per service, in the README or a runbook it links."""
    text, problems = _readme(audit)
    if text is None:
        return problems
    found = _service_lines(text, r"\brailway\s+(rollback|redeploy)\b|\broll\s*back\b")
    runbook = "scripts/deploy/rollback.md"
    if runbook in text and audit.text(runbook) is not None:
        for service, line in _service_lines(audit.text(runbook) or "", r"\brailway\s+(rollback|redeploy)\b").items():
            found.setdefault(service, line)
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("a rollback command for web and for the API (README or the runbook it links)",
                    f"none for {', '.join(missing)}", "README.md")] if missing else []


def audit_rollback_runbook(audit: RepoAudit) -> list[Problem]:
    """R14.3 (runbook): scripts/deploy/rollback.md names the Railway rollback of each service."""
    text = audit.text("scripts/deploy/rollback.md")
    if text is None:
        return [Problem("the rollback runbook scripts/deploy/rollback.md", "missing", "scripts/deploy/rollback.md")]
    found = _service_lines(text, r"\brailway\s+(rollback|redeploy)\b")
    missing = [s for s in ("web", "api") if s not in found]
    return [Problem("a `railway rollback` step for web and for the API", f"none for {', '.join(missing)}",
                    "scripts/deploy/rollback.md")] if missing else []


def audit_readme_migration(audit: RepoAudit) -> list[Problem]:
    """R14.4: the README shows the one-shot migration command (the manifest's preDeployCommand)."""
    text, problems = _readme(audit)
    if text is None:
        return problems
    data, _ = audit.toml(API_MANIFEST)
    pre = _norm(((data or {}).get("deploy") or {}).get("preDeployCommand"))
    if pre and pre in " ".join(text.split()):
        return []
    if not pre and re.search(r"drizzle-kit\s+(migrate|push)|db:migrate|db:push", text):
        return []
    return [Problem(f"the migration command {pre!r}" if pre else "a migration command (drizzle-kit migrate / db:migrate)",
                    "not in the README", "README.md")]


def audit_readme_adr_links(audit: RepoAudit) -> list[Problem]:
    """R14.5: the README links the three ADRs and the links resolve in the checkout."""
    text, problems = _readme(audit)
    if text is None:
        return problems
    targets = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for target in re.findall(r"\]\(\s*<?([^)\s>#]+)", line):
            targets.setdefault(target.lstrip("./"), (target, number))
    for adr in ADR_LINKS:
        link = next((t for t in targets if t.endswith(adr)), None)
        if link is None:
            problems.append(Problem(f"a link to {adr}", "no link", "README.md"))
            continue
        raw, number = targets[link]
        resolved = (audit.root / raw).resolve()
        if not resolved.is_file():
            problems.append(Problem(f"the link {raw} to resolve to a file in the checkout", "no such file",
                                    f"README.md:{number}"))
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
