-- The raw record each ingested row came from (schemas/source.py): the store reads the
-- highest source per output partition back after a restart and drops records of a
-- batch ingest wrote twice (an aborted or fenced transaction that the broker did not
-- hide, then the replay).
ALTER TABLE {db}.logs ADD COLUMN IF NOT EXISTS _source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS _source_offset UInt64 DEFAULT 0, ADD COLUMN IF NOT EXISTS _source_index UInt32 DEFAULT 0;
ALTER TABLE {db}.metrics ADD COLUMN IF NOT EXISTS _source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS _source_offset UInt64 DEFAULT 0, ADD COLUMN IF NOT EXISTS _source_index UInt32 DEFAULT 0;
ALTER TABLE {db}.security_events ADD COLUMN IF NOT EXISTS _source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS _source_offset UInt64 DEFAULT 0, ADD COLUMN IF NOT EXISTS _source_index UInt32 DEFAULT 0;
ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS _source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS _source_offset UInt64 DEFAULT 0, ADD COLUMN IF NOT EXISTS _source_index UInt32 DEFAULT 0;
