"""YAML loading that remembers where every key and value came from.

PyYAML's SafeLoader builds plain dicts and forgets positions. Here mappings
become `LocMap` and sequences `LocList` (dict / list subclasses, so pydantic and
everything else treat them as usual) that also record the line:col of each key
and value. `Located.loc(path, offset)` then turns a pydantic error location or
an expression error offset into the file:line:col a rule author can jump to.
Duplicate keys, which PyYAML silently overwrites, are reported as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True, order=True)
class Loc:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    loc: Loc
    message: str
    severity: str = "error"  # or "warning": reported, but does not fail lint

    def __str__(self) -> str:
        return f"{self.loc}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class ValueInfo:
    line: int  # 1-based
    col: int  # 1-based
    style: str | None  # None (plain), "'", '"', "|", ">"


class LocMap(dict):
    """A dict that also knows the position of the mapping, its keys and values."""

    def __init__(self) -> None:
        super().__init__()
        self.start: ValueInfo = ValueInfo(1, 1, None)
        self.key_info: dict = {}
        self.value_info: dict = {}


class LocList(list):
    def __init__(self) -> None:
        super().__init__()
        self.start: ValueInfo = ValueInfo(1, 1, None)
        self.item_info: list[ValueInfo] = []


def _info(node: yaml.Node) -> ValueInfo:
    style = getattr(node, "style", None) if isinstance(node, yaml.ScalarNode) else None
    return ValueInfo(node.start_mark.line + 1, node.start_mark.column + 1, style or None)


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str, file: str):
        super().__init__(stream)
        self.file = file
        self.problems: list[Problem] = []


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LocMap:
    loader.flatten_mapping(node)
    out = LocMap()
    out.start = _info(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        where = _info(key_node)
        try:
            hash(key)
        except TypeError:
            loader.problems.append(Problem(Loc(loader.file, where.line, where.col), "a mapping key must be a scalar"))
            continue
        if key in out:
            first = out.key_info[key]
            loader.problems.append(
                Problem(Loc(loader.file, where.line, where.col), f"duplicate key {key!r} (first defined at line {first.line})")
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_info[key] = where
        out.value_info[key] = _info(value_node)
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LocList:
    out = LocList()
    out.start = _info(node)
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.item_info.append(_info(item))
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:omap", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


@dataclass
class Located:
    """One YAML document with the source it came from."""

    file: str
    data: object
    lines: list[str] = field(default_factory=list)

    def loc(self, path: tuple = (), offset: int | None = None, at_key: bool = False) -> Loc:
        """Position of the value at `path`; `offset` is a character offset inside a scalar value.

        Path elements that are not in the data (pydantic adds union tags and the
        like) are skipped, so an error always lands on the nearest real node.
        """
        node, info = self.data, getattr(self.data, "start", ValueInfo(1, 1, None))
        key_info = info
        for part in path:
            if isinstance(node, LocMap) and part in node:
                key_info = node.key_info.get(part, info)
                info = node.value_info.get(part, info)
                node = node[part]
            elif isinstance(node, LocList) and isinstance(part, int) and 0 <= part < len(node):
                info = key_info = node.item_info[part]
                node = node[part]
        if at_key:
            # Keys are short plain scalars: an offset inside one is a column shift.
            return Loc(self.file, key_info.line, key_info.col + (offset or 0))
        if offset is None or not isinstance(node, str):
            return Loc(self.file, info.line, info.col)
        return self._inside(info, node, offset)

    def _inside(self, info: ValueInfo, text: str, offset: int) -> Loc:
        before = text[:offset]
        row = before.count("\n")
        col_in_line = offset - (before.rfind("\n") + 1)
        if info.style in ("|", ">"):
            # Block scalars start on the next line; their indentation (stripped from
            # the value) is that of the first non-blank content line.
            line = info.line + 1 + row
            content = [ln for ln in self.lines[info.line : info.line + 1 + row] if ln.strip()]
            indent = len(content[0]) - len(content[0].lstrip(" ")) if content else 0
            return Loc(self.file, line, indent + col_in_line + 1)
        quote = 1 if info.style in ("'", '"') else 0
        if row == 0:
            return Loc(self.file, info.line, info.col + quote + col_in_line)
        line = info.line + row
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        indent = len(source) - len(source.lstrip(" "))
        return Loc(self.file, line, indent + col_in_line + 1)


def load_file(path: Path | str, display: str | None = None) -> tuple[list[Located], list[Problem]]:
    """Every document in the file, plus the problems found while reading it."""
    name = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(Loc(name, 1, 1), f"cannot read file: {exc}")]
    return load_text(text, name)


def load_text(text: str, name: str) -> tuple[list[Located], list[Problem]]:
    loader = _Loader(text, name)
    docs: list[Located] = []
    lines = text.splitlines()
    try:
        while loader.check_data():
            docs.append(Located(name, loader.get_data(), lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        loader.problems.append(Problem(Loc(name, line, col), f"YAML syntax error: {what}{context}"))
    except yaml.YAMLError as exc:
        loader.problems.append(Problem(Loc(name, 1, 1), f"YAML error: {exc}"))
    finally:
        loader.dispose()
    return docs, loader.problems
