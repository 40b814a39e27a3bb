"""Environment-variable snapshots (``--env-snapshot production=prod.json``) and how to judge them.

A snapshot is what ``railway variables --json`` prints for one environment (a JSON object of
name -> value) or a dotenv file (``NAME=value`` lines). Values of secrets never leave the
process: checks show :func:`fingerprint` (``sha256:<8 hex> (N chars)``) instead, and
:func:`load_snapshots` registers every secret-looking value with the run's masker
(:func:`stackfast_conformance.evidence.register_secret`) as a second line of defence.

Errors (missing file, bad JSON, unknown environment name) are :class:`SnapshotError`, a
``ValueError`` whose message names the flag and the fix, so the CLI exits 2 with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "ENVIRONMENTS",
    "SecretStrength",
    "Snapshot",
    "SnapshotError",
    "database_endpoint",
    "describe_url",
    "fingerprint",
    "is_secret_name",
    "load_snapshot",
    "load_snapshots",
    "secret_strength",
]

ENVIRONMENTS = ("production", "staging")
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|API_KEY|_KEY$|^DATABASE_URL|_DSN$|^DSN$|PRIVATE", re.I)
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "example", "secret", "password",
                      "todo", "xxx", "replace", "dummy", "default", "test")


class SnapshotError(ValueError):
    """A snapshot could not be read; ``str()`` names the file, the problem and the fix."""


@dataclass(frozen=True)
class Snapshot:
    """One environment's variables. ``repr`` never shows values."""

    environment: str
    path: Path
    variables: Mapping[str, str] = field(repr=False)

    def get(self, name: str) -> str | None:
        value = self.variables.get(name)
        return value if value is None else str(value)

    def __contains__(self, name: object) -> bool:
        return name in self.variables


def fingerprint(value: str | None) -> str:
    """What a report may show of a secret: ``sha256:<8 hex> (N chars)``, or ``(unset)``."""
    if value is None:
        return "(unset)"
    if value == "":
        return "(empty)"
    return f"sha256:{hashlib.sha256(value.encode()).hexdigest()[:8]} ({len(value)} chars)"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _looks_secret(name: str, value: str) -> bool:
    if is_secret_name(name):
        return True
    try:
        return bool(urlsplit(value).password)
    except ValueError:
        return False


def describe_url(value: str | None) -> str:
    """A URL with its credentials replaced, safe to print: ``postgresql://***@host/db``."""
    if value is None:
        return "(unset)"
    try:
        parts = urlsplit(value)
    except ValueError:
        return f"(not a URL: {fingerprint(value)})"
    if not parts.scheme or not parts.hostname:
        return f"(not a URL: {fingerprint(value)})"
    userinfo = "***@" if parts.username or parts.password else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{userinfo}{parts.hostname}{port}{parts.path}"


def database_endpoint(url: str | None) -> tuple[str, str] | None:
    """(Neon endpoint id or host without ``-pooler``, database name) of a Postgres URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    first, _, rest = parts.hostname.partition(".")
    endpoint = first.removesuffix("-pooler") + ("." + rest if rest else "")
    return endpoint, parts.path.lstrip("/")


# --------------------------------------------------------------------------- secret strength

@dataclass(frozen=True)
class SecretStrength:
    ok: bool
    problem: str | None  # what is wrong, never the value
    encoding: str | None
    decoded_bytes: int


def _decode(value: str) -> tuple[str, bytes] | None:
    text = value.strip()
    if re.fullmatch(r"[0-9a-fA-F]+", text) and len(text) % 2 == 0:
        return "hex", bytes.fromhex(text)
    if re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text):
        try:
            return "base64", base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    if re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
        try:
            return "base64url", base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            pass
    return None


def _printable_strength(value: str, minimum_bytes: int) -> SecretStrength:
    """A random printable string (a password manager's output) holds ``len * log2(alphabet)`` bits.

    The alphabet is the union of the character classes it uses (lower, upper, digits, symbols);
    it must carry at least ``minimum_bytes`` * 8 bits and use at least 16 distinct characters.
    """
    classes = [(r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[^A-Za-z0-9\s]", 32)]
    if re.search(r"\s", value) or not value.isprintable():
        return SecretStrength(False, "is not hex, base64, base64url or a random printable string "
                                     "(e.g. `openssl rand -base64 32`)", None, 0)
    alphabet = sum(size for pattern, size in classes if re.search(pattern, value))
    bits = len(value) * math.log2(alphabet) if alphabet > 1 else 0.0
    equivalent = int(bits // 8)
    if len(set(value)) < 16:
        return SecretStrength(False, f"uses only {len(set(value))} distinct characters: not random", "printable",
                              equivalent)
    if equivalent < minimum_bytes:
        return SecretStrength(False, f"is not hex/base64 and as a printable string carries about {equivalent} random "
                                     f"bytes, fewer than {minimum_bytes} (e.g. `openssl rand -base64 32`)",
                              "printable", equivalent)
    return SecretStrength(True, None, "printable", equivalent)


def secret_strength(value: str | None, minimum_bytes: int = 32) -> SecretStrength:
    """Whether ``value`` encodes (hex/base64/base64url) at least ``minimum_bytes`` random bytes."""
    if value is None or value == "":
        return SecretStrength(False, "unset or empty", None, 0)
    lowered = value.lower()
    # a placeholder word counts where a person would type it: at an end or beside a separator, so a
    # random base64 secret that merely contains "XXx" or "Test" somewhere inside is not flagged
    word = next((w for w in _PLACEHOLDER_WORDS
                 if re.search(rf"(?:^|[^a-z0-9]){re.escape(w)}|{re.escape(w)}(?:$|[^a-z0-9])", lowered)), None)
    if word:
        return SecretStrength(False, f"looks like a placeholder (contains {word!r})", None, 0)
    if re.search(r"(.)\1{5,}", value):
        return SecretStrength(False, "looks like a placeholder (a character repeated 6+ times)", None, 0)
    if (value + value).find(value, 1) < len(value):
        return SecretStrength(False, "looks like a placeholder (one pattern repeated)", None, 0)
    decoded = _decode(value)
    if decoded is None:
        return _printable_strength(value, minimum_bytes)
    encoding, raw = decoded
    if len(raw) < minimum_bytes:
        return SecretStrength(False, f"decodes ({encoding}) to {len(raw)} bytes, fewer than {minimum_bytes}",
                              encoding, len(raw))
    if len(set(raw)) < min(16, len(raw) // 2):
        return SecretStrength(False, f"decodes ({encoding}) to {len(raw)} bytes with only {len(set(raw))} "
                                     "distinct values: not random", encoding, len(raw))
    return SecretStrength(True, None, encoding, len(raw))


# --------------------------------------------------------------------------- loading

def _parse_dotenv(path: Path, text: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SnapshotError(f"{path}:{number}: expected NAME=value (dotenv) or a JSON object "
                                "as `railway variables --json` prints it")
        variables[name] = _dotenv_value(value.strip())
    return variables


def _dotenv_value(value: str) -> str:
    """``"a b" # note`` -> ``a b``; ``'x'`` -> ``x``; ``plain # note`` -> ``plain`` (dotenv quoting)."""
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        if end > 0:
            inner = value[1:end]
            return inner.replace("\\n", "\n") if value[0] == '"' else inner
    return value.split(" #", 1)[0].rstrip() if " #" in value else value


def _parse_json(path: Path, text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); give the object "
                            "`railway variables --json` prints, or a dotenv file") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: expected a JSON object of NAME -> value "
                            f"(as `railway variables --json` prints), found a JSON {type(data).__name__}")
    variables: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, (dict, list)):
            raise SnapshotError(f"{path}: variable {name!r} has a nested JSON {type(value).__name__}; "
                                "expected a string")
        variables[str(name)] = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    return variables


def load_snapshot(environment: str, path: Path | str) -> Snapshot:
    """Read one snapshot file (JSON object or dotenv) for ``environment``."""
    path = Path(path)
    if environment not in ENVIRONMENTS:
        from stackfast_conformance._yamlcheck import did_you_mean

        hint = did_you_mean(environment, ENVIRONMENTS) or next(
            (f" (did you mean {c!r}?)" for c in ENVIRONMENTS if c.startswith(environment.lower())), "")
        raise SnapshotError(f"--env-snapshot: unknown environment {environment!r}{hint}; "
                            f"use one of {', '.join(ENVIRONMENTS)} (e.g. --env-snapshot production=prod.json)")
    if not path.is_file():
        raise SnapshotError(f"--env-snapshot {environment}={path}: file not found; save it with "
                            f"`railway variables --json --environment {environment} > {path.name}`")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is not a name
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"--env-snapshot {environment}={path}: cannot read it ({type(exc).__name__})") from None
    variables = _parse_json(path, text) if text.lstrip().startswith(("{", "[")) else _parse_dotenv(path, text)
    return Snapshot(environment, path, variables)


def _register(snapshot: Snapshot) -> None:
    from stackfast_conformance.evidence import register_secret
    from stackfast_conformance.redact import is_secret_value, register_public

    public = []
    for name, value in snapshot.variables.items():
        # by name, by shape, or random-looking (redact.py): never a public id, origin, number or flag; a URL
        # registers its password (or a DSN's key) only, its host stays readable
        if value and (_looks_secret(name, value) or is_secret_value(name, value)):
            register_secret(value, name)
        elif value:
            public.append(value)  # an origin, a commit id, a client id: no piece of a secret is masked inside one
    register_public(public)


def parse_specs(specs: Iterable[str]) -> dict[str, Path]:
    """``["production=prod.json", ...]`` -> {environment: path}; errors name the fix."""
    result: dict[str, Path] = {}
    for spec in specs:
        environment, sep, file = spec.partition("=")
        if not sep or not environment or not file:
            raise SnapshotError(f"--env-snapshot: {spec!r} is not ENV=FILE; e.g. --env-snapshot production=prod.json")
        if environment in result:
            raise SnapshotError(f"--env-snapshot: environment {environment!r} given twice")
        result[environment] = Path(file)
    return result


def load_snapshots(specs: Iterable[str]) -> dict[str, Snapshot]:
    """Load every ``ENV=FILE`` and register the secret-looking values with the masker."""
    loaded: dict[str, Snapshot] = {}
    for environment, path in parse_specs(specs).items():
        snapshot = load_snapshot(environment, path)
        _register(snapshot)
        loaded[environment] = snapshot
    return loaded
