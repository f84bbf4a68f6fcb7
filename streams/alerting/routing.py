"""The routing tree: which topics an alert goes to and how it is grouped.

Alertmanager semantics: starting at the root, the children are tried in order;
a matching child is descended into, and unless it says `continue: true` its later
siblings are not tried. The deepest matching routes are the result; when no child
matches, the node itself is. An alert is notified on the union of the topics of
all resulting routes and grouped by the first of them: one alert belongs to one
group, so a subscriber never sees one alert flushed at two different moments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from streams.alerting.config import RootRoute, Route
from streams.alerting.matchers import Matcher, matches_all, parse_matchers


@dataclass(frozen=True)
class RouteMatch:
    name: str
    topics: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float

    def group_key(self, labels: Mapping[str, str]) -> str:
        """`route:{label="value",...}`: stable across restarts and readable in history."""
        pairs = ",".join(f"{name}={json.dumps(labels.get(name, ''), ensure_ascii=False)}" for name in self.group_by)
        return f"{self.name}:{{{pairs}}}"


class _Node:
    def __init__(self, route: Route, parent: RouteMatch, path: str, prefix: str):
        self.matchers: list[Matcher] = parse_matchers(route.matchers)
        self.continue_ = route.continue_
        topics = tuple(t.replace("{prefix}", prefix) for t in route.topics) if route.topics is not None \
            else parent.topics
        self.settings = RouteMatch(
            name=route.name or path, topics=topics,
            group_by=tuple(route.group_by) if route.group_by is not None else parent.group_by,
            group_wait=_pick(route.group_wait, parent.group_wait),
            group_interval=_pick(route.group_interval, parent.group_interval),
            repeat_interval=_pick(route.repeat_interval, parent.repeat_interval))
        self.children = [_Node(child, self.settings, f"{path}/{child.name or i}", prefix)
                         for i, child in enumerate(route.routes)]

    def resolve(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        found: list[RouteMatch] = []
        for child in self.children:
            if matches_all(child.matchers, labels):
                found.extend(child.resolve(labels))
                if not child.continue_:
                    break
        return found or [self.settings]


def _pick(value: float | None, inherited: float) -> float:
    return inherited if value is None else value


class Router:
    def __init__(self, root: RootRoute, prefix: str = "sluice"):
        seed = RouteMatch(name="", topics=(), group_by=(), group_wait=root.group_wait,
                          group_interval=root.group_interval, repeat_interval=root.repeat_interval)
        self._root = _Node(root, seed, root.name or "root", prefix)

    def routes(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        return self._root.resolve(labels)

    def route(self, labels: Mapping[str, str]) -> tuple[RouteMatch, list[str]]:
        """The route that groups the alert, and every topic it is notified on."""
        matched = self.routes(labels)
        topics: list[str] = []
        for m in matched:
            topics.extend(t for t in m.topics if t not in topics)
        return matched[0], topics
