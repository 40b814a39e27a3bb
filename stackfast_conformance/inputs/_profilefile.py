"""Profile files: per-target YAML with option values, expectations and operator commands.

Example::

    api_url: https://api.staging.stackfast.app
    profile: staging
    environment: staging
    window_seconds: 60
    expected: {web_origin: https://staging.stackfast.app}
    operator:
      restart-api: {command: "railway redeploy --service api --yes", timeout: 300}
      logs: {command: "railway logs --service api", timeout: 30}

Unknown keys are errors with ``file:line`` and "did you mean"; secrets are refused here
(they come from the environment only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode

from stackfast_conformance._yamlcheck import ConfigFileError, compose, did_you_mean
from stackfast_conformance.options import OPTIONS, SECRET_ENV, OptionError, convert

_EXTRA = ("environment", "expected", "operator", "hypothesis")
_EXPECTED_KEYS = ("web_origin", "api_origin", "cookie_domain", "oauth_client_id", "tls_issuer",
                  "health_ready_seconds")
_ENVIRONMENTS = ("production", "staging", "local-dev")


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigFileError(path, None, "profile file not found; give the path of a YAML file (--profile-file)")
    node = compose(path)
    if node is None:
        return {}
    if not isinstance(node, MappingNode):
        raise ConfigFileError(path, node.start_mark.line + 1, "expected a mapping of option names to values")
    allowed = [o.name for o in OPTIONS if o.name != "profile_file"] + list(_EXTRA)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in SECRET_ENV or key in SECRET_ENV.values():
            raise ConfigFileError(path, line, f"{key!r} is a secret: it is read only from the environment "
                                              f"variable {SECRET_ENV.get(key, key)}, never from a file")
        if key not in allowed:
            raise ConfigFileError(path, line, f"unknown key {key!r}{did_you_mean(key, allowed)}")
        value = yaml.safe_load(yaml.serialize(value_node))
        if key == "environment" and value not in _ENVIRONMENTS:
            raise ConfigFileError(path, line, f"'environment': expected one of {', '.join(_ENVIRONMENTS)}, found {value!r}")
        if key == "expected":
            if not isinstance(value, dict):
                raise ConfigFileError(path, line, "'expected': expected a mapping")
            for sub in value:
                if sub not in _EXPECTED_KEYS:
                    raise ConfigFileError(path, line, f"unknown key {sub!r} under 'expected'{did_you_mean(sub, _EXPECTED_KEYS)}")
        if key == "operator":
            _check_operator(path, line, value)
        if key in {o.name for o in OPTIONS}:
            try:
                convert(next(o for o in OPTIONS if o.name == key), value, f"profile file {path}:{line}")
            except OptionError as exc:
                raise ConfigFileError(path, line, str(exc)) from None
        result[key] = value
    return result


def _check_operator(path: Path, line: int, value: Any) -> None:
    if not isinstance(value, dict):
        raise ConfigFileError(path, line, "'operator': expected a mapping of action name to {command, timeout}")
    from stackfast_conformance.operator import ACTIONS

    for action, spec in value.items():
        if action not in ACTIONS:
            raise ConfigFileError(path, line, f"unknown operator action {action!r}{did_you_mean(action, ACTIONS)}; "
                                              f"actions: {', '.join(ACTIONS)}")
        if isinstance(spec, str):
            continue
        if not isinstance(spec, dict) or "command" not in spec:
            raise ConfigFileError(path, line, f"operator action {action!r}: expected a command string or "
                                              "{command: ..., timeout: seconds}")
        unknown = set(spec) - {"command", "timeout"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigFileError(path, line, f"operator action {action!r}: unknown key {key!r}"
                                              f"{did_you_mean(key, ['command', 'timeout'])}")
