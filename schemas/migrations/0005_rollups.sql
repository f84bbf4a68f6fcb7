-- Windowed rollups (issue 4). The store inserts the 60 s partial rollups of the
-- ingest workers with the statements of streams/aggregate/clickhouse.py; the
-- tables merge partials of the same window and series, so any number of workers,
-- replays and early flushes add up exactly.
--
-- Percentiles: each partial carries a DDSketch; the store sends it as weighted
-- bucket representatives and the insert turns them into a
-- quantilesExactWeighted state. Merging states is exact, so p50..p99 equal the
-- DDSketch quantile of all samples of the window: within 1 % (alpha) of the exact
-- quantile at rank ceil(q * count). `sketched` counts the samples behind the
-- percentiles (counters have none: their p* are NULL, use increase / rate).
-- `last` is the value at the newest sample time, ties to the larger value.
-- Rollups outlive raw events: 1 m rows 90 days, 1 h rows 400 days, 1 d rows forever.
CREATE TABLE IF NOT EXISTS {db}.rollups_1m (
    ts DateTime('UTC'),
    tenant LowCardinality(String),
    service LowCardinality(String),
    name LowCardinality(String),
    labels Map(LowCardinality(String), String),
    type SimpleAggregateFunction(any, LowCardinality(String)),
    unit SimpleAggregateFunction(any, LowCardinality(String)),
    count SimpleAggregateFunction(sum, UInt64),
    sum SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    last AggregateFunction(argMax, Float64, Tuple(DateTime64(6, 'UTC'), Float64)),
    increase SimpleAggregateFunction(sum, Float64),
    sketched SimpleAggregateFunction(sum, UInt64),
    quantiles AggregateFunction(quantilesExactWeighted(0.5, 0.9, 0.95, 0.99), Float64, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, name, service, labels, ts)
TTL ts + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE TABLE IF NOT EXISTS {db}.rollups_1h AS {db}.rollups_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, name, service, labels, ts)
TTL ts + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE TABLE IF NOT EXISTS {db}.rollups_1d AS {db}.rollups_1m
ENGINE = AggregatingMergeTree
PARTITION BY toYear(ts)
ORDER BY (tenant, name, service, labels, ts)
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollups_1h_mv TO {db}.rollups_1h AS
SELECT toStartOfHour(r.ts) AS ts, r.tenant AS tenant, r.service AS service, r.name AS name, r.labels AS labels,
       any(r.type) AS type, any(r.unit) AS unit,
       sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
       argMaxMergeState(r.last) AS last, sum(r.increase) AS increase, sum(r.sketched) AS sketched,
       quantilesExactWeightedMergeState(0.5, 0.9, 0.95, 0.99)(r.quantiles) AS quantiles
FROM {db}.rollups_1m AS r
GROUP BY toStartOfHour(r.ts), r.tenant, r.service, r.name, r.labels;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollups_1d_mv TO {db}.rollups_1d AS
SELECT toStartOfDay(r.ts) AS ts, r.tenant AS tenant, r.service AS service, r.name AS name, r.labels AS labels,
       any(r.type) AS type, any(r.unit) AS unit,
       sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
       argMaxMergeState(r.last) AS last, sum(r.increase) AS increase, sum(r.sketched) AS sketched,
       quantilesExactWeightedMergeState(0.5, 0.9, 0.95, 0.99)(r.quantiles) AS quantiles
FROM {db}.rollups_1m AS r
GROUP BY toStartOfDay(r.ts), r.tenant, r.service, r.name, r.labels;

-- Query views: one row per series and period, states merged.
CREATE VIEW IF NOT EXISTS {db}.metrics_1m AS
SELECT ts, tenant, service, name, labels, type, unit, count, sum, min, max,
       if(count > 0, sum / count, NULL) AS avg, last, increase, if(sketched > 0, NULL, increase / 60) AS rate,
       if(sketched > 0, q[1], NULL) AS p50, if(sketched > 0, q[2], NULL) AS p90,
       if(sketched > 0, q[3], NULL) AS p95, if(sketched > 0, q[4], NULL) AS p99
FROM (
    SELECT r.ts AS ts, r.tenant AS tenant, r.service AS service, r.name AS name, r.labels AS labels,
           any(r.type) AS type, any(r.unit) AS unit,
           sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
           argMaxMerge(r.last) AS last, sum(r.increase) AS increase, sum(r.sketched) AS sketched,
           quantilesExactWeightedMerge(0.5, 0.9, 0.95, 0.99)(r.quantiles) AS q
    FROM {db}.rollups_1m AS r
    GROUP BY r.ts, r.tenant, r.service, r.name, r.labels
);

CREATE VIEW IF NOT EXISTS {db}.metrics_1h AS
SELECT ts, tenant, service, name, labels, type, unit, count, sum, min, max,
       if(count > 0, sum / count, NULL) AS avg, last, increase, if(sketched > 0, NULL, increase / 3600) AS rate,
       if(sketched > 0, q[1], NULL) AS p50, if(sketched > 0, q[2], NULL) AS p90,
       if(sketched > 0, q[3], NULL) AS p95, if(sketched > 0, q[4], NULL) AS p99
FROM (
    SELECT r.ts AS ts, r.tenant AS tenant, r.service AS service, r.name AS name, r.labels AS labels,
           any(r.type) AS type, any(r.unit) AS unit,
           sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
           argMaxMerge(r.last) AS last, sum(r.increase) AS increase, sum(r.sketched) AS sketched,
           quantilesExactWeightedMerge(0.5, 0.9, 0.95, 0.99)(r.quantiles) AS q
    FROM {db}.rollups_1h AS r
    GROUP BY r.ts, r.tenant, r.service, r.name, r.labels
);

CREATE VIEW IF NOT EXISTS {db}.metrics_1d AS
SELECT ts, tenant, service, name, labels, type, unit, count, sum, min, max,
       if(count > 0, sum / count, NULL) AS avg, last, increase, if(sketched > 0, NULL, increase / 86400) AS rate,
       if(sketched > 0, q[1], NULL) AS p50, if(sketched > 0, q[2], NULL) AS p90,
       if(sketched > 0, q[3], NULL) AS p95, if(sketched > 0, q[4], NULL) AS p99
FROM (
    SELECT r.ts AS ts, r.tenant AS tenant, r.service AS service, r.name AS name, r.labels AS labels,
           any(r.type) AS type, any(r.unit) AS unit,
           sum(r.count) AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
           argMaxMerge(r.last) AS last, sum(r.increase) AS increase, sum(r.sketched) AS sketched,
           quantilesExactWeightedMerge(0.5, 0.9, 0.95, 0.99)(r.quantiles) AS q
    FROM {db}.rollups_1d AS r
    GROUP BY r.ts, r.tenant, r.service, r.name, r.labels
);

-- Counts of the other families, one row per window and series:
--   log                 dims {service, severity}            failures = severity_number >= 17
--   security            dims {category, action, outcome}    failures = outcome failure
--   security_actor      dims {actor}                        failures = outcome failure
--   security_source_ip  dims {source_ip}                    failures = outcome failure
--   payment             dims {provider, merchant, currency} failures = failed status; amount, amount_count
-- Overflowed series carry "__overflow__" in their high-cardinality dimension.
CREATE TABLE IF NOT EXISTS {db}.rollup_counts_1m (
    ts DateTime('UTC'),
    family LowCardinality(String),
    tenant LowCardinality(String),
    dims Map(LowCardinality(String), String),
    count UInt64,
    failures UInt64,
    amount Float64,
    amount_count UInt64
) ENGINE = SummingMergeTree((count, failures, amount, amount_count))
PARTITION BY toYYYYMM(ts)
ORDER BY (family, tenant, dims, ts)
TTL ts + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE VIEW IF NOT EXISTS {db}.counts_1m AS
SELECT ts, family, tenant, dims, count, failures, if(count > 0, failures / count, 0) AS failure_ratio,
       amount, amount_count
FROM (
    SELECT c.ts AS ts, c.family AS family, c.tenant AS tenant, c.dims AS dims,
           sum(c.count) AS count, sum(c.failures) AS failures, sum(c.amount) AS amount,
           sum(c.amount_count) AS amount_count
    FROM {db}.rollup_counts_1m AS c
    GROUP BY c.ts, c.family, c.tenant, c.dims
);

CREATE VIEW IF NOT EXISTS {db}.counts_1h AS
SELECT ts, family, tenant, dims, count, failures, if(count > 0, failures / count, 0) AS failure_ratio,
       amount, amount_count
FROM (
    SELECT toStartOfHour(c.ts) AS ts, c.family AS family, c.tenant AS tenant, c.dims AS dims,
           sum(c.count) AS count, sum(c.failures) AS failures, sum(c.amount) AS amount,
           sum(c.amount_count) AS amount_count
    FROM {db}.rollup_counts_1m AS c
    GROUP BY toStartOfHour(c.ts), c.family, c.tenant, c.dims
);
