"""The embedded reference's own inputs for the config, repo and drift checks (the no-argument demo).

Run without ``--env-snapshot``/``--repo`` against the conforming embedded reference, the harness
still audits config and repo: it feeds

- an env snapshot per environment (production, staging) taken from **what the reference's API
  processes run with** (``/proc/PID/environ``; ``secrets.json`` of the state directory where
  ``/proc`` is not readable): URLs, flags, secrets and OAuth client as deployed. The reference
  runs SQLite and a local Redis instead of Neon and Upstash, so the Railway-only variables
  (``DATABASE_URL``, ``UPSTASH_REDIS_REST_*``, ``RAILWAY_*``, ``NEON_BRANCH``) come from the
  conforming sample (``sample_checkout.snapshot_pair``); the report says which came from where;
- the conforming sample checkout (``sample_checkout.write_checkout``), with the spec text, so spec
  drift is computed.

The files live in the reference's state directory (secrets stay out of the report directory) and
go away with it. The report labels them as the reference's inputs (``run.reference_inputs``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["LABEL_FILE", "inputs_not_given", "label_for", "write_reference_inputs"]

LABEL_FILE = "reference-inputs.json"
# variables the API process really runs with and a Railway snapshot also carries
FROM_PROCESS = ("NODE_ENV", "CORS_ORIGIN", "BETTER_AUTH_URL", "BETTER_AUTH_SECRET", "ADMIN_API_KEY",
                "ALLOW_AUTH_BYPASS", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "RATE_LIMIT_BACKEND")


def _process_env(pid: int | None) -> dict[str, str] | None:
    if not pid:
        return None
    try:
        raw = Path(f"/proc/{int(pid)}/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _from_state(ref: Any, environment: str, stack: dict[str, Any]) -> dict[str, str]:
    """The same variables from the state directory, where /proc cannot be read."""
    secrets = json.loads(Path(ref.state["secrets_file"]).read_text()).get(environment, {})
    return {"NODE_ENV": "production", "CORS_ORIGIN": stack["web_url"], "BETTER_AUTH_URL": stack["api_url"],
            "BETTER_AUTH_SECRET": secrets.get("better_auth_secret", ""), "ADMIN_API_KEY": secrets.get("admin_key", ""),
            "ALLOW_AUTH_BYPASS": "false", "GITHUB_CLIENT_ID": stack.get("github_client_id", ""),
            "GITHUB_CLIENT_SECRET": secrets.get("github_client_secret", ""), "RATE_LIMIT_BACKEND": "upstash"}


def write_reference_inputs(ref: Any, directory: Path | None = None) -> dict[str, Any]:
    """Write the snapshots and the sample checkout; return the option values that feed them to the checks."""
    from stackfast_conformance.sample_checkout import snapshot_pair, write_checkout

    directory = Path(directory or Path(ref.state_dir) / "inputs")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    samples = snapshot_pair()
    stacks = ref.state.get("stacks") or {}
    specs: list[str] = []
    sources: dict[str, Any] = {}
    for environment in ("production", "staging"):
        stack = stacks.get(environment)
        if not stack:
            continue
        real = _process_env((stack.get("api") or {}).get("pid"))
        source = "the API process's environment (/proc)" if real else "the reference's state directory"
        actual = real if real else _from_state(ref, environment, stack)
        variables = dict(samples[environment])
        taken = [name for name in FROM_PROCESS if name in actual]
        variables.update({name: actual[name] for name in taken})
        path = directory / f"{environment}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(variables, fh, indent=2)
        specs.append(f"{environment}={path}")
        sources[environment] = {"from_reference": taken, "source": source,
                                "from_sample": sorted(set(variables) - set(taken))}
    checkout = write_checkout(directory / "checkout")
    label = {
        "env_snapshots": sources,
        "repo": "the conforming sample checkout (stackfast_conformance/sample_checkout.py), with the spec text",
        "note": "no --env-snapshot/--repo given: the embedded reference's own inputs were audited. The reference "
                "runs SQLite and a local Redis, so DATABASE_URL, UPSTASH_*, RAILWAY_* and NEON_BRANCH are the "
                "sample's conforming Railway values.",
    }
    (directory / LABEL_FILE).write_text(json.dumps(label, indent=2) + "\n")
    values: dict[str, Any] = {"repo": str(checkout)}
    if specs:
        values["env_snapshot"] = specs
    return values


def label_for(settings: Any) -> dict[str, Any] | None:
    """The label of the reference's inputs when this run's snapshots/checkout are them, else None."""
    candidates = [Path(settings.repo).parent] if settings.repo else []
    candidates += [Path(spec.split("=", 1)[-1]).parent for spec in settings.env_snapshot or ()]
    for directory in candidates:
        label = directory / LABEL_FILE
        if label.is_file():
            try:
                return dict(json.loads(label.read_text()))
            except (OSError, ValueError):
                return None
    return None


def inputs_not_given(ref: Any, settings: Any) -> dict[str, Any]:
    """The reference's inputs for what the person did not give (``--env-snapshot``, ``--repo``)."""
    values = write_reference_inputs(ref)
    if settings.env_snapshot:
        values.pop("env_snapshot", None)
    if settings.repo:
        values.pop("repo", None)
    return values
