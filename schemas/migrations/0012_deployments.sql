-- Deployments announced by the delivery pipeline (`sluice deploy`, topic
-- {prefix}.deployments): canary analyses start from them; the table is the history
-- for correlating incidents with releases ("what shipped just before p99 went up?").
CREATE TABLE IF NOT EXISTS {db}.deployments (
    event_id UUID,
    ts DateTime64(6, 'UTC'),
    tenant LowCardinality(String),
    service LowCardinality(String),
    env LowCardinality(String),
    version String,
    canary_group LowCardinality(String),
    baseline_group LowCardinality(String),
    actor String,
    description String,
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
ORDER BY (service, ts)
SETTINGS non_replicated_deduplication_window = {dedup_window};
