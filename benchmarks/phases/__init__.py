"""The phases of `python -m benchmarks.run`, one module each; `common` holds the
shared plumbing (progress, RSS monitor, Kafka helpers) and `stats` the pure maths."""
