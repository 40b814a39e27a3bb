"""One definition of every option, shared by the CLI (argparse) and the pytest plugin.

Precedence: command-line flag > environment variable > profile file > built-in profile > default.
Secrets are never options: they come only from the environment (see ``SECRET_ENV``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = _NotGiven()


@dataclass(frozen=True)
class Option:
    name: str  # attribute name in Settings and key in profile files
    flag: str  # CLI flag; the pytest flag is "--sf-" + flag[2:]
    env: str | None
    kind: str  # str | bool | int | float | list | path
    default: Any
    help: str
    cli_only: bool = False  # only meaningful to the CLI (e.g. starting the reference)

    @property
    def pytest_flag(self) -> str:
        return "--sf-" + self.flag[2:]

    @property
    def dest(self) -> str:
        return "sf_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("api_url", "--api", "STACKFAST_API_URL", "str", None,
           "API base URL (e.g. https://api.stackfast.app). Not given: start the embedded reference."),
    Option("web_url", "--web", "STACKFAST_WEB_URL", "str", None, "Web base URL (e.g. https://stackfast.app)."),
    Option("staging_api_url", "--staging-api", "STACKFAST_STAGING_API_URL", "str", None,
           "Staging API base URL, for cross-environment checks."),
    Option("staging_web_url", "--staging-web", "STACKFAST_STAGING_WEB_URL", "str", None, "Staging web base URL."),
    Option("profile", "--profile", "STACKFAST_PROFILE", "str", None,
           "reference | ci | staging | production (default: reference for the embedded reference, "
           "production for any other target)."),
    Option("profile_file", "--profile-file", "STACKFAST_PROFILE_FILE", "path", None,
           "YAML file with option values and operator commands for this target."),
    Option("report_dir", "--report-dir", "STACKFAST_REPORT_DIR", "path", None,
           "Directory for this run's reports (default: reports/run-<timestamp>)."),
    Option("allow_quota", "--allow-quota", "STACKFAST_ALLOW_QUOTA", "bool", False,
           "Run checks that spend rate-limit quota."),
    Option("allow_disruptive", "--allow-disruptive", "STACKFAST_ALLOW_DISRUPTIVE", "bool", False,
           "Run checks that restart, redeploy, roll back or break the target (operator actions)."),
    Option("allow_mutating", "--allow-mutating", "STACKFAST_ALLOW_MUTATING", "bool", False,
           "Run checks that change state on the target (admin imports)."),
    Option("connect_to", "--connect-to", "STACKFAST_CONNECT_TO", "list", (),
           "HOST1:PORT1:HOST2:PORT2, as curl's --connect-to (repeatable)."),
    Option("ca_bundle", "--ca-bundle", "STACKFAST_CA_BUNDLE", "path", None,
           "PEM bundle of CAs to trust instead of the system store."),
    Option("window_seconds", "--window-seconds", "STACKFAST_WINDOW_SECONDS", "float", 60.0,
           "Rate-limit window of the target, in seconds (the spec says 60)."),
    Option("generation_limit", "--generation-limit", "STACKFAST_GENERATION_LIMIT", "int", 30,
           "Generation bucket size (spec: 30)."),
    Option("read_limit", "--read-limit", "STACKFAST_READ_LIMIT", "int", 100, "Read bucket size (spec: 100)."),
    Option("timeout", "--timeout", "STACKFAST_TIMEOUT", "float", 10.0, "Per-request timeout in seconds."),
    Option("criteria", "--criteria", "STACKFAST_CRITERIA", "list", (),
           "Only run checks linked to these criterion ids (comma or space separated)."),
    Option("fault", "--fault", None, "list", (),
           "Start the embedded reference with this named fault (repeatable; see `reference --list-faults`).",
           cli_only=False),
    Option("variant", "--variant", "STACKFAST_VARIANT", "list", (),
           "Start the embedded reference with this harmless variant on (repeatable; see "
           "`reference --list-variants`)."),
    Option("reference_env", "--reference-env", "STACKFAST_REFERENCE_ENV", "str", "production",
           "Environment of the embedded reference: production | local-dev."),
    Option("env_snapshot", "--env-snapshot", "STACKFAST_ENV_SNAPSHOT", "list", (),
           "ENV=FILE: a `railway variables --json` (or dotenv) snapshot of an environment (repeatable)."),
    Option("repo", "--repo", "STACKFAST_REPO", "path", None, "Path to a Stackfast checkout for repo/doc audits."),
    Option("baseline", "--baseline", "STACKFAST_BASELINE", "path", None,
           "A previous run's report directory (or traceability.json): the report then shows, per criterion, what "
           "newly fails, what was fixed and what is covered in only one of the two runs (as `diff`)."),
    Option("attestations", "--attestations", "STACKFAST_ATTESTATIONS", "path", None,
           "attestations.yaml recording manual confirmations."),
    Option("waivers", "--waivers", "STACKFAST_WAIVERS", "path", None, "waivers.yaml listing known failures."),
    Option("har", "--har", "STACKFAST_HAR", "list", (),
           "HAR 1.2 file of a sign-in recorded in a real browser, exported with sensitive data (repeatable)."),
    Option("allow_production_actions", "--allow-production-action", "STACKFAST_ALLOW_PRODUCTION_ACTIONS", "list", (),
           "Operator actions (e.g. restart-api) that may run against the production profile; the production "
           "profile runs none unless named here (repeatable, comma or space separated)."),
    Option("reference_db_retry_seconds", "--reference-db-retry-seconds", "STACKFAST_REFERENCE_DB_RETRY_SECONDS",
           "int", 30, "Database retry budget of the embedded reference API (spec: 30 s; smaller = faster self-tests)."),
)

OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}

# Secrets: environment only, never a flag, never written anywhere.
SECRET_ENV = {
    "admin_key": "STACKFAST_ADMIN_KEY",
    "session_cookie": "STACKFAST_SESSION_COOKIE",
    "staging_admin_key": "STACKFAST_STAGING_ADMIN_KEY",
    "staging_session_cookie": "STACKFAST_STAGING_SESSION_COOKIE",
}

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class OptionError(ValueError):
    """A bad option value: the message names the option, what was given and the fix."""


def convert(option: Option, raw: Any, source: str) -> Any:
    """Convert a raw value (from a flag, env var or profile file) to the option's kind."""
    if raw is None:
        return None
    try:
        if option.kind == "bool":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        if option.kind == "int":
            return int(raw)
        if option.kind == "float":
            return float(raw)
        if option.kind == "list":
            if isinstance(raw, (list, tuple)):
                items: list[str] = []
                for item in raw:
                    items.extend(_split(str(item)))
                return tuple(items)
            return tuple(_split(str(raw)))
        return str(raw)
    except ValueError as exc:
        raise OptionError(f"{option.flag} ({source}): {exc}") from None


def _split(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def add_argparse_options(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        _add(parser.add_argument, option, option.flag)


def add_pytest_options(group: Any) -> None:
    for option in OPTIONS:
        _add(group.addoption, option, option.pytest_flag)


# What --help shows as an option's value (argparse would show the internal dest, e.g. SF_API_URL).
METAVARS = {
    "api_url": "URL", "web_url": "URL", "staging_api_url": "URL", "staging_web_url": "URL",
    "profile": "NAME", "profile_file": "FILE", "report_dir": "DIR", "connect_to": "HOST:PORT:ADDR:PORT",
    "ca_bundle": "PEM", "window_seconds": "SECONDS", "generation_limit": "N", "read_limit": "N",
    "timeout": "SECONDS", "criteria": "IDS", "fault": "NAME", "variant": "NAME", "reference_env": "ENV",
    "env_snapshot": "ENV=FILE", "repo": "PATH", "baseline": "DIR", "attestations": "FILE", "waivers": "FILE",
    "allow_production_actions": "ACTION", "reference_db_retry_seconds": "SECONDS",
}


def metavar(option: Option) -> str:
    return METAVARS.get(option.name) or ("FILE" if option.kind == "path" else option.flag[2:].upper().replace("-", "_"))


def _add(add: Any, option: Option, flag: str) -> None:
    env = f" [env {option.env}]" if option.env else ""
    if option.kind == "bool":
        add(flag, dest=option.dest, action="store_const", const=True, default=NOT_GIVEN,
            help=option.help + env)
    elif option.kind == "list":
        add(flag, dest=option.dest, action=_AppendGiven, default=NOT_GIVEN, metavar=metavar(option),
            help=option.help + env)
    else:
        add(flag, dest=option.dest, default=NOT_GIVEN, metavar=metavar(option), help=option.help + env)


class _AppendGiven(argparse.Action):
    """`append` that starts from an empty list, so "not given" stays distinguishable."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        current = getattr(namespace, self.dest, NOT_GIVEN)
        setattr(namespace, self.dest, ([] if current is NOT_GIVEN else list(current)) + [values])


def given_values(namespace: Any) -> dict[str, Any]:
    """The options the user gave on the command line (NOT_GIVEN ones left out)."""
    values = {}
    for option in OPTIONS:
        value = getattr(namespace, option.dest, NOT_GIVEN)
        if value is not NOT_GIVEN:
            values[option.name] = value
    return values


def to_pytest_args(values: dict[str, Any]) -> list[str]:
    """Turn given CLI values into the plugin's pytest flags (one definition, two front ends)."""
    args: list[str] = []
    for name, value in values.items():
        option = OPTIONS_BY_NAME[name]
        if option.kind == "bool":
            if value:
                args.append(option.pytest_flag)
        elif option.kind == "list":
            for item in value:
                args.append(f"{option.pytest_flag}={item}")
        else:
            args.append(f"{option.pytest_flag}={value}")
    return args
