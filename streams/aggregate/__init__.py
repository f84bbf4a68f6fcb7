"""Windowed partial aggregation for the ingest hot path (issue 4).

Ingest workers call `WindowAggregator.add_batch` per batch and publish what
`close_ready` returns to `sluice.rollups` (and the partials rules read to
`sluice.detect`); the detect app and the store merge those partials exactly
(`merge_partials`, ClickHouse AggregatingMergeTree).
"""

from streams.aggregate.histogram import histogram_quantile
from streams.aggregate.partials import merge_partials
from streams.aggregate.sketch import DDSketch
from streams.aggregate.windows import WindowAggregator, WindowConfig

__all__ = ["DDSketch", "WindowAggregator", "WindowConfig", "histogram_quantile", "merge_partials"]
