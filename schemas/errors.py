"""The one exception tree of Sluice.

Each error carries where it happened (topic/partition/offset, rule file:line, or the
ClickHouse error code) so a message can name the exact input that caused it.
"""

from __future__ import annotations


class SluiceError(Exception):
    """Base of every error Sluice raises on purpose."""


class ConfigError(SluiceError):
    """Bad configuration, found at start-up. `key` names the offending setting."""

    def __init__(self, message: str, key: str = "", where: str = ""):
        self.key = key
        self.where = where
        prefix = f"{where}: " if where else ""
        suffix = f" (setting {key!r})" if key else ""
        super().__init__(f"{prefix}{message}{suffix}")


class DecodeError(SluiceError):
    """A record that cannot become a canonical event. `reason` is the dead-letter reason code."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SinkError(SluiceError):
    """A sink write failed. `retryable` says whether backing off and retrying may succeed."""

    retryable = False

    def __init__(self, message: str, code: int | None = None, table: str = ""):
        self.code = code
        self.table = table
        super().__init__(message)


class RetryableSinkError(SinkError):
    retryable = True


class PermanentSinkError(SinkError):
    retryable = False
