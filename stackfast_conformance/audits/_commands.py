"""Shell commands of manifests and docs, read for their meaning: words, chains and pnpm invocations.

A Railway ``buildCommand`` such as ``corepack enable && pnpm install --frozen-lockfile
--filter=@stackfast/api... && pnpm --filter @stackfast/api run build`` is parsed into a chain of
steps (``shlex`` words, split at ``&&``, ``;``, ``||``, ``|`` and newlines). A pnpm step is reduced to
what it does — which workspace packages it selects (``--filter``/``-F``/``--dir``/``-C``, or a
preceding ``cd``), which command it runs (``install``, ``run build`` == ``build``, ``exec``), and its
other flags — so audits compare meaning, not spelling. Extra standard flags (``--frozen-lockfile``,
``--prod=false``, ``-r``, ``--reporter=...``) never change what a step selects or runs.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Step", "PnpmCall", "parse_chain", "pnpm_call", "unwrap"]

_OPERATORS = {"&&", "||", ";", "|", "&", "\n"}
# pnpm options that take a separate value (``--filter X``); everything else starting with '-' is a flag
_VALUE_OPTIONS = {"--filter", "-F", "--dir", "-C", "--workspace-dir", "--reporter", "--loglevel",
                  "--config", "--store-dir", "--virtual-store-dir", "--modules-dir", "--lockfile-dir",
                  "--network-concurrency", "--child-concurrency", "--test-pattern", "--changed-files-ignore-pattern"}
# pnpm built-in commands that are not scripts (``pnpm build`` runs the script "build"; ``pnpm install`` does not)
_BUILTINS = {"install", "i", "add", "remove", "rm", "update", "up", "exec", "dlx", "run", "run-script", "test",
             "t", "start", "link", "unlink", "rebuild", "rb", "prune", "fetch", "deploy", "pack", "publish",
             "store", "why", "list", "ls", "outdated", "audit", "env", "setup", "config", "init", "create", "import",
             "install-test", "it", "patch", "patch-commit"}
_INSTALL = {"install", "i"}
# commands that only prepare the shell and never change what a later step means
_WRAPPERS = {"npx", "corepack"}


@dataclass(frozen=True)
class Step:
    """One simple command of a chain, with the operator that led to it ('' for the first)."""

    words: tuple[str, ...]
    after: str  # "", "&&", "||", ";", "|", "&", "\n"
    cwd: str  # directory (relative to the checkout's root) a preceding ``cd`` moved to; "." otherwise

    @property
    def text(self) -> str:
        return shlex.join(self.words)


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command.replace("\\\n", " "), posix=True, punctuation_chars=";&|")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    out: list[str] = []
    for token in lexer:
        out.append(token)
    return out


def parse_chain(command: object, cwd: str = ".") -> list[Step]:
    """Steps of a command string (or a Railway list of commands, run in order as one chain).

    Unparseable text (an unbalanced quote) yields no steps: callers report "not a command".
    Leading ``NAME=value`` assignments are dropped from a step's words; ``cd DIR`` steps move ``cwd``
    for the steps after them (and stay in the chain).
    """
    if isinstance(command, (list, tuple)):
        command = " && ".join(str(item) for item in command)
    if not isinstance(command, str) or not command.strip():
        return []
    lines = command.replace("\\\n", " ").split("\n")
    try:
        tokens = [t for line in lines for t in [*_tokens(line), "\n"]]
    except ValueError:
        return []
    steps = []
    words: list[str] = []
    operator = ""
    for token in tokens:
        if token in _OPERATORS or set(token) <= set(";&|") and token:
            if words:
                steps.append(_step(words, operator, steps[-1].cwd if steps else cwd))
                words = []
                operator = token
            elif token != "\n" and not operator:
                operator = token
            continue
        words.append(token)
    if words:
        steps.append(_step(words, operator, steps[-1].cwd if steps else cwd))
    return _apply_cd(steps, cwd)


def _step(words: list[str], operator: str, cwd: str) -> Step:
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        words = words[1:]
    return Step(tuple(words), operator, cwd)


def _apply_cd(steps: list[Step], cwd: str) -> list[Step]:
    result = []
    for step in steps:
        result.append(Step(step.words, step.after, cwd))
        if step.words[:1] == ("cd",) and len(step.words) == 2:
            target = step.words[1]
            cwd = posixpath.normpath(target.lstrip("/") if target.startswith("/") else posixpath.join(cwd, target))
    return result


def unwrap(words: Iterable[str]) -> tuple[str, ...]:
    """Drop launchers that do not change meaning: ``corepack pnpm`` -> ``pnpm``, ``npx pnpm`` -> ``pnpm``."""
    result = tuple(words)
    while len(result) > 1 and result[0] in _WRAPPERS and not result[1].startswith("-") and result[1] != "enable":
        result = result[1:]
    return result


@dataclass(frozen=True)
class PnpmCall:
    """What a pnpm step does: packages selected, the command, a script name, the remaining args."""

    filters: tuple[str, ...]  # as written, `=` forms split: "@stackfast/api...", "./apps/api"
    directory: str | None  # --dir/-C, or the cwd a ``cd`` set (None = the workspace root)
    command: str  # "install", "run", "exec", "dlx", ... ("run" for the script shorthand ``pnpm build``)
    script: str | None  # for command "run": the script name
    args: tuple[str, ...] = field(default=())  # arguments after the command (flags removed)
    flags: tuple[str, ...] = field(default=())  # every other option, e.g. "--frozen-lockfile", "-r"

    @property
    def is_install(self) -> bool:
        return self.command in _INSTALL

    def selects(self, package: str, directory: str, with_dependencies: bool = False) -> bool:
        """Whether this call selects the workspace ``package`` (living in ``directory``).

        ``with_dependencies`` asks for the package *and* its workspace dependencies (``pkg...``),
        what a filtered install needs so the build finds its workspace packages.
        """
        if not self.filters:
            own = self.directory is not None and posixpath.normpath(self.directory) == posixpath.normpath(directory)
            return own and not with_dependencies
        return any(_filter_selects(f, package, directory, with_dependencies) for f in self.filters)

    def selects_other_than(self, package: str, directory: str) -> list[str]:
        """Filters of this call that name some other package (e.g. the web's filter in the API build)."""
        return [f for f in self.filters if not _filter_selects(f, package, directory, False)
                and not f.startswith("!")]


def _filter_selects(selector: str, package: str, directory: str, with_dependencies: bool) -> bool:
    if selector.startswith("!"):
        return False
    core = selector
    deps = core.endswith("...")
    if deps:
        core = core[:-3]
        if core.endswith("^"):
            return False  # "pkg^..." = only its dependencies, not the package itself
    if core.startswith("..."):
        core = core[3:]  # "...pkg" = the package and its dependents
    if with_dependencies and not deps:
        return False
    if core.startswith("{") and core.endswith("}"):
        core = core[1:-1]
    if core.startswith((".", "/")) or "/" in core and not core.startswith("@"):
        return posixpath.normpath(core.lstrip("/")) == posixpath.normpath(directory)
    return core == package


def pnpm_call(step: Step) -> PnpmCall | None:
    """The pnpm call of a step, or None when the step does not run pnpm."""
    words = unwrap(step.words)
    if not words or words[0] != "pnpm":
        return None
    filters: list[str] = []
    flags: list[str] = []
    directory = None if step.cwd in (".", "") else step.cwd
    rest = list(words[1:])
    command: str | None = None
    args: list[str] = []
    index = 0
    while index < len(rest):
        word = rest[index]
        if command is None and word.startswith("-"):
            name, eq, value = word.partition("=")
            if name in _VALUE_OPTIONS and not eq:
                value = rest[index + 1] if index + 1 < len(rest) else ""
                index += 1
            if name in ("--filter", "-F"):
                filters.append(value)
            elif name in ("--dir", "-C"):
                directory = posixpath.normpath(posixpath.join(directory or ".", value))
            else:
                flags.append(word if not (name in _VALUE_OPTIONS and not eq) else f"{name}={value}")
        elif command is None:
            command = word
        elif word.startswith("-"):
            name, eq, value = word.partition("=")
            if name in ("--filter", "-F"):
                if not eq and index + 1 < len(rest):
                    value = rest[index + 1]
                    index += 1
                filters.append(value)
            else:
                flags.append(word)
        else:
            args.append(word)
        index += 1
    if command is None:
        return PnpmCall(tuple(filters), directory, "install", None, (), tuple(flags))  # bare `pnpm` installs
    script = None
    if command in ("run", "run-script"):
        command, script = "run", (args.pop(0) if args else None)
    elif command in ("start", "test", "t"):
        command, script = "run", "test" if command == "t" else command
    elif command not in _BUILTINS:
        command, script = "run", command
    return PnpmCall(tuple(filters), directory, command, script, tuple(args), tuple(flags))
