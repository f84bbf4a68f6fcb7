"""The faust-streaming baseline: one agent doing ingest's normalize-and-forward work
event by event, as a faust worker process. Started by benchmarks/phases/faust.py,
which times how fast the output topics fill.

Per event (mode `normalize`, the default): orjson.loads, the canonical normalizer
of streams.ingest.normalize for the record's stream, orjson.dumps, and a send to
the normalized topic keyed tenant|service; a record that is not a JSON object
goes through Ingestor.process (dead letter). This is a generous baseline: it skips
ingest's batch-wide redaction pre-check and enrichment. Mode `ingestor` calls
streams.ingest Ingestor.process on each record instead, which is the same code as
the ingest worker but pays the Ingestor's per-call fixed costs once per event.

    python -m benchmarks.faust_baseline --broker 127.0.0.1:PORT --in-prefix A --out-prefix B

Faust on the embedded Tansu broker: broker_session_timeout=6 and
broker_heartbeat_interval=1 keep the group join short; every topic exists before
the worker starts, with the same partition count (--partitions).
"""

from __future__ import annotations

import argparse
import logging
import time

import faust
import orjson

from schemas.topics import Topics
from streams.ingest.normalize import normalize
from streams.ingest.pipeline import Ingestor

MODES = ("normalize", "ingestor")


def build_app(broker: str, in_prefix: str, out_prefix: str, partitions: int, data_dir: str,
              mode: str = "normalize") -> faust.App:
    app = faust.App(
        f"{out_prefix}-faust",
        broker=f"kafka://{broker}",
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        store="memory://",
        web_enabled=False,
        datadir=data_dir,
    )
    out_topics = Topics(out_prefix)
    ingestor = Ingestor(out_topics)
    source = app.topic(*Topics(in_prefix).raw_all, key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw", partitions=partitions)
    outputs = {t: app.topic(t, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                            partitions=partitions)
               for t in out_topics.all()}
    loads, dumps = orjson.loads, orjson.dumps

    def one(value: bytes, topic: str, partition: int, offset: int) -> list[tuple[str, bytes, bytes]]:
        observed = time.time()
        if mode == "normalize" and value and value[:1] == b"{":
            stream = topic.rsplit(".", 1)[-1]
            try:
                ev = normalize(loads(value), stream, observed, (topic, partition, offset))
                return [(out_topics.normalized(stream), f"{ev['tenant']}|{ev['service']}".encode(), dumps(ev))]
            except Exception:  # bad input: the Ingestor dead-letters it below
                pass
        out = ingestor.process([(value, topic, partition, offset)], observed)
        return [(t, k, v) for t, items in out.by_topic.items() for k, v, _ in items]

    @app.agent(source)
    async def forward(stream):
        async for event in stream.events():
            msg = event.message
            for topic, key, value in one(event.value, msg.topic, msg.partition, msg.offset):
                await outputs[topic].send(key=key or None, value=value)

    return app


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", required=True, help="host:port of the Kafka broker")
    ap.add_argument("--in-prefix", required=True, help="topic prefix of the raw topics to read")
    ap.add_argument("--out-prefix", required=True, help="topic prefix of the normalized topics to write")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--data-dir", default="/tmp/sluice-bench-faust")
    ap.add_argument("--mode", choices=MODES, default="normalize")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = build_app(args.broker, args.in_prefix, args.out_prefix, args.partitions, args.data_dir, args.mode)
    faust.Worker(app, loglevel="WARNING", quiet=True, workdir=args.data_dir).execute_from_commandline()


if __name__ == "__main__":
    main()
