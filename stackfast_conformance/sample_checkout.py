"""A small conforming Stackfast checkout and env-snapshot pair, written on demand.

For a release engineer who wants to see the repo, config and drift audits work without a real
checkout, and for the project's own tests (``tests/fixtures/stackfast_checkout.py`` mutates it)::

    python -m stackfast_conformance.sample_checkout /tmp/sample
    stackfast-conformance run --repo /tmp/sample/checkout \\
        --env-snapshot production=/tmp/sample/production.json --env-snapshot staging=/tmp/sample/staging.json

The files are only as detailed as the audits need, and follow the upstream checkout where the spec
is silent (``readme.md`` in lower case, ``--frozen-lockfile`` in the build commands, Railway's
``$schema`` line, a 30 s healthcheck timeout). The requirements text under
``.kiro/specs/phase-8-deployment/requirements.md`` is our own restatement of the catalog in the
spec's layout, marked with :data:`SAMPLE_SPEC_MARKER`, not the upstream text; ``drift`` compares it
with ``requirements/spec-baseline-sample.yaml`` (see ``stackfast_conformance/audits/drift.py``).

:func:`variant_inputs` writes the sample with *harmless variants* applied (``reference/variants/
checkout.yaml`` and ``snapshot.yaml``): layouts a conforming Stackfast may show, which every repo
and config check must pass (the false-alarm matrix).
Secrets in the snapshots are fresh random values on every call.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stackfast_conformance.audits.drift import SAMPLE_SPEC_MARKER as _DRIFT_MARKER

__all__ = ["CHECKOUT_VARIANTS", "README", "README_PATH", "SAMPLE_SPEC_MARKER", "SNAPSHOT_VARIANTS", "checkout_files",
           "requirements_markdown", "snapshot_pair", "variant_inputs", "variant_inputs_many", "write_checkout",
           "write_sample"]

README_PATH = "readme.md"  # as upstream names it; GitHub shows any letter case as the README
# the first line of the sample's spec file: `drift` compares it with the sample's own baseline
SAMPLE_SPEC_MARKER = f"<!-- {_DRIFT_MARKER} (a restatement of the catalog, not the upstream text) -->"
API_BUILD = "pnpm install --frozen-lockfile --filter @stackfast/api... && pnpm --filter @stackfast/api build"
API_START = "pnpm --filter @stackfast/api start"
WEB_BUILD = "pnpm install --frozen-lockfile --filter @stackfast/web... && pnpm --filter @stackfast/web build"
MIGRATE = "pnpm --filter @stackfast/api db:migrate"
WEB_DIST_DIR = "apps/web/dist"

API_RAILWAY_TOML = f"""\
# Railway service: stackfast-api (Node 20, long-running Hono process)
"$schema" = "https://railway.com/railway.schema.json"

[build]
builder = "NIXPACKS"
buildCommand = "{API_BUILD}"

[build.nixpacksPlan.variables]
NIXPACKS_NODE_VERSION = "20"

[deploy]
preDeployCommand = ["{MIGRATE}"]
startCommand = "{API_START}"
healthcheckPath = "/health"
healthcheckTimeout = 30
restartPolicyType = "ON_FAILURE"
restartPolicyMaxRetries = 3
"""

WEB_RAILWAY_TOML = f"""\
# Railway service: stackfast-web (static hosting of the Vite build)
"$schema" = "https://railway.com/railway.schema.json"

[build]
builder = "NIXPACKS"
buildCommand = "{WEB_BUILD}"

[build.nixpacksPlan.variables]
NIXPACKS_NODE_VERSION = "20"
NIXPACKS_SPA_OUTPUT_DIR = "apps/web/dist"

[deploy]
startCommand = "pnpm dlx serve --single apps/web/dist"
"""

API_PACKAGE = {
    "name": "@stackfast/api",
    "private": True,
    "type": "module",
    "engines": {"node": "20.x"},
    "scripts": {
        "build": "tsc -p tsconfig.build.json",
        "start": "node dist/index.js",
        "db:migrate": "drizzle-kit migrate",
        "db:generate": "drizzle-kit generate",
    },
    "dependencies": {
        "@hono/node-server": "^1.13.0",
        "hono": "^4.6.0",
        "better-auth": "^1.2.0",
        "drizzle-orm": "^0.36.0",
        "@neondatabase/serverless": "^0.10.0",
        "@upstash/ratelimit": "^2.0.5",
        "@upstash/redis": "^1.34.3",
        "@sentry/node": "^8.40.0",
    },
    "devDependencies": {"drizzle-kit": "^0.28.0", "typescript": "^5.6.0"},
}

WEB_PACKAGE = {
    "name": "@stackfast/web",
    "private": True,
    "type": "module",
    "scripts": {"build": "vite build", "dev": "vite"},
    "dependencies": {"react": "^18.3.1", "react-dom": "^18.3.1", "@sentry/react": "^8.40.0"},
    "devDependencies": {"vite": "^5.4.0", "@sentry/vite-plugin": "^2.22.0"},
}

API_APP_TS = """\
import { Hono } from "hono";
import { cors } from "hono/cors";
import { rateLimit } from "./rate-limit/index.js";
import { requireAdminApiKey } from "./middleware/admin.js";

export const app = new Hono();
app.get("/health", (c) => c.text("OK"));
app.get("/openapi.json", (c) => c.json(openapi));
app.use("/api/v1/*", rateLimit());
app.use("/admin/*", requireAdminApiKey());
app.use("/internal/*", requireAdminApiKey());
"""

API_RATE_LIMIT_TS = """\
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";

const redis = new Redis({
  url: process.env.UPSTASH_REDIS_REST_URL!,
  token: process.env.UPSTASH_REDIS_REST_TOKEN!,
});

export const generation = new Ratelimit({ redis, limiter: Ratelimit.fixedWindow(30, "60 s"), prefix: "generation" });
export const read = new Ratelimit({ redis, limiter: Ratelimit.fixedWindow(100, "60 s"), prefix: "read" });
"""

API_SENTRY_TS = """\
import * as Sentry from "@sentry/node";

let initialised = false;

export function initSentry(): void {
  const dsn = process.env.SENTRY_DSN;
  if (!dsn) return; // no DSN: no client, no handler, no transport, no global hook
  if (initialised) return;
  initialised = true;
  Sentry.init({
    dsn,
    release: process.env.RAILWAY_GIT_COMMIT_SHA,
    sampleRate: 1.0,
    tracesSampleRate: 0.0,
    beforeSend(event) {
      const data = event.request?.data as Record<string, unknown> | undefined;
      if (data) {
        delete data.idea;
        delete data.constraints;
      }
      return event;
    },
  });
}
"""

WEB_SENTRY_TS = """\
import * as Sentry from "@sentry/react";

export function initSentry(): void {
  const dsn = import.meta.env.VITE_SENTRY_DSN;
  if (!dsn) return;
  Sentry.init({ dsn, release: import.meta.env.VITE_RELEASE, sampleRate: 1.0, tracesSampleRate: 0.0 });
}
"""

WEB_VITE_CONFIG = """\
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { sentryVitePlugin } from "@sentry/vite-plugin";

export default defineConfig({
  build: { sourcemap: true },
  plugins: [
    react(),
    ...(process.env.SENTRY_DSN ? [sentryVitePlugin({ org: "stackfast", project: "web" })] : []),
  ],
});
"""

MIGRATION_0000 = """\
CREATE TABLE IF NOT EXISTS "tools" (
  "id" text PRIMARY KEY,
  "name" text NOT NULL
);
"""

MIGRATION_0001 = """\
ALTER TABLE "tools" ADD COLUMN "category" text;
CREATE INDEX IF NOT EXISTS "tools_category_idx" ON "tools" ("category");
"""

ROLLBACK_MD = """\
# Rollback runbook

Each service rolls back on its own; rolling back the web never needs an API rollback, and the
other way round.

## Web (stackfast-web)

    railway rollback --service stackfast-web

## API (stackfast-api)

    railway rollback --service stackfast-api

Before an API rollback, check that the previous build fits the current schema (migrations are
forward-only; a column drop or rename ships over two deploys). If not, ship a forward migration.
"""

README = f"""\
# Stackfast 2026

## Deployment (Railway)

Production runs as two Railway services in one project: `stackfast-web` (static) and
`stackfast-api` (Node 20). See [ADR 003](docs/decisions/003-deployment-architecture.md).

### Deploy

```sh
railway up --service stackfast-web
railway up --service stackfast-api
```

### Migrations

Migrations run once per deploy as the API's pre-deploy command, never in the start script:

```sh
{MIGRATE}
```

### Rollback

```sh
railway rollback --service stackfast-web   # web only; the API keeps serving
railway rollback --service stackfast-api   # API only; the web keeps serving
```

The full procedure is in [the rollback runbook](scripts/deploy/rollback.md).

### Production variables

| variable | service | notes |
|---|---|---|
| `PORT` | api | set by Railway |
| `NODE_ENV` | api | `production` |
| `CORS_ORIGIN` | api | `https://stackfast.app` |
| `DATABASE_URL` | api | Neon pooled connection string of branch `main` |
| `BETTER_AUTH_SECRET` | api | 32 random bytes (`openssl rand -base64 32`) |
| `BETTER_AUTH_URL` | api | `https://api.stackfast.app` |
| `ALLOW_AUTH_BYPASS` | api | `false` |
| `GITHUB_CLIENT_ID` | api | production OAuth app |
| `GITHUB_CLIENT_SECRET` | api | production OAuth app |
| `ADMIN_API_KEY` | api | 32 random bytes, not `BETTER_AUTH_SECRET` |
| `AI_PROVIDER` | api | `azure` |
| `AZURE_OPENAI_*` | api | endpoint, key, deployment |
| `GEMINI_API_KEY` | api | fallback provider |
| `UPSTASH_REDIS_REST_URL` | api | rate limiter |
| `UPSTASH_REDIS_REST_TOKEN` | api | rate limiter |
| `SENTRY_DSN` | api, web | optional |

## Decisions

- [001 Authentication strategy](docs/decisions/001-authentication-strategy.md)
- [002 AI provider strategy](docs/decisions/002-ai-provider-strategy.md)
- [003 Deployment architecture](docs/decisions/003-deployment-architecture.md)
"""


def requirements_markdown() -> str:
    """The spec file of the sample checkout: the catalog's statements in the spec's EARS layout."""
    from stackfast_conformance.catalog import load_catalog

    catalog = load_catalog()
    lines = [SAMPLE_SPEC_MARKER, "", "# Requirements Document", "", "## Requirements", ""]
    for requirement in catalog.requirements:
        number = requirement.id[1:]
        lines += [f"### Requirement {number}: {requirement.title}", "", "#### Acceptance Criteria", ""]
        for cid in requirement.criteria:
            lines.append(f"{cid.split('.')[1]}. THE system SHALL satisfy: {catalog.criteria[cid].statement}")
        lines.append("")
    return "\n".join(lines)


def checkout_files() -> dict[str, str]:
    """Relative path -> text of the conforming sample checkout."""
    return {
        README_PATH: README,
        "package.json": json.dumps({"name": "stackfast", "private": True, "packageManager": "pnpm@9.12.0",
                                    "engines": {"node": ">=20 <21"}}, indent=2) + "\n",
        ".nvmrc": "20\n",
        "apps/api/railway.toml": API_RAILWAY_TOML,
        "apps/api/package.json": json.dumps(API_PACKAGE, indent=2) + "\n",
        "apps/api/src/app.ts": API_APP_TS,
        "apps/api/src/rate-limit/index.ts": API_RATE_LIMIT_TS,
        "apps/api/src/sentry.ts": API_SENTRY_TS,
        "apps/api/drizzle/0000_init.sql": MIGRATION_0000,
        "apps/api/drizzle/0001_tool_category.sql": MIGRATION_0001,
        "apps/web/railway.toml": WEB_RAILWAY_TOML,
        "apps/web/package.json": json.dumps(WEB_PACKAGE, indent=2) + "\n",
        "apps/web/src/sentry.ts": WEB_SENTRY_TS,
        "apps/web/vite.config.ts": WEB_VITE_CONFIG,
        "scripts/deploy/rollback.md": ROLLBACK_MD,
        "scripts/deploy/migrate.ts": f"// one-shot: {MIGRATE}\n",
        "docs/decisions/001-authentication-strategy.md": "# ADR 001: Better Auth + GitHub OAuth\n",
        "docs/decisions/002-ai-provider-strategy.md": "# ADR 002: AI provider strategy\n",
        "docs/decisions/003-deployment-architecture.md": "# ADR 003: Deployment architecture for MVP\n",
        ".kiro/specs/phase-8-deployment/requirements.md": requirements_markdown(),
    }


def write_checkout(directory: Path, files: dict[str, str] | None = None) -> Path:
    """Write ``files`` (default: the conforming checkout) under ``directory``; returns it."""
    directory = Path(directory)
    for relative, text in (checkout_files() if files is None else files).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def _secret() -> str:
    return secrets.token_urlsafe(32)


def snapshot_pair() -> dict[str, dict[str, str]]:
    """Conforming ``railway variables --json`` objects for production and staging (fresh secrets)."""
    def neon(endpoint: str, database: str) -> str:
        return (f"postgresql://stackfast_owner:{secrets.token_urlsafe(18)}@{endpoint}-pooler.us-east-2.aws.neon.tech/"
                f"{database}?sslmode=require")

    common = {"PORT": "8080", "NODE_ENV": "production", "AI_PROVIDER": "azure", "RATE_LIMIT_BACKEND": "upstash",
              "ALLOW_AUTH_BYPASS": "false"}
    sha = secrets.token_hex(20)
    production = {
        **common,
        "CORS_ORIGIN": "https://stackfast.app",
        "BETTER_AUTH_URL": "https://api.stackfast.app",
        "DATABASE_URL": neon("ep-quiet-river-a1b2c3d4", "stackfast"),
        "BETTER_AUTH_SECRET": _secret(),
        "ADMIN_API_KEY": _secret(),
        "GITHUB_CLIENT_ID": "Iv1.prod0123456789ab",
        "GITHUB_CLIENT_SECRET": secrets.token_hex(20),
        "UPSTASH_REDIS_REST_URL": "https://prod-stackfast-12345.upstash.io",
        "UPSTASH_REDIS_REST_TOKEN": "AX" + secrets.token_urlsafe(40),
        "RAILWAY_GIT_COMMIT_SHA": sha,
        "RAILWAY_ENVIRONMENT_NAME": "production",
        "NEON_BRANCH": "main",  # Neon metadata the operator adds to the snapshot (R2.1)
    }
    staging = {
        **common,
        "CORS_ORIGIN": "https://staging.stackfast.app",
        "BETTER_AUTH_URL": "https://api.staging.stackfast.app",
        "DATABASE_URL": neon("ep-still-lake-e5f6a7b8", "stackfast"),
        "BETTER_AUTH_SECRET": _secret(),
        "ADMIN_API_KEY": _secret(),
        "GITHUB_CLIENT_ID": "Iv1.stag0123456789ab",
        "GITHUB_CLIENT_SECRET": secrets.token_hex(20),
        "UPSTASH_REDIS_REST_URL": "https://stg-stackfast-67890.upstash.io",
        "UPSTASH_REDIS_REST_TOKEN": "AX" + secrets.token_urlsafe(40),
        "RAILWAY_GIT_COMMIT_SHA": sha,
        "RAILWAY_ENVIRONMENT_NAME": "staging",
        "NEON_BRANCH": "staging",
    }
    return {"production": production, "staging": staging}


def write_sample(directory: Path) -> dict[str, Path]:
    """Write ``checkout/``, ``production.json`` and ``staging.json`` under ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"checkout": write_checkout(directory / "checkout")}
    for environment, variables in snapshot_pair().items():
        path = directory / f"{environment}.json"
        path.write_text(json.dumps(variables, indent=2) + "\n")
        path.chmod(0o600)
        paths[environment] = path
    return paths


# --------------------------------------------------------------------------- harmless variants
# Each variant edits the conforming files (or snapshots) in place into another layout a conforming
# Stackfast may show; every repo and config check must still pass (the false-alarm matrix). Where a
# real checkout does it is recorded in reference/variants/checkout.yaml and snapshot.yaml (`seen`).

Files = dict[str, str]
Snapshots = dict[str, dict[str, str]]
Formats = dict[str, str]  # environment -> "json" | "json-typed" | "dotenv"


def _replace(files: Files, path: str, old: str, new: str, required: bool = True) -> None:
    """Replace text in one file; ``required=False`` for edits another variant may already have made."""
    if path not in files or old not in files[path]:
        if required:
            raise KeyError(f"variant drift: {old!r} not in {path}")
        return
    files[path] = files[path].replace(old, new)


def _package_edit(files: Files, path: str, change) -> None:  # noqa: ANN001 - a small local callback
    data = json.loads(files[path])
    change(data)
    files[path] = json.dumps(data, indent=2) + "\n"


def _unpin_node(files: Files) -> None:
    """No NIXPACKS_NODE_VERSION, no engines, no .nvmrc: the variant then says where Node 20 comes from."""
    for service in ("api", "web"):
        _replace(files, f"apps/{service}/railway.toml", 'NIXPACKS_NODE_VERSION = "20"\n', "", required=False)
    _package_edit(files, "apps/api/package.json", lambda d: d.pop("engines", None))
    _package_edit(files, "package.json", lambda d: d.pop("engines", None))
    files.pop(".nvmrc", None)


def _build_spec_literal(files: Files) -> None:
    for service in ("api", "web"):
        _replace(files, f"apps/{service}/railway.toml", " --frozen-lockfile", "", required=False)


def _build_flags_and_setup(files: Files) -> None:
    _replace(files, "apps/api/railway.toml", API_BUILD,
             "corepack enable && pnpm install --frozen-lockfile --prod=false --filter=@stackfast/api... "
             "&& pnpm -r --filter=@stackfast/api run build")
    _replace(files, "apps/web/railway.toml", WEB_BUILD,
             "corepack enable; pnpm --filter @stackfast/web... install --frozen-lockfile --reporter=append-only "
             "&& pnpm -F @stackfast/web run build")
    _replace(files, "apps/api/railway.toml", f'startCommand = "{API_START}"',
             'startCommand = "pnpm --filter=@stackfast/api run start"')


def _readme_upper_case(files: Files) -> None:
    files["README.md"] = files.pop(README_PATH)


def _docs_file_name_case(files: Files) -> None:
    renames = {"docs/decisions/003-deployment-architecture.md": "docs/decisions/003-Deployment-Architecture.md",
               "scripts/deploy/rollback.md": "scripts/deploy/ROLLBACK.md"}
    for old, new in renames.items():
        files[new] = files.pop(old)
        files[README_PATH] = files[README_PATH].replace(old, new)  # every link form: `x`, `./x`, `/x`, URL


_MIGRATE_SCRIPT = """\
// One-shot Drizzle migration runner: run once per release, never from the API's start script.
//   railway run --service stackfast-api -- pnpm exec tsx scripts/deploy/migrate.ts
import { execFileSync } from "node:child_process";

if (!process.env.DATABASE_URL) {
  console.error("[migrate] DATABASE_URL is not set");
  process.exit(1);
}
execFileSync("pnpm", ["--filter", "@stackfast/api", "exec", "drizzle-kit", "migrate"], { stdio: "inherit" });
"""
_RAILWAY_RUN_MIGRATE = "railway run --service stackfast-api --environment production -- pnpm exec tsx scripts/deploy/migrate.ts"


def _migrations_section(files: Files, text: str) -> None:
    readme = files[README_PATH]
    start, end = readme.index("### Migrations"), readme.index("### Rollback")
    files[README_PATH] = readme[:start] + "### Migrations\n\n" + text + "\n" + readme[end:]


def _migrate_railway_run(files: Files) -> None:
    _replace(files, "apps/api/railway.toml", f'preDeployCommand = ["{MIGRATE}"]\n', "", required=False)
    files["scripts/deploy/migrate.ts"] = _MIGRATE_SCRIPT
    _migrations_section(files, "Migrations run once per release as a one-shot Railway command, never in the start "
                               f"script:\n\n```sh\n{_RAILWAY_RUN_MIGRATE}\n```\n")


def _migrate_one_shot_service(files: Files) -> None:
    _replace(files, "apps/api/railway.toml", f'preDeployCommand = ["{MIGRATE}"]\n', "", required=False)
    files["scripts/deploy/migrate.sh"] = ("#!/bin/sh\n# one-shot: apply the Drizzle migrations, then exit\nset -eu\n"
                                          "pnpm --filter @stackfast/api exec drizzle-kit migrate\n")
    files["apps/migrate/railway.toml"] = ('# Railway service: stackfast-migrate (runs once per release, then exits)\n'
                                          '[build]\nbuilder = "NIXPACKS"\n'
                                          'buildCommand = "pnpm install --frozen-lockfile --filter @stackfast/api..."\n\n'
                                          '[deploy]\nstartCommand = "sh scripts/deploy/migrate.sh"\n'
                                          'restartPolicyType = "NEVER"\n')
    _migrations_section(files, "Migrations run in the one-shot `stackfast-migrate` service (restart policy NEVER) "
                               "before the API deploy; it runs:\n\n```sh\nsh scripts/deploy/migrate.sh\n```\n")


def _toml_to_json_manifest(files: Files, service: str) -> None:
    import tomllib

    path = f"apps/{service}/railway.toml"
    data = tomllib.loads(files.pop(path))
    deploy = data.get("deploy", {})
    if isinstance(deploy.get("preDeployCommand"), list):
        deploy["preDeployCommand"] = deploy["preDeployCommand"][0]  # railway.json takes a string too
    files[f"apps/{service}/railway.json"] = json.dumps(data, indent=2) + "\n"


def _railway_json_manifests(files: Files) -> None:
    _toml_to_json_manifest(files, "api")
    _toml_to_json_manifest(files, "web")


def _node_from_root_engines(files: Files) -> None:
    _unpin_node(files)
    _package_edit(files, "package.json", lambda d: d.update(engines={"node": ">=20.0.0"}))


def _node_from_nvmrc(files: Files) -> None:
    _unpin_node(files)
    files[".nvmrc"] = "v20.18.1\n"
    files[".node-version"] = "20\n"


def _node_from_nixpacks_toml(files: Files) -> None:
    _unpin_node(files)
    files["nixpacks.toml"] = '[variables]\nNIXPACKS_NODE_VERSION = "20"\n'


_VARIABLE_LIST = """\
### Production variables

Set with `railway variables --set NAME=value --service stackfast-api --environment production`
(names as in ADR 003's secrets table):

- **PORT**, **NODE_ENV** — set by Railway / `production`
- **CORS_ORIGIN** — `https://stackfast.app`
- **DATABASE_URL** — the Neon pooled connection string of branch `main`
- **BETTER_AUTH_SECRET**, **BETTER_AUTH_URL** — 32 random bytes; `https://api.stackfast.app`
- **ALLOW_AUTH_BYPASS** — `false`
- `GITHUB_CLIENT_ID` / `_SECRET` — the production OAuth app
- **ADMIN_API_KEY** — 32 random bytes, not the auth secret
- **AI_PROVIDER**, `AZURE_OPENAI_{ENDPOINT,API_KEY,DEPLOYMENT}`, **GEMINI_API_KEY**
- `UPSTASH_REDIS_REST_URL` / `_TOKEN` — the rate limiter's Upstash database
- **SENTRY_DSN** — optional

```env
NODE_ENV=production
ALLOW_AUTH_BYPASS=false
```

"""


def _readme_variables_other_layout(files: Files) -> None:
    text = files[README_PATH]
    start, end = text.index("### Production variables"), text.index("## Decisions")
    files[README_PATH] = text[:start] + _VARIABLE_LIST + text[end:]


def _adr_links_absolute_and_reference(files: Files) -> None:
    text = files[README_PATH]
    text = text.replace("](docs/decisions/001-authentication-strategy.md)",
                        "](https://github.com/Nether403/Stackfast-2026/blob/main/docs/decisions/001-authentication-strategy.md)")
    text = text.replace("- [002 AI provider strategy](docs/decisions/002-ai-provider-strategy.md)",
                        "- [002 AI provider strategy][adr002]")
    text = text.replace("](docs/decisions/003-deployment-architecture.md)", "](./docs/decisions/003-deployment-architecture.md)")
    text = text.replace("[ADR 003](./docs/decisions/003-deployment-architecture.md)",
                        "[ADR 003](/docs/decisions/003-deployment-architecture.md#decision)")
    files[README_PATH] = text + "\n[adr002]: docs/decisions/002-ai-provider-strategy.md\n"


_WEB_RAILPACK = f"""\
# Railway service: stackfast-web, static hosting by Railpack's static-file provider (Caddy)
#
# The serve root is a service variable, set out of band because the config schema has no key for it:
#   railway variables --set RAILPACK_STATIC_FILE_ROOT={WEB_DIST_DIR} --service stackfast-web
"$schema" = "https://railway.com/railway.schema.json"

[build]
builder = "RAILPACK"
buildCommand = "{WEB_BUILD}"

[deploy]
healthcheckPath = "/"
healthcheckTimeout = 30
restartPolicyType = "ON_FAILURE"
restartPolicyMaxRetries = 3
"""


def _web_railpack_static(files: Files) -> None:
    files["apps/web/railway.toml"] = _WEB_RAILPACK
    _replace(files, README_PATH, "### Deploy\n", "### Deploy\n\nOnce per environment, point the web's static hosting at "
             f"the Vite output: `railway variables --set RAILPACK_STATIC_FILE_ROOT={WEB_DIST_DIR} "
             "--service stackfast-web`.\n")


# In the order variant_inputs applies them, so any set of them combines (later ones build on earlier edits).
CHECKOUT_VARIANTS: dict[str, Callable[[Files], None]] = {
    "build-flags-and-setup": _build_flags_and_setup,
    "build-spec-literal": _build_spec_literal,
    "node-from-root-engines": _node_from_root_engines,
    "node-from-nvmrc": _node_from_nvmrc,
    "node-from-nixpacks-toml": _node_from_nixpacks_toml,
    "migrate-one-shot-service": _migrate_one_shot_service,
    "migrate-railway-run": _migrate_railway_run,
    "readme-variables-other-layout": _readme_variables_other_layout,
    "adr-links-absolute-and-reference": _adr_links_absolute_and_reference,
    "docs-file-name-case": _docs_file_name_case,
    "web-railpack-static": _web_railpack_static,
    "railway-json-manifests": _railway_json_manifests,
    "readme-upper-case": _readme_upper_case,
}


def _dotenv(snaps: Snapshots, formats: Formats) -> None:
    formats.update(production="dotenv", staging="dotenv")


def _neon_channel_binding(snaps: Snapshots, formats: Formats) -> None:
    for environment, endpoint in (("production", "ep-quiet-river-a1b2c3d4"), ("staging", "ep-still-lake-e5f6a7b8")):
        snaps[environment]["DATABASE_URL"] = (
            f"postgres://neondb_owner:npg_{secrets.token_urlsafe(12)}@{endpoint}-pooler.c-2.us-east-2.aws.neon.tech/"
            "neondb?sslmode=require&channel_binding=require")


def _extra_variables(snaps: Snapshots, formats: Formats) -> None:
    for environment, domain in (("production", "stackfast.app"), ("staging", "staging.stackfast.app")):
        snaps[environment].update({
            "RAILWAY_PROJECT_NAME": "stackfast", "RAILWAY_SERVICE_NAME": "stackfast-api",
            "RAILWAY_PUBLIC_DOMAIN": f"api.{domain}", "RAILWAY_PRIVATE_DOMAIN": "stackfast-api.railway.internal",
            "RAILWAY_PROJECT_ID": "3f0c2d9e-4b7a-4c1e-9a55-0d2f6e8b1c34",
            "RAILWAY_GIT_BRANCH": "main", "RAILWAY_GIT_AUTHOR": "operator",
            "WEB_ORIGIN": f"https://{domain}", "VITE_API_URL": f"https://api.{domain}/api/v1",
            "AZURE_OPENAI_RESOURCE_NAME": "stackfast-foundry", "AZURE_OPENAI_DEPLOYMENT": "gpt-4.1",
            "AZURE_OPENAI_API_KEY": secrets.token_hex(32), "GEMINI_API_KEY": "AIza" + secrets.token_urlsafe(28),
            "SENTRY_DSN": f"https://{secrets.token_hex(16)}@o4507.ingest.us.sentry.io/4508",
            "SENTRY_RELEASE": snaps[environment]["RAILWAY_GIT_COMMIT_SHA"],
            "LOG_LEVEL": "info",
        })


def _secrets_long_encodings(snaps: Snapshots, formats: Formats) -> None:
    import base64

    snaps["production"]["ADMIN_API_KEY"] = secrets.token_hex(64)  # `openssl rand -hex 64`
    snaps["staging"]["BETTER_AUTH_SECRET"] = base64.b64encode(secrets.token_bytes(32)).decode()  # 44 chars, '='


def _random_printable(length: int = 48) -> str:
    import string

    alphabet = string.ascii_letters + string.digits + "!#%&()*+,-.:;<>?@[]^_{|}~"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _secret_printable_random(snaps: Snapshots, formats: Formats) -> None:
    # the two secrets secrets-long-encodings leaves alone, so both variants show in one combined run
    snaps["production"]["BETTER_AUTH_SECRET"] = _random_printable()
    snaps["staging"]["ADMIN_API_KEY"] = _random_printable(64)


def _json_typed_values(snaps: Snapshots, formats: Formats) -> None:
    # production always; staging too unless another variant made it dotenv (both formats then show)
    formats["production"] = "json-typed"
    if formats["staging"] == "json":
        formats["staging"] = "json-typed"


def _auth_url_trailing_slash(snaps: Snapshots, formats: Formats) -> None:
    snaps["production"]["BETTER_AUTH_URL"] += "/"
    snaps["staging"]["BETTER_AUTH_URL"] += "/"


SNAPSHOT_VARIANTS: dict[str, Callable[[Snapshots, Formats], None]] = {
    "snapshot-dotenv-export-quotes": _dotenv,
    "neon-channel-binding": _neon_channel_binding,
    "snapshot-extra-variables": _extra_variables,
    "secrets-long-encodings": _secrets_long_encodings,
    "secret-printable-random": _secret_printable_random,
    "snapshot-json-typed-values": _json_typed_values,
    "auth-url-trailing-slash": _auth_url_trailing_slash,
}


def _render_snapshot(variables: dict[str, str], fmt: str) -> tuple[str, bytes]:
    """(file suffix, bytes) of one snapshot in the given format."""
    if fmt == "json":
        return ".json", (json.dumps(variables, indent=2) + "\n").encode()
    if fmt == "json-typed":
        typed: dict[str, object] = {k: variables[k] for k in sorted(variables)}
        typed["PORT"] = int(variables["PORT"])
        typed["ALLOW_AUTH_BYPASS"] = variables["ALLOW_AUTH_BYPASS"] == "true"
        typed["RAILWAY_REPLICA_REGION"] = None
        return ".json", json.dumps(typed, separators=(",", ":")).encode()
    # a hand-kept dotenv: byte-order mark, CRLF, comments, `export`, both quote styles, inline comments
    lines = ["# railway variables --kv, kept by hand", ""]
    for index, (name, value) in enumerate(variables.items()):
        if index % 3 == 0:
            lines.append(f'export {name}="{value}"')
        elif index % 3 == 1 and "'" not in value:
            lines.append(f"{name}='{value}'  # {name.lower()}")
        elif " #" not in value and " " not in value:
            lines.append(f"{name} = {value}" if "#" not in value else f'{name}="{value}"')
        else:
            lines.append(f'{name}="{value}"')
    return ".env", ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _names(names: str | Sequence[str]) -> list[str]:
    listed = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in listed if n not in CHECKOUT_VARIANTS and n not in SNAPSHOT_VARIANTS]
    if unknown:
        raise KeyError(f"unknown checkout/snapshot variant(s) {', '.join(unknown)}; known: "
                       f"{', '.join(sorted([*CHECKOUT_VARIANTS, *SNAPSHOT_VARIANTS]))}")
    return listed


def variant_inputs(names: str | Sequence[str], directory: Path) -> list[str]:
    """Write the sample with the named harmless variants applied; return the harness arguments.

    ``names``: one variant name or several (checkout and snapshot variants mix freely: none of
    them interacts with another). Writes ``checkout/`` and one snapshot file per environment under
    ``directory`` and returns ``["--repo", CHECKOUT, "--env-snapshot", "production=FILE",
    "--env-snapshot", "staging=FILE"]`` — always both, so every repo and config check runs.
    """
    listed = _names(names)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = checkout_files()
    for name, mutate in CHECKOUT_VARIANTS.items():  # the registry's order, whatever order `names` has
        if name in listed:
            mutate(files)
    checkout = write_checkout(directory / "checkout", files)
    snaps = snapshot_pair()
    formats: Formats = dict.fromkeys(snaps, "json")
    for name, change in SNAPSHOT_VARIANTS.items():
        if name in listed:
            change(snaps, formats)
    args = ["--repo", str(checkout)]
    for environment, variables in snaps.items():
        suffix, data = _render_snapshot(variables, formats[environment])
        path = directory / f"{environment}{suffix}"
        path.write_bytes(data)
        path.chmod(0o600)
        args += ["--env-snapshot", f"{environment}={path}"]
    return args


variant_inputs_many = variant_inputs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m stackfast_conformance.sample_checkout DIRECTORY", file=sys.stderr)
        return 2
    paths = write_sample(Path(args[0]))
    print(f"wrote a conforming sample checkout and snapshot pair under {args[0]}; try:\n"
          f"  stackfast-conformance run --repo {paths['checkout']} "
          f"--env-snapshot production={paths['production']} --env-snapshot staging={paths['staging']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
