"""`sluice rules lint`: every problem in every rule file, at file:line:col.

Errors are what `load_rules` would refuse at start-up (YAML, schema, unknown
kind, expressions, unsafe regexes, templates, unknown event fields, duplicate
ids). Warnings do not fail lint: a rule without test cases, or an enabled rule
whose alerts could never be told apart because its summary is static while it
groups by something.
"""

from __future__ import annotations

from pathlib import Path

from streams.detect.loader import LoadResult, load_path
from streams.detect.yamlloc import Problem


def lint_path(path: Path | str) -> LoadResult:
    result = load_path(path)
    for loaded in result.rules:
        model = loaded.model
        if not model.tests:
            result.problems.append(Problem(loaded.doc.loc(("id",)), f"rule {model.id!r} has no test cases (tests:)",
                                           "warning"))
        if model.group_by and "{{" not in model.annotations.summary:
            result.problems.append(Problem(loaded.doc.loc(("annotations", "summary")),
                                           "the summary names no group field, so alerts of different groups read "
                                           "the same (e.g. add {{ group." + model.group_by[0] + " }})", "warning"))
    result.problems.sort(key=lambda p: (p.loc.file, p.loc.line, p.loc.col, p.message))
    return result


def format_problems(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
