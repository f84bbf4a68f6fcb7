"""Find, parse, validate and compile rule files, collecting every problem.

`load_path` never raises on bad rules: it returns the rules that compiled and
all problems (YAML syntax, unknown kind, schema, expressions, regexes,
templates, unknown event fields, duplicate ids), each at file:line:col. Lint
prints them; `load_rules` (start-up of the detect app) raises RuleLoadError if
there is any error, so a broken library fails fast instead of half-loading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import ConfigError
from schemas.events import EVENT_MODELS
from streams.detect.evaluators.base import CompileContext, CompiledRule
from streams.detect.model import RuleBase, validate_rule
from streams.detect.registry import KINDS, lookup
from streams.detect.yamlloc import Loc, Located, LocMap, Problem, load_file

RULE_SUFFIXES = (".yaml", ".yml")

# Sources whose records have a closed schema (extra="forbid"): a path outside it
# is a typo that would make the rule silently never match.
_CLOSED = {"logs": "log", "metrics": "metric", "security": "security"}
_OPEN_MAPS = {"attributes", "labels"}


@dataclass
class LoadedRule:
    doc: Located
    model: RuleBase
    rule: CompiledRule

    @property
    def id(self) -> str:
        return self.model.id


@dataclass
class LoadResult:
    rules: list[LoadedRule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class RuleLoadError(ConfigError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(str(p) for p in problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the rule files:\n{lines}{more}")


def default_rules_path() -> Path:
    """`./rules` when run from a checkout, else the library next to the installed package."""
    here = Path.cwd() / "rules"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "rules"


def discover(path: Path | str) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())


def display_name(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def load_path(path: Path | str) -> LoadResult:
    result = LoadResult()
    if not Path(path).exists():
        result.problems.append(Problem(Loc(str(path), 1, 1), "no such file or directory"))
        return result
    seen: dict[str, Loc] = {}
    for file in discover(path):
        name = display_name(file)
        result.files.append(name)
        docs, problems = load_file(file, name)
        result.problems.extend(problems)
        if problems and not docs:
            continue
        for doc in docs:
            loaded, doc_problems = compile_doc(doc)
            result.problems.extend(doc_problems)
            if loaded is None:
                continue
            where = doc.loc(("id",))
            if loaded.id in seen:
                result.problems.append(Problem(where, f"duplicate rule id {loaded.id!r} (also at {seen[loaded.id]})"))
                continue
            seen[loaded.id] = where
            result.rules.append(loaded)
    result.problems.sort(key=lambda p: (p.loc.file, p.loc.line, p.loc.col))
    return result


def compile_doc(doc: Located) -> tuple[LoadedRule | None, list[Problem]]:
    """Validate and compile one YAML document; problems instead of exceptions."""
    if doc.data is None:
        return None, [Problem(doc.loc(), "empty document: a rule file holds one YAML mapping per document")]
    if not isinstance(doc.data, LocMap):
        return None, [Problem(doc.loc(), "a rule must be a YAML mapping (id: ..., kind: ..., ...)")]
    known = ", ".join(sorted(KINDS))
    if "kind" not in doc.data:
        return None, [Problem(doc.loc(), f"missing required key 'kind' (known kinds: {known})")]
    kind = lookup(doc.data["kind"])
    if kind is None:
        return None, [Problem(doc.loc(("kind",)), f"unknown kind {doc.data['kind']!r} in key 'kind' (known kinds: {known})")]
    model, problems = validate_rule(kind.model, doc)
    if model is None:
        return None, problems
    ctx = CompileContext(doc, source=model.source)
    try:
        rule = kind.evaluator(model, ctx)
    except Exception as exc:  # noqa: BLE001 - a compiler bug must still point at the rule, not crash lint
        return None, [Problem(doc.loc(), f"internal error compiling this rule: {type(exc).__name__}: {exc}")]
    problems = ctx.problems + _field_problems(ctx)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return LoadedRule(doc, model, rule), problems


def _field_problems(ctx: CompileContext) -> list[Problem]:
    problems = []
    for path, keys, pos, source, at_key in ctx.reads:
        kind = _CLOSED.get(source)
        if kind is None or not keys:
            continue
        fields = EVENT_MODELS[kind].model_fields
        first = keys[0]
        if first in _OPEN_MAPS and first in fields and len(keys) >= 2:
            continue
        if first in _OPEN_MAPS and first in fields:
            message = f"{first!r} is a map: name a key, e.g. {first}.provider or {first}[\"http.method\"]"
        elif first not in fields:
            message = f"field {first!r} does not exist in {source} events (fields: {', '.join(sorted(fields))})"
        elif len(keys) > 1:
            message = f"field {first!r} of {source} events has no sub-fields"
        else:
            continue
        problems.append(Problem(ctx.doc.loc(path, pos, at_key=at_key), message))
    return problems


def load_rules(path: Path | str, include_disabled: bool = False) -> list[CompiledRule]:
    """Compiled rules under `path`; raise RuleLoadError listing every error."""
    result = load_path(path)
    if result.errors:
        raise RuleLoadError(result.errors)
    return [r.rule for r in result.rules if include_disabled or r.model.enabled]
