"""A small conforming Stackfast checkout and env-snapshot pair, written on demand.

For a release engineer who wants to see the repo, config and drift audits work without a real
checkout, and for the project's own tests (``tests/fixtures/stackfast_checkout.py`` mutates it)::

    python -m stackfast_conformance.sample_checkout /tmp/sample
    stackfast-conformance run --repo /tmp/sample/checkout \\
        --env-snapshot production=/tmp/sample/production.json --env-snapshot staging=/tmp/sample/staging.json

The files are only as detailed as the audits need. The requirements text under
``.kiro/specs/phase-8-deployment/requirements.md`` is our own restatement of the catalog in the
spec's layout (numbered EARS criteria under ``### Requirement N`` headings), not the upstream text;
``requirements/spec-baseline.yaml`` was recorded from it (see ``stackfast_conformance/drift.py``).
Secrets in the snapshots are fresh random values on every call.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

__all__ = ["README", "checkout_files", "requirements_markdown", "snapshot_pair", "write_checkout", "write_sample"]

API_BUILD = "pnpm install --filter @stackfast/api... && pnpm --filter @stackfast/api build"
API_START = "pnpm --filter @stackfast/api start"
WEB_BUILD = "pnpm install --filter @stackfast/web... && pnpm --filter @stackfast/web build"
MIGRATE = "pnpm --filter @stackfast/api db:migrate"

API_RAILWAY_TOML = f"""\
# Railway service: stackfast-api (Node 20, long-running Hono process)
[build]
builder = "NIXPACKS"
buildCommand = "{API_BUILD}"

[build.nixpacksPlan.variables]
NIXPACKS_NODE_VERSION = "20"

[deploy]
preDeployCommand = ["{MIGRATE}"]
startCommand = "{API_START}"
healthcheckPath = "/health"
healthcheckTimeout = 15
restartPolicyType = "ON_FAILURE"
"""

WEB_RAILWAY_TOML = f"""\
# Railway service: stackfast-web (static hosting of the Vite build)
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
    lines = ["# Requirements Document", "", "## Requirements", ""]
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
        "README.md": README,
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
