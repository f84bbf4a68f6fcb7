"""Rules that reload when their files change, keeping the running version when the
new one is broken (and saying why)."""

from __future__ import annotations

import logging
from pathlib import Path

from streams.detect.evaluators.base import CompiledRule
from streams.detect.loader import RuleLoadError, discover, load_rules

log = logging.getLogger(__name__)


class RuleSet:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.rules: list[CompiledRule] = load_rules(self.path)  # start-up: broken rules fail fast
        self.version = 1
        self.last_error: str | None = None
        self._signature = self._scan()

    def _scan(self) -> tuple:
        files = discover(self.path)
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)

    def reload_if_changed(self) -> bool:
        """Reload when a rule file was added, removed or modified; True if the rules changed."""
        try:
            signature = self._scan()
        except OSError as exc:
            log.error("rules: cannot scan %s: %s; keeping version %d", self.path, exc, self.version)
            return False
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            rules = load_rules(self.path)
        except RuleLoadError as exc:
            self.last_error = str(exc)
            log.error("rules: reload of %s failed, keeping version %d running:\n%s", self.path, self.version, exc)
            return False
        self.rules = rules
        self.version += 1
        self.last_error = None
        log.info("rules: reloaded %d rules from %s (version %d)", len(rules), self.path, self.version)
        return True
