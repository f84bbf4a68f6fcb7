"""Classify ClickHouse errors as retryable or permanent, by error code."""

from __future__ import annotations

import re

from schemas.errors import PermanentSinkError, RetryableSinkError, SinkError

_CODE = re.compile(r"Code:\s*(\d+)")

# Codes where backing off and retrying can succeed. UNKNOWN_TABLE/UNKNOWN_DATABASE mean
# "not ready yet" (migrations still running or a table being recreated), never "drop".
RETRYABLE_CODES = {
    60,   # UNKNOWN_TABLE
    81,   # UNKNOWN_DATABASE
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
    999,  # KEEPER_EXCEPTION
}


def classify(exc: BaseException, table: str = "") -> SinkError:
    text = str(exc)
    m = _CODE.search(text)
    code = int(m.group(1)) if m else None
    if code is None or code in RETRYABLE_CODES:
        # No code at all means the connection itself failed: retry.
        return RetryableSinkError(text, code=code, table=table)
    return PermanentSinkError(text, code=code, table=table)
