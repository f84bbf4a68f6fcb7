-- Alert audit trail (issue 6). The store inserts the rows of the alert-history topic
-- (schemas/tables.py "alert_history", built by streams/alerting/records.py): every
-- state change of every alert (firing, resolved, notified, repeat, suppressed by a
-- silence, inhibited by another alert) and of every silence (silence_added,
-- silence_expired), with who and why. `id` is the alert message id of that episode
-- and status (the idempotency key subscribers saw), or the silence id.
-- No TTL: auditors ask for a year and more (PCI DSS 10.5.1), and alert volume is tiny.
-- Latest state per alert:
--   SELECT fingerprint, argMax(status, ts) AS status, argMax(change, ts) AS last_change
--   FROM alerts WHERE fingerprint != '' GROUP BY fingerprint
CREATE TABLE IF NOT EXISTS {db}.alerts (
    id String,
    ts DateTime64(6, 'UTC'),
    change LowCardinality(String),
    fingerprint String,
    status LowCardinality(String),
    rule_id LowCardinality(String),
    severity LowCardinality(String),
    title String,
    tenant LowCardinality(String),
    labels Map(LowCardinality(String), String),
    annotations Map(LowCardinality(String), String),
    starts_at Nullable(DateTime64(6, 'UTC')),
    ends_at Nullable(DateTime64(6, 'UTC')),
    value Nullable(Float64),
    evidence_sql String,
    event_ids Array(String),
    silence_id String,
    actor String,
    reason String,
    group_key String,
    topics Array(LowCardinality(String)),
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (rule_id, fingerprint, ts)
SETTINGS non_replicated_deduplication_window = {dedup_window};

-- Every version of every silence, as written to the compacted silences topic (the
-- topic keeps only the latest; this table keeps them all). Current silences:
--   SELECT id, argMax(matchers, ts), argMax(ends_at, ts), argMax(state, ts) FROM silences GROUP BY id
CREATE TABLE IF NOT EXISTS {db}.silences (
    id String,
    matchers Array(String),
    starts_at DateTime64(6, 'UTC'),
    ends_at DateTime64(6, 'UTC'),
    created_by String,
    comment String,
    state LowCardinality(String),
    ts DateTime64(6, 'UTC'),
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (id, ts)
SETTINGS non_replicated_deduplication_window = {dedup_window};
