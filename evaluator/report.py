"""Summaries of an evaluation: CSV, the seed's Markdown table, a per-track plot, the official five lines and the
HTML page (``evaluator.html_report``).

Aggregation follows each metric's custom: global SDR is averaged over tracks (the leaderboard;
``mean_sdr`` is the mean over songs of each song's mean over instruments), museval SDR takes the
median over tracks (SiSEC 2018). "all sources" is the mean of the per-target figures.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.atomic import atomic_path, write_text
from my_submission.separation_model import describe_sources

from .harness import TrackResult, scored_targets
from .html_report import write_html_report
from .tracks import STEMS

TABLE_ORDER = ("vocals", "bass", "drums", "other")  # the seed README's row order


def _aggregate(values: list[float], how: str) -> float:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values) if how == "mean" else np.nanmedian(values))


def summary(results: Sequence[TrackResult]) -> dict[str, float]:
    """The official evaluator's figures from global SDR: ``sdr_<instrument>`` and ``mean_sdr``."""
    targets = [t for t in STEMS if any(t in r.global_sdr for r in results)]
    out = {f"sdr_{t}": _aggregate([r.global_sdr[t] for r in results if t in r.global_sdr], "mean") for t in targets}
    out["mean_sdr"] = _aggregate([np.mean(list(r.global_sdr.values())) for r in results if r.global_sdr], "mean")
    return out


def official_lines(results: Sequence[TrackResult]) -> str:
    """``sdr_bass : 1.234`` ... ``mean_sdr : 1.234``, one per line, as the official local evaluator prints."""
    return "".join(f"{name} : {value:.3f}\n" for name, value in summary(results).items())


def target_rows(results: Sequence[TrackResult]) -> list[tuple[str, float | None, float | None]]:
    """The seed README's rows ``(target, global SDR, museval SDR)``: vocals, bass, drums, other, then "all sources".

    Global SDR is the mean over tracks, museval SDR the median (NaN left out); "all sources" is the mean of the
    four rows, None unless all four have a figure. None marks a figure not computed.
    """
    rows = []
    for target in TABLE_ORDER:
        g = [r.global_sdr[target] for r in results if target in r.global_sdr]
        m = [r.museval_sdr[target] for r in results if target in r.museval_sdr]
        rows.append((target, _aggregate(g, "mean") if g else None, _aggregate(m, "median") if m else None))
    columns = [[row[i] for row in rows if row[i] is not None] for i in (1, 2)]
    g_all, m_all = (_aggregate(c, "mean") if len(c) == len(TABLE_ORDER) else None for c in columns)
    return rows + [("all sources", g_all, m_all)]


def markdown_table(results: Sequence[TrackResult]) -> str:
    """The seed README's test-results table: rows vocals, bass, drums, other, all sources."""
    def cell(value: float | None) -> str:
        return "-" if value is None or np.isnan(value) else f"{value:.3f}"

    rows = ["| Target      |   global SDR   | museval SDR    |", "|-------------|----------------|----------------|"]
    rows += [f"| {name:<11} | {cell(g):<14} | {cell(m):<14} |" for name, g, m in target_rows(results)]
    return "\n".join(rows) + "\n"


def sources_line(results: Sequence[TrackResult]) -> str:
    """Which targets came from a network (and which file) and which from the fallback; empty when unknown."""
    sources = results[0].run.get("sources") if results else None
    return f"- sources: {describe_sources(sources)}\n" if sources else ""


def timing_lines(results: Sequence[TrackResult]) -> str:
    """Tracks over the time limit, the slowest real-time factor, the largest peak memory, and which timings were
    reused from an earlier run or judged by CPU time because the machine was loaded."""
    over = [r.track for r in results if r.over_time]
    slowest = max(results, key=lambda r: r.realtime_factor)
    listed = f" ({', '.join(over)})" if over else ""
    lines = (f"- tracks: {len(results)}; over the time limit: {len(over)}{listed}\n"
             f"- slowest: {slowest.track}, {slowest.judged_seconds:.1f} s for {slowest.duration:.1f} s "
             f"(real-time factor {slowest.realtime_factor:.2f}, limit {slowest.time_limit / slowest.duration:.2f})\n"
             f"- peak memory: {max(r.peak_rss_mb for r in results):.0f} MB resident, at most "
             f"{max(r.rss_growth_mb for r in results):.0f} MB above the start of a track\n")
    loaded = [r.track for r in results if r.loaded]
    if loaded:
        lines += (f"- the machine was loaded while separating {len(loaded)} track(s) ({', '.join(loaded)}): their "
                  "time is judged as CPU time per usable core, not wall time\n")
    unjudged = [r.track for r in results if not r.time_judged]
    if unjudged:
        lines += (f"- not judged against the time limit: {', '.join(unjudged)} (the machine was too loaded for CPU "
                  "time to stand in for wall time; rerun on a quiet machine)\n")
    cached = [r for r in results if r.cached]
    if cached:
        lines += (f"- cached: {len(cached)} of {len(results)} tracks were scored by an earlier run with the same "
                  "model and settings; their scores and timings are that run's (--force re-runs them)\n")
    return lines


def write_csv(results: Sequence[TrackResult], path: Path) -> Path:
    """One row per track: timing, memory and every score."""
    targets = scored_targets(results)
    columns = ["track", "duration", "seconds", "cpu_seconds", "cores", "loaded", "judged_seconds", "time_limit",
               "over_time", "realtime_factor", "peak_rss_mb",
               "rss_growth_mb", *[f"global_{t}" for t in targets], *[f"museval_{t}" for t in targets]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
    writer.writeheader()
    for r in results:
        row = r.to_dict()
        row.update({f"global_{t}": v for t, v in r.global_sdr.items()})
        row.update({f"museval_{t}": v for t, v in r.museval_sdr.items()})
        writer.writerow(row)
    return write_text(path, buffer.getvalue())


def plot(results: Sequence[TrackResult], path: Path) -> Path:
    """A PNG of each track's SDR per target (global SDR, and museval SDR when computed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    metrics = [(name, attr) for name, attr in (("global SDR", "global_sdr"), ("museval SDR", "museval_sdr"))
               if any(getattr(r, attr) for r in results)]
    targets = scored_targets(results)
    x = np.arange(len(results))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6, 0.6 * len(results) + 2), 3.5 * len(metrics)),
                             squeeze=False)
    for ax, (name, attr) in zip(axes[:, 0], metrics):
        width = 0.8 / len(targets)
        for i, target in enumerate(targets):
            values = [getattr(r, attr).get(target, np.nan) for r in results]
            ax.bar(x + (i - (len(targets) - 1) / 2) * width, values, width, label=target)
        ax.set_ylabel(f"{name} (dB)")
        ax.set_xticks(x, [r.track for r in results], rotation=45, ha="right", fontsize=8)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.legend(fontsize=8, ncols=len(targets), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def write_reports(results: Sequence[TrackResult], outputs: Path, dataset: Path) -> dict[str, Path]:
    """Write ``results.csv``, ``results.md``, ``sdr_per_track.png``, ``scores.txt`` and ``report.html`` into
    ``outputs``; ``dataset`` is the tracks' folder (the page's mixture and reference players link into it)."""
    outputs = Path(outputs)
    header = f"# Evaluation of {results[0].run.get('model', 'a model')} on {len(results)} tracks\n\n"
    markdown = header + markdown_table(results) + "\n" + sources_line(results) + timing_lines(results)
    paths = {"csv": write_csv(results, outputs / "results.csv"),
             "markdown": write_text(outputs / "results.md", markdown),
             "plot": plot(results, outputs / "sdr_per_track.png"),
             "scores": write_text(outputs / "scores.txt", official_lines(results))}
    paths["html report"] = write_html_report(results, outputs / "report.html", dataset, target_rows(results),
                                             summary(results), [paths["plot"]])
    return paths
