-- Core event tables. Ordering keys serve "per service over time" queries; every
-- table keeps the Kafka coordinates (_cluster, _topic, _partition, _offset) of the
-- record the store consumed, which the store reads back after a restart to skip what
-- already landed (see streams/store.py). _cluster is the Kafka cluster id: offsets
-- only mean something within one cluster (the embedded broker is new each start).
-- Retention counts from when Sluice saw an event (observed_ts), so loading old logs
-- with `sluice process` does not expire them on arrival.
CREATE TABLE IF NOT EXISTS {db}.logs (
    event_id UUID,
    ts DateTime64(6, 'UTC'),
    observed_ts DateTime64(6, 'UTC'),
    tenant LowCardinality(String),
    service LowCardinality(String),
    env LowCardinality(String),
    host LowCardinality(String),
    severity_number UInt8,
    severity_text LowCardinality(String),
    message String,
    trace_id String,
    span_id String,
    attributes Map(LowCardinality(String), String),
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (tenant, service, ts)
TTL toDateTime(observed_ts) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE TABLE IF NOT EXISTS {db}.metrics (
    event_id UUID,
    ts DateTime64(6, 'UTC'),
    observed_ts DateTime64(6, 'UTC'),
    tenant LowCardinality(String),
    service LowCardinality(String),
    env LowCardinality(String),
    host LowCardinality(String),
    name LowCardinality(String),
    type LowCardinality(String),
    value Float64,
    unit LowCardinality(String),
    labels Map(LowCardinality(String), String),
    attributes Map(LowCardinality(String), String),
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (tenant, name, service, ts)
TTL toDateTime(observed_ts) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE TABLE IF NOT EXISTS {db}.security_events (
    event_id UUID,
    ts DateTime64(6, 'UTC'),
    observed_ts DateTime64(6, 'UTC'),
    tenant LowCardinality(String),
    service LowCardinality(String),
    env LowCardinality(String),
    host LowCardinality(String),
    category LowCardinality(String),
    action LowCardinality(String),
    outcome LowCardinality(String),
    actor String,
    target String,
    source_ip String,
    severity_number UInt8,
    severity_text LowCardinality(String),
    message String,
    attributes Map(LowCardinality(String), String),
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (tenant, category, ts)
TTL toDateTime(observed_ts) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE TABLE IF NOT EXISTS {db}.dead_letters (
    event_id UUID,
    ts DateTime64(6, 'UTC'),
    reason LowCardinality(String),
    detail String,
    source_topic LowCardinality(String),
    source_partition UInt16,
    source_offset UInt64,
    kind LowCardinality(String),
    payload String,
    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition UInt16,
    _offset UInt64
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (reason, ts)
TTL toDateTime(ts) + INTERVAL {ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};
