from schemas.errors import PermanentSinkError, RetryableSinkError
from sinks.clickhouse.errors import classify


def test_missing_table_is_not_ready_so_retryable():
    err = classify(RuntimeError("Code: 60. DB::Exception: Table sluice.logs does not exist. (UNKNOWN_TABLE)"),
                   "logs")
    assert isinstance(err, RetryableSinkError) and err.code == 60 and err.table == "logs"


def test_type_error_is_permanent():
    err = classify(RuntimeError("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)"))
    assert isinstance(err, PermanentSinkError) and err.code == 53


def test_connection_failure_without_code_is_retryable():
    assert classify(ConnectionRefusedError("connection refused")).retryable
