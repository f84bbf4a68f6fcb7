-- Which dead letters `sluice dlq replay` re-fed, by whom: a second replay skips them.
CREATE TABLE IF NOT EXISTS {db}.dlq_replays (
    dead_letter_id UUID,
    ts DateTime64(6, 'UTC'),
    reason LowCardinality(String),
    to_topic LowCardinality(String),
    replayed_by String,
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
ORDER BY (ts)
SETTINGS non_replicated_deduplication_window = {dedup_window};
