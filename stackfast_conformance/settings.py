"""Resolved settings of one run, and the target the checks talk to.

``resolve_settings`` applies the precedence CLI > env > profile file > built-in profile > default
(see ``options.py``). Errors are ``OptionError`` with a message that names the fix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stackfast_conformance.options import OPTIONS, SECRET_ENV, OptionError, convert

PROFILES = ("reference", "ci", "staging", "production")

# What each built-in profile opts in to and which environment it expects the target to be.
BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "reference": {"allow_quota": True, "allow_disruptive": True, "allow_mutating": True},
    "ci": {"allow_quota": True},
    "staging": {"allow_quota": True, "allow_mutating": True},
    "production": {},
}

# What the spec says each environment must look like (design facts of the spec).
EXPECTED_BY_ENVIRONMENT: dict[str, dict[str, str | None]] = {
    "production": {
        "web_origin": "https://stackfast.app",
        "api_origin": "https://api.stackfast.app",
        "cookie_domain": ".stackfast.app",
    },
    "staging": {
        "web_origin": "https://staging.stackfast.app",
        "api_origin": "https://api.staging.stackfast.app",
        "cookie_domain": ".stackfast.app",
    },
    "local-dev": {"web_origin": None, "api_origin": None, "cookie_domain": None},
}

# Keys a profile file may carry besides option names.
PROFILE_EXTRA_KEYS = ("environment", "expected", "operator", "hypothesis")


@dataclass(frozen=True)
class Settings:
    api_url: str | None = None
    web_url: str | None = None
    staging_api_url: str | None = None
    staging_web_url: str | None = None
    profile: str = "reference"
    profile_file: str | None = None
    report_dir: str | None = None
    allow_quota: bool = False
    allow_disruptive: bool = False
    allow_mutating: bool = False
    connect_to: tuple[str, ...] = ()
    ca_bundle: str | None = None
    window_seconds: float = 60.0
    generation_limit: int = 30
    read_limit: int = 100
    timeout: float = 10.0
    criteria: tuple[str, ...] = ()
    fault: tuple[str, ...] = ()
    variant: tuple[str, ...] = ()
    reference_env: str = "production"
    env_snapshot: tuple[str, ...] = ()
    repo: str | None = None
    baseline: str | None = None
    attestations: str | None = None
    waivers: str | None = None
    har: tuple[str, ...] = ()
    allow_production_actions: tuple[str, ...] = ()
    reference_db_retry_seconds: int = 30
    # not options: derived or from the profile file
    environment: str = "production"
    expected: Mapping[str, str | None] = field(default_factory=dict)
    operator: Mapping[str, Any] = field(default_factory=dict)
    hypothesis: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    sources: Mapping[str, str] = field(default_factory=dict)  # option -> where its value came from

    @property
    def embedded_reference(self) -> bool:
        """No API URL given: the run starts (and stops) the embedded reference deployment."""
        return self.api_url is None

    def opted_in(self, safety: str) -> bool:
        return {
            "read-only": True,
            "quota": self.allow_quota,
            "disruptive": self.allow_disruptive,
            "mutating": self.allow_mutating,
        }[safety]

    def secret_values(self) -> list[str]:
        return [v for v in self.secrets.values() if v]

    def with_values(self, **values: Any) -> Settings:
        return replace(self, **values)


def _load_profile_file(path: str) -> dict[str, Any]:
    from stackfast_conformance.inputs import _profilefile

    return _profilefile.load(Path(path))


def resolve_settings(cli: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option from the given CLI values, the environment and the profile files."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def layer(name: str) -> tuple[Any, str] | None:
        option = next(o for o in OPTIONS if o.name == name)
        if name in cli:
            return convert(option, cli[name], f"command line {option.flag}"), "cli"
        if option.env and environ.get(option.env) not in (None, ""):
            return convert(option, environ[option.env], f"environment {option.env}"), "env"
        return None

    profile_file_layer = layer("profile_file")
    profile_file_data: dict[str, Any] = {}
    if profile_file_layer:
        profile_file_data = _load_profile_file(profile_file_layer[0])

    for option in OPTIONS:
        found = layer(option.name)
        if found is not None:
            values[option.name], sources[option.name] = found
        elif option.name in profile_file_data:
            values[option.name] = convert(option, profile_file_data[option.name], "profile file")
            sources[option.name] = "profile file"

    profile = values.get("profile") or ("reference" if not values.get("api_url") else "production")
    if profile not in PROFILES:
        raise OptionError(
            f"--profile: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}"
        )
    for name, value in BUILTIN_PROFILES[profile].items():
        if name not in values:
            values[name] = value
            sources[name] = f"profile {profile}"
    for option in OPTIONS:
        if option.name not in values:
            values[option.name] = option.default
            sources.setdefault(option.name, "default")
    values["profile"] = profile

    for name in ("api_url", "web_url", "staging_api_url", "staging_web_url"):
        if values.get(name):
            values[name] = _check_base_url(name, values[name])
    if values.get("web_url") is None and values.get("api_url"):
        values["web_url"] = _guess_web_url(values["api_url"])
    for item in values["connect_to"]:
        _check_connect_to(item)
    if values.get("ca_bundle") and not Path(values["ca_bundle"]).is_file():
        raise OptionError(
            f"--ca-bundle: {values['ca_bundle']} does not exist or is not a file; give the path of a PEM bundle"
        )
    if values["window_seconds"] <= 0:
        raise OptionError("--window-seconds: must be a positive number of seconds")
    if values["reference_env"] not in ("production", "local-dev"):
        raise OptionError("--reference-env: choose production or local-dev")

    environment = profile_file_data.get("environment")
    if environment is None:
        # --reference-env local-dev names the environment also when the CLI has started that reference
        # and points this process at it through STACKFAST_API_URL.
        if values["reference_env"] == "local-dev":
            environment = "local-dev"
        elif profile == "staging":
            environment = "staging"
        else:
            environment = "production"
    expected = dict(EXPECTED_BY_ENVIRONMENT.get(environment, EXPECTED_BY_ENVIRONMENT["production"]))
    expected.update(profile_file_data.get("expected") or {})

    secrets = {name: environ.get(var, "") for name, var in SECRET_ENV.items()}
    if values["report_dir"] is None:
        values["report_dir"] = str(Path("reports") / time.strftime("run-%Y%m%d-%H%M%S"))
        sources["report_dir"] = "default"

    return Settings(
        **values,
        environment=environment,
        expected=expected,
        operator=profile_file_data.get("operator") or {},
        hypothesis=profile_file_data.get("hypothesis") or {},
        secrets=secrets,
        sources=sources,
    )


def _check_base_url(name: str, url: str) -> str:
    flag = next(o.flag for o in OPTIONS if o.name == name)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(
            f"{flag}: {url!r} is not an http(s) base URL; give one like https://api.stackfast.app"
        )
    if parts.query or parts.fragment:
        raise OptionError(f"{flag}: {url!r} has a query or fragment; give only scheme://host[:port][/path]")
    return url.rstrip("/")


def _guess_web_url(api_url: str) -> str | None:
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("api."):
        return f"{parts.scheme}://{host[4:]}" + (f":{parts.port}" if parts.port else "")
    return None


def _check_connect_to(item: str) -> None:
    pieces = item.split(":")
    if len(pieces) != 4 or not pieces[1].isdigit() or not pieces[3].isdigit():
        raise OptionError(
            f"--connect-to: {item!r} is not HOST1:PORT1:HOST2:PORT2 (as curl's --connect-to), "
            "e.g. api.stackfast.app:443:127.0.0.1:8443"
        )
