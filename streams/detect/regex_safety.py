"""Reject regular expressions that can backtrack catastrophically.

Python's `re` is a backtracking engine: `(a+)+$` against "aaaa…ab" takes time
exponential in the input length, and one such rule would stall the detect app
for every event it sees. Rules are data written by many teams, so every pattern
is checked when the rule is compiled (and by `sluice rules lint`) for the shapes
that cause it:

- **nested quantifiers**: a repeated group whose body contains another variable
  repetition that can take over the rest of the body, e.g. `(a+)+`, `(\\w+\\s?)*`,
  `(x+x+)+`. `(\\w+\\s)+` passes: the required `\\s` cannot be matched by `\\w+`, so
  there is one way to split the text.
- **overlapping alternation under repetition**: `(a|a)*`, `(\\w+|\\d+)*`: when two
  branches can match the same text, each iteration doubles the ways to match.
  The check runs on the tree `re` itself compiles, after its optimizer merged
  single-character branches into a class (`(\\w|\\d)+` is `[\\w\\d]+`, which is
  safe) and factored common prefixes (`(foo|foob)*` is `foo(?:|b)*`, safe).
  Branches that diverge on a fixed character (`(GET|POST)+`) pass.
- **a leading repetition without an anchor** (`\\w+$`, `.*timeout`): a search
  retries the pattern at every position, and each try runs to the end of the
  repeated run before failing, which is quadratic on long input. Anchor it
  (`^`, `\\b`, a lookbehind such as `(?<!\\w)`) or drop the leading `.*`.
- **backreferences** (`(a*)\\1`): matching them is NP-hard in general.
- **huge bounded repeats** (`a{1,100000}`) and overlong patterns.

Other polynomial cases remain possible (`a\\w+$` on "aaaa…!"), so evaluators
also cap the text a regex searches (`functions.MAX_MATCH_INPUT`).

Character classes are compared on a sample alphabet (Latin-1 plus a few
non-Latin characters), which is exact for the patterns rules actually use.
The checks are conservative: a rejected pattern can always be rewritten
(factor the common prefix, make a separator required, or use a possessive
`++` / atomic `(?>…)` group, which never backtracks).
"""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

MAX_PATTERN = 1000
MAX_BOUND = 1000

_SAMPLE = "".join(chr(i) for i in range(256)) + "\u0394\u0660\u2028\u3000\u4e2d\uff10"
_ALL = frozenset(_SAMPLE)
_CATEGORIES = {
    name: frozenset(ch for ch in _SAMPLE if re.fullmatch(rx, ch))
    for name, rx in {
        "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D",
        "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S",
        "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
    }.items()
}
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT)
_ATOMS = (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)


class UnsafeRegexError(ValueError):
    """The pattern does not compile or can backtrack catastrophically."""


def check_regex(pattern: str) -> list[str]:
    """Every problem with `pattern`, as messages that say why; [] means safe."""
    if not isinstance(pattern, str):
        return [f"a regex must be a string, got {type(pattern).__name__}"]
    if len(pattern) > MAX_PATTERN:
        return [f"regex is {len(pattern)} characters long; the limit is {MAX_PATTERN}"]
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        return [f"invalid regex{where}: {exc.msg}"]
    checker = _Checker(bool(parsed.state.flags & re.IGNORECASE))
    checker.check_leading(list(parsed))
    return checker.run(list(parsed))


def safe_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    problems = check_regex(pattern)
    if problems:
        raise UnsafeRegexError("; ".join(problems))
    return re.compile(pattern, flags)


class _Checker:
    def __init__(self, ignorecase: bool):
        self.ignorecase = ignorecase
        self.problems: list[str] = []

    def run(self, seq: list) -> list[str]:
        self.visit(seq)
        # Several nodes can report the same shape; keep each message once, in order.
        return list(dict.fromkeys(self.problems))

    def check_leading(self, seq: list) -> None:
        """Flag `C+ rest` at the very start of an unanchored pattern (quadratic search)."""
        items = list(seq)
        while items and items[0][0] == c.SUBPATTERN and len(items) == 1:
            items = list(items[0][1][-1])
        if len(items) < 2:
            return
        op, av = items[0]
        if op not in _REPEATS or av[1] != c.MAXREPEAT:
            return
        if _min_width(items[1:]) == 0 and not any(o == c.AT for o, _ in items[1:]):
            return
        self.problems.append(
            "an unanchored pattern that starts with an unbounded repetition is retried at every position, "
            "which takes quadratic time on long input; anchor it (^, \\b or a lookbehind like (?<!\\w)) "
            "or drop a leading .*"
        )

    # -- traversal ---------------------------------------------------------
    def visit(self, seq: list) -> None:
        for op, av in seq:
            if op in _REPEATS:
                lo, hi, body = av
                if hi != c.MAXREPEAT and hi > MAX_BOUND or lo > MAX_BOUND:
                    self.problems.append(f"repetition bound {{{lo},{hi}}} is above {MAX_BOUND}")
                if hi == c.MAXREPEAT or hi > 1:
                    self.check_repeated_body(list(body))
                self.visit(list(body))
            elif op in (c.GROUPREF, c.GROUPREF_EXISTS):
                self.problems.append("backreferences are not allowed: matching them can take exponential time")
                if op == c.GROUPREF_EXISTS:
                    for branch in av[1:]:
                        if branch is not None:
                            self.visit(list(branch))
            else:
                for sub in _subsequences(op, av):
                    self.visit(sub)

    def check_repeated_body(self, body: list) -> None:
        for inner in _inner_repeats(body):
            if self.takes_over(body, inner):
                self.problems.append(
                    "nested quantifier: a repeated group contains a repetition that can match the same "
                    "text in many ways (like (a+)+ or (\\w+\\s?)*); make the separator required, "
                    "or use a possessive quantifier (++) or an atomic group (?>...)"
                )
                break
        for alternatives in _branches(body):
            if self.branches_overlap(alternatives):
                self.problems.append(
                    "overlapping alternation under repetition: two branches can match the same text "
                    "(like (a|a)* or (\\w+|\\d+)*), so each repetition doubles the ways to match; "
                    "factor out the common part or make the branches start differently"
                )
                break

    # -- nested quantifiers ----------------------------------------------
    def takes_over(self, seq: list, inner: tuple) -> bool:
        """True when `inner` can absorb everything else its enclosing sequences require."""
        inner_chars = self.chars([inner])
        for item in seq:
            if item is inner:
                continue
            inside = _containing_sequences(item, inner)
            if inside is not None:
                if not any(self.takes_over(sub, inner) for sub in inside):
                    return False
                continue
            if _min_width([item]) > 0 and not (self.chars([item]) & inner_chars):
                return False
        return True

    # -- alternation -------------------------------------------------------
    def branches_overlap(self, alternatives: list[list]) -> bool:
        for i, left in enumerate(alternatives):
            for right in alternatives[i + 1 :]:
                if self.may_match_same_start(left, right):
                    return True
        return False

    def may_match_same_start(self, left: list, right: list) -> bool:
        # `re` factors common prefixes before we see the tree: (a|a)* arrives as
        # a(?:|)*, two empty branches, which is exactly the exponential case.
        if _min_width(left) == 0 and _min_width(right) == 0:
            return True
        if not (self.first(left) & self.first(right)):
            return False
        # Walk both branches while they are single characters: a position where the
        # two classes are disjoint proves no text can start both branches.
        for a, b in zip(left, right, strict=False):
            if a[0] not in _ATOMS or b[0] not in _ATOMS:
                return True
            if not (self.chars([a]) & self.chars([b])):
                return False
        return True

    # -- character sets --------------------------------------------------
    def fold(self, chars: frozenset[str]) -> frozenset[str]:
        if not self.ignorecase:
            return chars
        return chars | frozenset(ch.swapcase() for ch in chars if len(ch.swapcase()) == 1)

    def chars(self, seq: list) -> frozenset[str]:
        """Characters the sequence can consume anywhere."""
        out: frozenset[str] = frozenset()
        for op, av in seq:
            if op == c.LITERAL:
                out |= self.fold(frozenset(chr(av)))
            elif op == c.NOT_LITERAL:
                out |= _ALL - self.fold(frozenset(chr(av)))
            elif op == c.ANY:
                out |= _ALL
            elif op == c.IN:
                out |= self.fold(_class(av))
            elif op in _REPEATS:
                out |= self.chars(list(av[2]))
            else:
                for sub in _subsequences(op, av):
                    if op not in (c.ASSERT, c.ASSERT_NOT):
                        out |= self.chars(sub)
        return out

    def first(self, seq: list) -> frozenset[str]:
        """Characters the sequence can start with."""
        out: frozenset[str] = frozenset()
        for item in seq:
            op, av = item
            if op in _ATOMS:
                out |= self.chars([item])
            elif op in _REPEATS:
                out |= self.first(list(av[2]))
            elif op == c.BRANCH:
                for branch in av[1]:
                    out |= self.first(list(branch))
            elif op in (c.SUBPATTERN, c.ATOMIC_GROUP):
                out |= self.first(list(av[-1] if op == c.SUBPATTERN else av))
            if _min_width([item]) > 0:
                break
        return out


def _class(items: list) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        if op == c.NEGATE:
            negate = True
        elif op == c.LITERAL:
            chars.add(chr(av))
        elif op == c.RANGE:
            lo, hi = av
            chars.update(ch for ch in _SAMPLE if lo <= ord(ch) <= hi)
        elif op == c.CATEGORY:
            chars.update(_CATEGORIES.get(str(av), _ALL))
        else:
            chars.update(_ALL)
    result = frozenset(chars) & _ALL
    return _ALL - result if negate else result


def _subsequences(op: object, av: object) -> list[list]:
    """Child sequences of a node, for the node kinds that have them."""
    if op == c.SUBPATTERN:
        return [list(av[-1])]  # type: ignore[index]
    if op == c.BRANCH:
        return [list(branch) for branch in av[1]]  # type: ignore[index]
    if op in _REPEATS or op == c.POSSESSIVE_REPEAT:
        return [list(av[2])]  # type: ignore[index]
    if op in (c.ASSERT, c.ASSERT_NOT):
        return [list(av[1])]  # type: ignore[index]
    if op == c.ATOMIC_GROUP:
        return [list(av)]  # type: ignore[arg-type]
    return []


def _inner_repeats(seq: list) -> list[tuple]:
    """Variable-width backtracking repeats anywhere inside `seq` (not in atomic parts)."""
    found: list[tuple] = []
    for item in seq:
        op, av = item
        if op in _REPEATS:
            lo, hi, body = av
            if hi == c.MAXREPEAT or hi > lo and _max_width_positive(list(body)):
                found.append(item)
            found.extend(_inner_repeats(list(body)))
        elif op in (c.SUBPATTERN, c.BRANCH):
            for sub in _subsequences(op, av):
                found.extend(_inner_repeats(sub))
    return found


def _containing_sequences(item: tuple, target: tuple) -> list[list] | None:
    """The child sequences of `item` that hold `target`, or None when it is not inside."""
    op, av = item
    subs = _subsequences(op, av)
    holding = [sub for sub in subs if any(x is target or _containing_sequences(x, target) for x in sub)]
    return holding or None


def _branches(seq: list) -> list[list[list]]:
    """Alternations inside `seq`, each as its list of branch sequences."""
    found: list[list[list]] = []
    for op, av in seq:
        if op == c.BRANCH:
            found.append([list(branch) for branch in av[1]])
        if op != c.ATOMIC_GROUP and op != c.POSSESSIVE_REPEAT:
            for sub in _subsequences(op, av):
                found.extend(_branches(sub))
    return found


def _min_width(seq: list) -> int:
    total = 0
    for op, av in seq:
        if op in _ATOMS:
            total += 1
        elif op in _REPEATS or op == c.POSSESSIVE_REPEAT:
            total += av[0] * _min_width(list(av[2]))
        elif op == c.BRANCH:
            total += min(_min_width(list(branch)) for branch in av[1])
        elif op == c.SUBPATTERN:
            total += _min_width(list(av[-1]))
        elif op == c.ATOMIC_GROUP:
            total += _min_width(list(av))
    return total


def _max_width_positive(seq: list) -> bool:
    return any(op not in (c.AT, c.ASSERT, c.ASSERT_NOT) for op, _ in seq)
