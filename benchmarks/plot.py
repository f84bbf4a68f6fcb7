"""Figures of a benchmark run (matplotlib, Agg backend): latest.png beside latest.json,
soak.png beside soak.json. See benchmarks/README.md for what each panel shows.

    python -m benchmarks.plot benchmarks/results/latest.json   # redraw from a JSON file
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import orjson  # noqa: E402

from benchmarks.phases.stats import RSS_EXEMPT, RSS_LIMIT_MB, TARGETS  # noqa: E402

OK, BAD, NEUTRAL, TARGET = "#2a9d8f", "#e76f51", "#8d99ae", "#264653"


def _colour(met) -> str:
    return NEUTRAL if met is None else OK if met else BAD


def _label_bars(ax, bars, values, fmt) -> None:
    for bar, v in zip(bars, values, strict=True):
        text = "n/a" if v is None else fmt(v)
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")


def _target_line(ax, x, value, label) -> None:
    if value is None:
        return
    ax.hlines(value, x - 0.45, x + 0.45, colors=TARGET, linestyles="--", linewidth=1.5)
    ax.annotate(label, (x - 0.45, value), ha="left", va="top", fontsize=7, color=TARGET,
                xytext=(0, -2), textcoords="offset points")


def _throughput(ax, r: dict) -> None:
    met = r.get("met", {})
    items = [
        ("floor\n(consumer+loads)", r.get("floor_events_per_s"), None),
        ("floor\nper core", r.get("floor_events_per_s_per_core"), None),
        ("faust\nbaseline", r.get("faust_events_per_s"), None),
        ("ingest\nstage", r.get("ingest_events_per_s"), None),
        ("ingest\nper core", r.get("ingest_events_per_s_per_core"), met.get("ingest_vs_floor")),
        ("end to end\n(ClickHouse rows)", r.get("e2e_events_per_s"), met.get("e2e_events_per_s")),
    ]
    xs = range(len(items))
    values = [v for _, v, _ in items]
    bars = ax.bar(xs, [v or 0 for v in values], color=[_colour(m) for *_, m in items])
    _label_bars(ax, bars, values, lambda v: f"{v / 1000:,.1f}k")
    ax.set_xticks(list(xs), [n for n, *_ in items], fontsize=8)
    ax.set_ylabel("events/s")
    ax.set_title("Throughput (green/red: target met/missed)", fontsize=10)
    floor_pc = r.get("floor_events_per_s_per_core")
    if floor_pc:
        _target_line(ax, 4, TARGETS["ingest_vs_floor"]["value"] * floor_pc, "0.35 x floor/core")
    _target_line(ax, 5, TARGETS["e2e_events_per_s"]["value"], "target 100k")
    faust = r.get("faust_events_per_s")
    if faust:
        ax.hlines(faust * TARGETS["e2e_vs_faust"]["value"], 4.55, 5.45, colors="#e9c46a", linestyles=":",
                  linewidth=2)
        ax.annotate("10 x faust", (5.45, faust * 10), fontsize=7, color="#b08900", va="center",
                    xytext=(2, 0), textcoords="offset points")
    ax.set_ylim(0, max([v or 0 for v in values] + [TARGETS["e2e_events_per_s"]["value"], (faust or 0) * 10]) * 1.18)
    ax.grid(axis="y", alpha=0.3)


def _latency(ax, r: dict) -> None:
    met = r.get("met", {})
    window = r.get("alert_window_s")
    items = [
        ("freshness\np50", r.get("freshness_p50_s"), None, None),
        ("freshness\np99", r.get("freshness_p99_s"), TARGETS["freshness_p99_s"]["value"], met.get("freshness_p99_s")),
        ("alert\np99", r.get("alert_latency_p99_s"), TARGETS["alert_latency_p99_s"]["value"],
         met.get("alert_latency_p99_s")),
        ("windowed alert\np99", r.get("alert_latency_windowed_p99_s"), None if window is None else window + 5,
         met.get("alert_latency_windowed_p99_s")),
    ]
    xs = range(len(items))
    values = [v for _, v, *_ in items]
    bars = ax.bar(xs, [v or 0 for v in values], color=[_colour(m) for *_, m in items])
    _label_bars(ax, bars, values, lambda v: f"{v:.3f}s")
    for x, (_, _, limit, _) in zip(xs, items, strict=True):
        _target_line(ax, x, limit, f"target {limit:g}s" if limit is not None else "")
    reason = r.get("alert_latency_reason")
    if reason:
        ax.annotate("alert latency not measured:\n" + reason, (2.5, 0), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 14), textcoords="offset points", wrap=True)
    ax.set_xticks(list(xs), [n for n, *_ in items], fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title("Freshness (event time to queryable) and alert latency", fontsize=10)
    top = max([v or 0 for v in values] + [TARGETS["freshness_p99_s"]["value"], TARGETS["alert_latency_p99_s"]["value"]])
    ax.set_ylim(0, top * 1.25)
    ax.grid(axis="y", alpha=0.3)


def _timeline(ax, r: dict) -> None:
    pts = r.get("e2e_timeline") or []
    ax.set_title("End to end: rows landing in ClickHouse", fontsize=10)
    if len(pts) < 3:
        ax.text(0.5, 0.5, "no e2e samples", ha="center", transform=ax.transAxes)
        return
    ts = [t for t, _ in pts]
    rows = [n for _, n in pts]
    ax.plot(ts, [n / 1e6 for n in rows], color=TARGET, label="rows landed (M)")
    ax.set_xlabel("seconds since the first timed publish")
    ax.set_ylabel("rows landed (millions)")
    rates_t, rates = [], []
    step = 4  # samples (about 2 s at the 0.5 s poll interval)
    for i in range(step, len(pts), step):
        dt = ts[i] - ts[i - step]
        if dt > 0:
            rates_t.append(ts[i])
            rates.append((rows[i] - rows[i - step]) / dt / 1000)
    ax2 = ax.twinx()
    ax2.plot(rates_t, rates, color=OK, alpha=0.7, label="landing rate (k rows/s)")
    ax2.axhline(TARGETS["e2e_events_per_s"]["value"] / 1000, color=BAD, linestyle="--", linewidth=1,
                label="target 100k/s")
    ax2.set_ylabel("k rows/s")
    pub = r.get("e2e_publish_seconds")
    if pub:
        ax.axvline(pub, color=NEUTRAL, linestyle=":", linewidth=1)
        ax.annotate("publisher stops", (pub, 0), fontsize=7, color=NEUTRAL, rotation=90, va="bottom")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper left")


def _rss(ax, rss: dict) -> None:
    names = sorted(rss)
    values = [rss[n] for n in names]
    exempt = [any(n == e or n.startswith(e + ".") for e in RSS_EXEMPT) for n in names]
    colours = [NEUTRAL if ex else (OK if v <= RSS_LIMIT_MB else BAD) for v, ex in zip(values, exempt, strict=True)]
    bars = ax.bar(range(len(names)), values, color=colours)
    for bar, ex in zip(bars, exempt, strict=True):
        if ex:
            bar.set_hatch("//")
    _label_bars(ax, bars, values, lambda v: f"{v:,.0f}")
    ax.axhline(RSS_LIMIT_MB, color=TARGET, linestyle="--", linewidth=1)
    ax.annotate(f"{RSS_LIMIT_MB:.0f} MB limit", (-0.5, RSS_LIMIT_MB), fontsize=7, color=TARGET,
                ha="left", va="bottom", xytext=(2, 10), textcoords="offset points")
    ax.set_ylim(0, max(values + [RSS_LIMIT_MB]) * 1.15)
    ax.set_xticks(range(len(names)), names, fontsize=8, rotation=20)
    ax.set_ylabel("peak RSS (MB)")
    ax.set_title("Peak RSS per process (hatched: in-memory broker, exempt)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def plot_latest(r: dict, path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    _throughput(axes[0][0], r)
    _latency(axes[0][1], r)
    _timeline(axes[1][0], r)
    _rss(axes[1][1], r.get("rss_mb") or {})
    m = r.get("machine", {})
    fig.suptitle(f"Sluice benchmark {r.get('timestamp', '')}{' (quick)' if r.get('quick') else ''} - "
                 f"{m.get('cores')} cores {m.get('cpu_model', '')}, {m.get('memory_mb', 0) / 1024:.0f} GB, "
                 f"load at start {m.get('load_average_at_start')}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_soak(s: dict, path: Path) -> Path:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 9), sharex=True)
    for name, pts in sorted((s.get("rss_series_mb") or {}).items()):
        if not pts:
            continue
        slope = (s.get("processes", {}).get(name) or {}).get("slope_mb_per_min")
        label = f"{name} ({slope:+.2f} MB/min)" if slope is not None else name
        ax1.plot([t for t, _ in pts], [mb for _, mb in pts], label=label)
    ax1.axhline(RSS_LIMIT_MB, color=TARGET, linestyle="--", linewidth=1)
    window = s.get("load_window_s")
    if window:
        ax1.axvspan(max(window[0], window[1] - s.get("slope_window_s", 240)), window[1], color=NEUTRAL, alpha=0.12,
                    label="slope window")
    ax1.set_ylabel("RSS (MB)")
    ax1.set_title(f"Soak: RSS per process, {s.get('rate_target', 0):,.0f} events/s for {s.get('seconds', 0):.0f}s; "
                  f"memory flat: {s.get('memory_flat')} (slope over the last {s.get('slope_window_s', 240):.0f}s of load "
                  f"< {s.get('flat_limit_mb_per_min', 1)} MB/min)", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    lag = s.get("in_flight_series") or []
    ax2.plot([t for t, _ in lag], [n for _, n in lag], color=TARGET)
    ax2.set_ylabel("records acked but not yet in ClickHouse")
    ax2.set_xlabel("seconds")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/latest.json")
    data = orjson.loads(src.read_bytes())
    out = src.with_suffix(".png")
    (plot_soak if "memory_flat" in data else plot_latest)(data, out)
    print(out)


if __name__ == "__main__":
    main()
