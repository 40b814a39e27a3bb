"""YAML loading with line numbers, and a small schema language for the files people write.

Every YAML file the harness reads from a person (the catalog, profile files,
``waivers.yaml``, ``attestations.yaml``) goes through this module, so that
every mistake is reported the same way::

    requirements/criteria.yaml:57: unknown key 'statment' in criterion R1.3 (did you mean 'statement'?)

i.e. ``file:line``, what was expected, what was found, and "did you mean" for
typos. Unknown keys, duplicate keys and wrong types are errors, never silence.

Typical use::

    WAIVER = Mapping(
        {"criterion": Str(pattern=r"R\\d+\\.\\d+", description="a criterion id like R4.7"),
         "expires": Date()},
        optional={"reason": Str()},
        name="waiver", id_key="criterion",
    )
    waivers = load(path, Mapping({"waivers": ListOf(WAIVER)}, name="waivers file"))
    first = waivers["waivers"][0]          # a MappingData: a dict that knows its lines
    if first["criterion"] not in catalog:
        raise ConfigFileError(path, first.line_of("criterion"), f"unknown criterion {first['criterion']!r}")

What callers may rely on:

- :func:`load` / :func:`validate` return plain Python data (``str``, ``int``,
  ``bool``, ``datetime.date``, ``list``) where every mapping is a
  :class:`MappingData` (a ``dict`` subclass) with ``.line`` (1-based line of the
  mapping) and ``.line_of(key)`` (1-based line of that key's value), so callers
  can raise their own semantic errors at the right place.
- Every problem is a :class:`ConfigFileError`; nothing else escapes for a bad file.
- Optional keys that are absent are absent from the result (no ``None`` filling).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "Bool",
    "ConfigFileError",
    "Date",
    "DictOf",
    "Enum",
    "Int",
    "ListOf",
    "Mapping",
    "MappingData",
    "Schema",
    "Str",
    "compose",
    "did_you_mean",
    "load",
    "validate",
]

_TAG = "tag:yaml.org,2002:"
_TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "null": "nothing (null)",
    "timestamp": "date",
}


class ConfigFileError(Exception):
    """A YAML file a person wrote is wrong. ``str()`` is ``"{path}:{line}: {message}"``.

    ``line`` is 1-based, or ``None`` when the problem is the file as a whole
    (missing, unreadable); then ``str()`` is ``"{path}: {message}"``.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = _display_path(self.path)
        if self.line is None:
            return f"{where}: {self.message}"
        return f"{where}:{self.line}: {self.message}"


def _display_path(path: Path) -> str:
    """Show a path relative to the working directory when it lies under it (as a person typed it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = [c for c in options if c.lower() == word.lower()][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- parsing


def compose(path: str | Path) -> Node | None:
    """Parse one YAML document into a node tree (every node knows its ``start_mark``).

    Returns ``None`` for an empty document. Syntax errors, several documents in
    one file, unreadable files -> :class:`ConfigFileError` with the line from
    the YAML mark.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return yaml.compose(raw, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        parts = [p for p in (exc.context, exc.problem) if p]
        raise ConfigFileError(path, line, "invalid YAML: " + "; ".join(parts)) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: bytes that are not UTF-8/16
        raise ConfigFileError(path, None, f"invalid YAML: {exc}") from None


def load(path: str | Path, schema: Schema) -> Any:
    """:func:`compose` the file and :func:`validate` it against ``schema``."""
    return validate(compose(path), schema, path)


def validate(node: Node | None, schema: Schema, path: str | Path) -> Any:
    """Check ``node`` (from :func:`compose`) against ``schema``; return the Python data.

    ``path`` is only used in error messages. Raises :class:`ConfigFileError` on the
    first problem found, in document order.
    """
    ctx = _Context(Path(path), label=None, trail=())
    if node is None:
        raise ConfigFileError(path, 1, f"the file is empty: expected {schema.expected}")
    return schema._check(node, ctx)


class MappingData(dict):
    """A validated YAML mapping: a ``dict`` that also knows where it was written."""

    line: int
    key_lines: dict[str, int]

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines = {}

    def line_of(self, key: str) -> int:
        """1-based line of ``key``'s value (the mapping's own line when the key is absent)."""
        return self.key_lines.get(key, self.line)


# --------------------------------------------------------------------------- schema language


@dataclass(frozen=True)
class _Context:
    """Where we are, for messages: the nearest named mapping and the keys below it."""

    path: Path
    label: str | None
    trail: tuple[str | int, ...]

    def child(self, key: str | int) -> _Context:
        return _Context(self.path, self.label, (*self.trail, key))

    def where(self) -> str:
        dotted = ""
        for part in self.trail:
            dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else part)
        if dotted and self.label:
            return f"{dotted!r} in {self.label}"
        return repr(dotted) if dotted else (self.label or "the document")

    def error(self, node: Node, message: str) -> ConfigFileError:
        return ConfigFileError(self.path, _line(node), message)

    def mismatch(self, node: Node, expected: str, hint: str = "") -> ConfigFileError:
        return self.error(node, f"{self.where()}: expected {expected}, found {_describe(node)}{hint}")


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _kind(node: Node) -> str:
    return node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping" if node.value else "an empty mapping"
    if isinstance(node, SequenceNode):
        return "a list" if node.value else "an empty list"
    kind = _kind(node)
    text = node.value if len(node.value) <= 60 else node.value[:57] + "..."
    if kind == "str":
        return repr(text)
    if kind == "null":
        return _TYPE_NAMES["null"]
    return f"{_TYPE_NAMES.get(kind, kind)} {text}"


def _quote_hint(node: Node) -> str:
    """For a plain scalar YAML typed as non-string (``yes``, ``1.10``): suggest quoting."""
    if isinstance(node, ScalarNode) and node.style is None and _kind(node) not in ("str", "null"):
        return " (quote it to make it a string)"
    return ""


_CONSTRUCTOR = SafeConstructor()


class Schema:
    """Base of the schema language. ``expected`` is the phrase used after "expected"."""

    @property
    def expected(self) -> str:
        return "a value"

    def _check(self, node: Node, ctx: _Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Schema):
    """A string. ``pattern`` must match the whole string; ``description`` names it in messages."""

    pattern: str | None = None
    description: str | None = None
    one_line: bool = False
    allow_empty: bool = False

    @property
    def expected(self) -> str:
        if self.description:
            return self.description
        if self.pattern:
            return f"a string matching {self.pattern!r}"
        return "a one-line string" if self.one_line else "a string"

    def _check(self, node: Node, ctx: _Context) -> str:
        if not isinstance(node, ScalarNode) or _kind(node) != "str":
            raise ctx.mismatch(node, self.expected, _quote_hint(node))
        value: str = node.value
        if not self.allow_empty and not value.strip():
            raise ctx.mismatch(node, self.expected + " (not empty)")
        if self.one_line and "\n" in value.strip():
            raise ctx.mismatch(node, "a one-line string", " (spanning several lines)")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ctx.mismatch(node, self.expected)
        return value


@dataclass(frozen=True)
class Enum(Schema):
    """One of a fixed set of strings."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def _check(self, node: Node, ctx: _Context) -> str:
        if isinstance(node, ScalarNode) and _kind(node) == "str" and node.value in self.choices:
            return node.value
        hint = did_you_mean(node.value, self.choices) if isinstance(node, ScalarNode) else ""
        raise ctx.mismatch(node, self.expected, hint)


@dataclass(frozen=True)
class Bool(Schema):
    """``true`` or ``false``."""

    @property
    def expected(self) -> str:
        return "true or false"

    def _check(self, node: Node, ctx: _Context) -> bool:
        if not isinstance(node, ScalarNode) or _kind(node) != "bool":
            raise ctx.mismatch(node, self.expected)
        return bool(_CONSTRUCTOR.construct_yaml_bool(node))


@dataclass(frozen=True)
class Int(Schema):
    """An integer, optionally bounded (inclusive)."""

    minimum: int | None = None
    maximum: int | None = None

    @property
    def expected(self) -> str:
        if self.minimum is not None and self.minimum == self.maximum:
            return f"the integer {self.minimum}"
        if self.minimum is not None and self.maximum is not None:
            return f"an integer from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"an integer >= {self.minimum}"
        if self.maximum is not None:
            return f"an integer <= {self.maximum}"
        return "an integer"

    def _check(self, node: Node, ctx: _Context) -> int:
        if not isinstance(node, ScalarNode) or _kind(node) != "int":
            raise ctx.mismatch(node, self.expected)
        value = int(_CONSTRUCTOR.construct_yaml_int(node))
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ctx.mismatch(node, self.expected)
        return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Date(Schema):
    """A calendar date written ``YYYY-MM-DD`` (quoted or not); returns ``datetime.date``."""

    @property
    def expected(self) -> str:
        return "a date YYYY-MM-DD"

    def _check(self, node: Node, ctx: _Context) -> _dt.date:
        if not isinstance(node, ScalarNode) or _kind(node) not in ("str", "timestamp"):
            raise ctx.mismatch(node, self.expected)
        if not _ISO_DATE.fullmatch(node.value.strip()):
            raise ctx.mismatch(node, self.expected)
        try:
            return _dt.date.fromisoformat(node.value.strip())
        except ValueError as exc:
            raise ctx.mismatch(node, self.expected, f" ({exc})") from None


@dataclass(frozen=True)
class ListOf(Schema):
    """A list whose items all match ``item``. ``unique`` rejects repeated scalar items."""

    item: Schema
    min_items: int = 0
    unique: bool = False

    @property
    def expected(self) -> str:
        if self.min_items == 1:
            return f"a non-empty list, each item {self.item.expected}"
        size = f"at least {self.min_items} " if self.min_items else ""
        return f"a list of {size}items, each {self.item.expected}"

    def _check(self, node: Node, ctx: _Context) -> list[Any]:
        if not isinstance(node, SequenceNode) or len(node.value) < self.min_items:
            raise ctx.mismatch(node, self.expected)
        result: list[Any] = []
        first_seen: dict[Any, int] = {}
        for index, item_node in enumerate(node.value):
            value = self.item._check(item_node, ctx.child(index))
            if self.unique and isinstance(value, str | int | bool | _dt.date):
                if value in first_seen:
                    raise ctx.child(index).error(
                        item_node,
                        f"{ctx.where()}: {value!r} is listed twice (first at line {first_seen[value]})",
                    )
                first_seen[value] = _line(item_node)
            result.append(value)
        return result


def _check_mapping_keys(node: Node, ctx: _Context) -> list[tuple[str, Node, Node]]:
    """The (key, key node, value node) triples of a mapping; duplicate / non-string keys rejected."""
    if not isinstance(node, MappingNode):
        raise ctx.mismatch(node, "a mapping")
    seen: dict[str, int] = {}
    pairs = []
    for key_node, value_node in node.value:
        if _kind(key_node) == "merge":
            raise ctx.error(
                key_node, f"{ctx.where()}: merge keys ('<<') are not supported; write the keys out"
            )
        if not isinstance(key_node, ScalarNode) or _kind(key_node) != "str":
            raise ctx.error(key_node, f"{ctx.where()}: keys must be strings, found {_describe(key_node)}")
        key = key_node.value
        if key in seen:
            raise ctx.error(
                key_node, f"duplicate key {key!r} in {ctx.where()} (first given at line {seen[key]})"
            )
        seen[key] = _line(key_node)
        pairs.append((key, key_node, value_node))
    return pairs


@dataclass(frozen=True)
class Mapping(Schema):
    """A mapping with known keys. Unknown keys are errors ("did you mean ...").

    ``name`` (e.g. ``"criterion"``) and ``id_key`` (e.g. ``"id"``) make messages
    say ``in criterion R1.3`` instead of a dotted path.
    """

    required: dict[str, Schema] = field(default_factory=dict)
    optional: dict[str, Schema] = field(default_factory=dict)
    name: str | None = None
    id_key: str | None = None

    @property
    def expected(self) -> str:
        return f"a {self.name} mapping" if self.name else "a mapping"

    def _label(self, node: MappingNode, ctx: _Context) -> _Context:
        if not self.name:
            return ctx
        label = self.name
        if self.id_key:
            for key_node, value_node in node.value:
                if key_node.value == self.id_key and isinstance(value_node, ScalarNode) and value_node.value:
                    label = f"{self.name} {value_node.value}"
                    break
        return _Context(ctx.path, label, ())

    def _check(self, node: Node, ctx: _Context) -> MappingData:
        if not isinstance(node, MappingNode):
            if self.name and ctx.label is None and not ctx.trail:  # the document itself
                raise _Context(ctx.path, self.name, ()).mismatch(node, "a mapping")
            raise ctx.mismatch(node, self.expected)
        inner = self._label(node, ctx)
        known = {**self.required, **self.optional}
        result = MappingData(_line(node))
        for key, key_node, value_node in _check_mapping_keys(node, inner):
            schema = known.get(key)
            if schema is None:
                hint = did_you_mean(key, known) or (
                    " (expected one of: " + ", ".join(repr(k) for k in known) + ")"
                )
                raise inner.error(key_node, f"unknown key {key!r} in {inner.where()}{hint}")
            result[key] = schema._check(value_node, inner.child(key))
            result.key_lines[key] = _line(value_node)
        for key in self.required:
            if key not in result:
                raise inner.error(node, f"missing required key {key!r} in {inner.where()}")
        return result


@dataclass(frozen=True)
class DictOf(Schema):
    """A mapping with free-form string keys (matching ``key``) and values matching ``value``."""

    value: Schema
    key: Str = field(default_factory=Str)

    @property
    def expected(self) -> str:
        return f"a mapping of {self.key.expected} to {self.value.expected}"

    def _check(self, node: Node, ctx: _Context) -> MappingData:
        if not isinstance(node, MappingNode):
            raise ctx.mismatch(node, self.expected)
        result = MappingData(_line(node))
        for key, key_node, value_node in _check_mapping_keys(node, ctx):
            self.key._check(key_node, ctx.child(key))
            result[key] = self.value._check(value_node, ctx.child(key))
            result.key_lines[key] = _line(value_node)
        return result
