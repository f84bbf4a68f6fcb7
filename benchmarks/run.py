"""`make bench`: the benchmark harness on the embedded stack (Tansu broker, chDB in the
sink process). Writes benchmarks/results/latest.json, latest.png beside it and a
table on the terminal. `make soak`: a five-minute memory soak (soak.json, soak.png).

    python -m benchmarks.run [--quick] [--e2e-seconds N] [--output DIR] [--profile]
    python -m benchmarks.run --soak [--soak-seconds N] [--rate R]

Phases (benchmarks/phases/, README.md says how each figure is measured): micro
benchmarks in memory; then on one broker with a pre-filled raw topic: floor
(bare consumer + orjson.loads), ingest (the real ingest worker), faust baseline;
then end to end on a fresh stack for >= 60 s; freshness at 50 % of that rate on
a fresh stack; alert latency (null with a reason until the detect stage exists).
The exit status is 1 when a phase failed, 0 otherwise (missed targets included:
they are in the table, the JSON and the plot)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import orjson

from benchmarks.phases import alerts, e2e, faust, floor, freshness, ingest, micro, soak
from benchmarks.phases.common import (
    Reporter,
    RssMonitor,
    create_topics,
    kafka_config,
    machine_info,
    prefill,
    unique_prefix,
    versions,
)
from benchmarks.phases.stats import TARGETS, evaluate, fmt_num, max_rss, ratio
from sluice.embedded import EmbeddedBroker

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"
PARTITIONS = 4
PHASES = ("micro", "floor", "ingest", "faust", "e2e", "freshness", "alerts")
FALLBACK_MAX_RATE = 20_000.0


def sizes(quick: bool, e2e_seconds: float | None) -> dict:
    if quick:
        return {"prefill": 100_000, "faust": 20_000, "measure_max_s": 10.0, "e2e_s": e2e_seconds or 15.0,
                "fresh_s": 10.0, "micro": 20_000, "incidents": 10, "alert_timeout_s": 60.0}
    return {"prefill": 500_000, "faust": 100_000, "measure_max_s": 30.0, "e2e_s": e2e_seconds or 60.0,
            "fresh_s": 30.0, "micro": 50_000, "incidents": 20, "alert_timeout_s": 90.0}


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.report = Reporter()
        self.results: dict = {}
        self.errors: dict[str, str] = {}
        self.work = Path(tempfile.mkdtemp(prefix="sluice-bench-"))

    def phase(self, name: str, fn, *a, **kw) -> dict:
        if self.args.only and name not in self.args.only:
            return {}
        started = time.monotonic()
        try:
            out = fn(*a, **kw) or {}
        except Exception as exc:
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            self.report(f"{name}: FAILED: {exc}")
            traceback.print_exc()
            out = {}
        self.results.setdefault("phase_seconds", {})[name] = round(time.monotonic() - started, 1)
        self.results.update(out)
        return out


def _raw_phases(run: Run, monitor: RssMonitor, size: dict, profilers: dict) -> None:
    """floor, ingest and faust over the same pre-filled raw topics of one broker."""
    if run.args.only and not {"floor", "ingest", "faust"} & set(run.args.only):
        return
    broker = None
    try:
        broker = EmbeddedBroker(run.work / "raw" / "logs").start()
        monitor.watch("broker", lambda: broker.proc.pid if broker.proc else None)
        kafka = kafka_config(broker.bootstrap_servers, unique_prefix("raw"), PARTITIONS)
        create_topics(kafka)
        run.report(f"pre-filling {size['prefill']:,} synthetic records into {kafka.topic_prefix}.raw.* "
                   f"({PARTITIONS} partitions each) on {broker.bootstrap_servers}")
        filled = prefill(kafka, size["prefill"], run.report)
    except Exception as exc:
        run.errors["prefill"] = f"{type(exc).__name__}: {exc}"
        run.report(f"pre-fill: FAILED: {exc}; skipping floor, ingest and faust")
        traceback.print_exc()
        if broker is not None:
            broker.close()
        monitor.unwatch("broker")
        return
    try:
        run.results["prefill"] = filled
        run.report(f"  pre-filled in {filled['seconds']:.1f}s: {filled['produced']}")
        run.phase("floor", floor.run, kafka, size["prefill"], run.report)
        run.phase("ingest", ingest.run, broker.bootstrap_servers, kafka.topic_prefix, filled["records"], PARTITIONS,
                  run.work / "ingest", run.report, monitor, max_seconds=size["measure_max_s"],
                  profiler=profilers.get("ingest"))
        run.phase("faust", faust.run, broker.bootstrap_servers, kafka.topic_prefix, size["faust"], PARTITIONS,
                  run.work / "faust", run.report, monitor, max_seconds=size["measure_max_s"])
    finally:
        broker.close()
        monitor.unwatch("broker")


def derive(r: dict) -> None:
    r["e2e_vs_faust"] = _round(ratio(r.get("e2e_events_per_s"), r.get("faust_events_per_s")), 3)
    # Per core against per core: both processes also spend librdkafka threads' CPU.
    r["ingest_vs_floor"] = _round(ratio(r.get("ingest_events_per_s_per_core"),
                                        r.get("floor_events_per_s_per_core")), 3)
    r["ingest_vs_floor_wall"] = _round(ratio(r.get("ingest_events_per_s"), r.get("floor_events_per_s")), 3)
    r["rss_mb_max"] = _round(max_rss(r.get("rss_mb") or {}), 1)


def _round(v, digits):
    return None if v is None else round(v, digits)


TABLE = [
    ("floor_events_per_s", "floor: consumer + orjson.loads", "events/s", 0),
    ("floor_events_per_s_per_core", "floor per core", "events/s", 0),
    ("faust_events_per_s", "faust baseline (event by event)", "events/s", 0),
    ("ingest_events_per_s", "ingest stage", "events/s", 0),
    ("ingest_cores_used", "ingest cores used", "cores", 2),
    ("ingest_events_per_s_per_core", "ingest per core", "events/s", 0),
    ("ingest_vs_floor", "ingest / floor (per core)", "x", 3),
    ("e2e_events_per_s", "end to end (rows in ClickHouse)", "events/s", 0),
    ("e2e_vs_faust", "end to end / faust", "x", 2),
    ("e2e_missing", "e2e missing", "rows", 0),
    ("e2e_duplicates", "e2e duplicates", "rows", 0),
    ("freshness_p50_s", "freshness p50", "s", 3),
    ("freshness_p99_s", "freshness p99", "s", 3),
    ("alert_latency_p99_s", "alert latency p99", "s", 3),
    ("alert_latency_windowed_p99_s", "windowed alert latency p99", "s", 3),
    ("rss_mb_max", "max peak RSS (broker exempt)", "MB", 0),
]


def _target_text(key: str, r: dict) -> str:
    t = TARGETS.get(key)
    if t is None:
        return ""
    value = t["value"]
    if key == "alert_latency_windowed_p99_s":
        w = r.get("alert_window_s")
        value = "window+5" if w is None else w + 5
    return f"{t['op']} {fmt_num(value, 2) if isinstance(value, float) and value < 10 else fmt_num(value)}"


def print_table(r: dict, out=sys.stdout) -> None:
    met = r.get("met", {})
    out.write("\n" + f"{'figure':<36} {'value':>14} {'unit':<9} {'target':<12} met\n" + "-" * 78 + "\n")
    for key, label, unit, digits in TABLE:
        flag = met.get(key, "")
        flag = "" if flag == "" else ("n/a" if flag is None else "yes" if flag else "NO")
        out.write(f"{label:<36} {fmt_num(r.get(key), digits):>14} {unit:<9} {_target_text(key, r):<12} {flag}\n")
    rss = r.get("rss_mb") or {}
    out.write("peak RSS MB: " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(rss.items())) + "\n")
    if r.get("alert_latency_reason"):
        out.write(f"alert latency not measured: {r['alert_latency_reason']}\n")
    for name, res in (r.get("micro") or {}).items():
        shown = {k: v for k, v in res.items() if k != "traceback" and not isinstance(v, dict)}
        out.write(f"{name}: {shown}\n")
    if r.get("errors"):
        out.write(f"FAILED phases: {r['errors']}\n")
    out.flush()


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    tmp.replace(path)


def bench(args: argparse.Namespace) -> int:
    run = Run(args)
    size = sizes(args.quick, args.e2e_seconds)
    r = run.results
    r.update({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": args.quick, "machine": machine_info(),
              "versions": versions(), "config": {**size, "partitions": PARTITIONS}})
    run.report(f"Sluice benchmark ({'quick' if args.quick else 'full'}); work dir {run.work}")
    monitor = RssMonitor(interval=0.5).start()
    profilers = {}
    if args.profile:
        from benchmarks.phases.profile import Profiler
        profilers = {"ingest": Profiler(args.output, 20, ("ingest-0",), "ingest-phase-"),
                     "e2e": Profiler(args.output, min(20, int(size["e2e_s"])), ("ingest-0", "sink", "detect"),
                                     "e2e-")}
    started = time.monotonic()
    try:
        run.phase("micro", lambda: {"micro": micro.run(size["micro"], run.report)})
        _raw_phases(run, monitor, size, profilers)
        run.phase("e2e", e2e.run, run.work / "e2e", size["e2e_s"], run.report, monitor,
                  profiler=profilers.get("e2e"))
        max_rate = r.get("e2e_events_per_s") or r.get("e2e_steady_landing_events_per_s") or FALLBACK_MAX_RATE
        run.phase("freshness", freshness.run, run.work / "freshness", 0.5 * max_rate, size["fresh_s"],
                  run.report, monitor)
        run.phase("alerts", alerts.run, run.work / "alerts", 0.5 * max_rate, run.report, monitor,
                  incidents=size["incidents"], timeout=size["alert_timeout_s"])
    except KeyboardInterrupt:
        run.errors["interrupted"] = "KeyboardInterrupt"
    finally:
        monitor.stop()
        if not args.keep:
            shutil.rmtree(run.work, ignore_errors=True)
    r["rss_mb"] = {k: round(v, 1) for k, v in sorted(monitor.peak_mb.items())}
    if profilers:
        r["profile"] = {name: p.result for name, p in profilers.items()}
    r["total_seconds"] = round(time.monotonic() - started, 1)
    r["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    derive(r)
    r["targets"] = TARGETS
    r["met"] = evaluate(r)
    r["errors"] = run.errors
    json_path = args.output / "latest.json"
    write_json(json_path, r)
    png = None
    try:
        from benchmarks.plot import plot_latest
        png = plot_latest(r, args.output / "latest.png")
    except Exception as exc:
        run.report(f"plot failed: {exc!r}")
    print_table(r)
    run.report(f"results: {json_path}" + (f", plot: {png}" if png else "") + f" ({r['total_seconds']:.0f}s)")
    return 1 if run.errors else 0


def soak_run(args: argparse.Namespace) -> int:
    report = Reporter()
    rate = args.rate
    if rate is None:
        latest = args.output / "latest.json"
        try:
            max_rate = orjson.loads(latest.read_bytes()).get("e2e_events_per_s")
        except (OSError, orjson.JSONDecodeError):
            max_rate = None
        if max_rate:
            report(f"maximum sustained rate {max_rate:,.0f} events/s from {latest}")
        else:
            report("no e2e figure in latest.json: measuring the maximum rate first (20 s)")
            work = Path(tempfile.mkdtemp(prefix="sluice-soak-cal-"))
            cal_monitor = RssMonitor(interval=1.0).start()
            try:
                cal = e2e.run(work, 20.0, report, cal_monitor)
            finally:
                cal_monitor.stop()
                shutil.rmtree(work, ignore_errors=True)
            max_rate = cal.get("e2e_events_per_s") or FALLBACK_MAX_RATE
        rate = 0.5 * max_rate
    work = Path(tempfile.mkdtemp(prefix="sluice-soak-"))
    try:
        result = soak.run(work, rate, args.soak_seconds, report)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result.update({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_info(),
                   "versions": versions()})
    write_json(args.output / "soak.json", result)
    try:
        from benchmarks.plot import plot_soak
        plot_soak(result, args.output / "soak.png")
    except Exception as exc:
        report(f"plot failed: {exc!r}")
    print(f"\nsoak: {result['rate_target']:,.0f} events/s for {result['seconds']:.0f}s; memory flat: "
          f"{result['memory_flat']}")
    for name, v in result["processes"].items():
        print(f"  {name:<10} peak {result['peak_rss_mb'].get(name, 0):>8,.0f} MB  slope "
              f"{fmt_num(v['slope_mb_per_min'], 3):>8} MB/min  flat {fmt_num(v['flat'])}")
    report(f"results: {args.output / 'soak.json'}, plot: {args.output / 'soak.png'}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and a 15 s end-to-end run (smoke test)")
    ap.add_argument("--e2e-seconds", type=float, default=None, help="end-to-end publish duration (default 60)")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results directory")
    ap.add_argument("--soak", action="store_true", help="five-minute memory soak at 50%% of the maximum rate")
    ap.add_argument("--soak-seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=None, help="soak rate (default: 50%% of latest e2e figure)")
    ap.add_argument("--profile", action="store_true", help="py-spy the ingest and sink processes during e2e")
    ap.add_argument("--only", type=lambda s: [p.strip() for p in s.split(",") if p.strip()], default=None,
                    help=f"comma-separated subset of phases: {','.join(PHASES)}")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (stage logs, data)")
    args = ap.parse_args(argv)
    if args.only:
        unknown = set(args.only) - set(PHASES)
        if unknown:
            ap.error(f"unknown phase(s) {sorted(unknown)}; choose from {','.join(PHASES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return soak_run(args) if args.soak else bench(args)


if __name__ == "__main__":
    sys.exit(main())
