"""``report.html``: an evaluation as one self-contained page to open in a browser.

The page holds the summary table (the figures of ``results.md`` and ``scores.txt``), a per-track table
(scores, separation time, real-time factor, the time-limit flag), the plots and, for every track, audio
players for the mixture, each estimate and each reference. Files are linked, never embedded: estimates
from ``predictions/``, the mixture and the references from the dataset folder, by paths relative to the
page (a ``file://`` URI when there is none, e.g. another drive on Windows). A file that is not there,
such as the mixture of a track stored as stems only, is named in the page instead of a broken player.
Inline CSS only: no scripts, no network fetches.
"""

from __future__ import annotations

import html
import os
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from models.atomic import write_text
from my_submission.separation_model import describe_sources

from .harness import TrackResult, scored_targets
from .tracks import STEMS

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2em auto;
       max-width: 72em; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.5em 0 0.4em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; vertical-align: middle; }
thead th { border-bottom: 2px solid #999; } th[colspan] { text-align: center; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td, tr.total th { border-top: 2px solid #999; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0.5em 0; }
dt { color: #666; } dd { margin: 0; overflow-wrap: anywhere; }
.flag { color: #b00020; font-weight: 600; } .missing { color: #777; font-style: italic; }
.muted { color: #666; }
audio { height: 2.2em; width: 16em; display: block; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def link(target: Path, page_dir: Path) -> str:
    """``target``'s URL from a page in ``page_dir``: a percent-encoded relative path, else a ``file://`` URI."""
    try:
        relative = os.path.relpath(target, page_dir)
    except ValueError:  # no relative path, e.g. another drive on Windows
        return Path(os.path.abspath(target)).as_uri()
    return urllib.parse.quote(Path(relative).as_posix())


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _num_cell(value: float | None, digits: int = 3) -> str:
    return f'<td class="num">{_number(value, digits)}</td>'


def _player(path: Path, page_dir: Path, label: str) -> str:
    if not path.is_file():
        return f'<span class="missing">no {html.escape(str(path))}</span>'
    src = html.escape(link(path, page_dir))
    return f'<audio controls preload="none" src="{src}" title="{html.escape(label)}"></audio>'


def _run_description(results: Sequence[TrackResult], dataset: Path) -> str:
    run = results[0].run
    metric = str(run.get("metric", "unknown"))
    over = [r.track for r in results if r.over_time]
    factors = sorted({round(r.time_limit / r.duration, 3) for r in results if r.duration > 0})
    limit = " / ".join(f"{f:g}" for f in factors) or "-"
    items = [("model", run.get("model", "unknown")),
             ("data folder", str(Path(os.path.abspath(dataset)))),
             ("tracks", str(len(results))),
             ("targets", ", ".join(run.get("targets", scored_targets(results)))),
             ("metric", metric + (f" (museval SDR by the {run.get('chunk_backend', '?')} backend)"
                                  if metric in ("museval", "both") else ""))]
    if run.get("settings"):
        items.append(("settings", ", ".join(f"{k}={v}" for k, v in run["settings"].items())))
    if run.get("sources"):
        items.append(("sources", describe_sources(run["sources"])))
    if run.get("weights"):
        items.append(("weights", ", ".join(sorted(run["weights"]))))
    slowest = max(results, key=lambda r: r.realtime_factor)
    items.append(("time limit", f"{limit} x the track's duration"))
    items.append(("slowest", f"{slowest.track}: real-time factor {slowest.realtime_factor:.3f} "
                             f"({slowest.judged_seconds:.2f} s for {slowest.duration:.1f} s)"))
    loaded = [r.track for r in results if r.loaded]
    if loaded:
        items.append(("loaded machine", f"{', '.join(loaded)}: judged by CPU time per usable core"))
    unjudged = [r.track for r in results if not r.time_judged]
    if unjudged:
        items.append(("time not judged", f"{', '.join(unjudged)}: the machine was too loaded; rerun on a quiet one"))
    cached = [r.track for r in results if r.cached]
    if cached:
        items.append(("cached", f"{len(cached)} of {len(results)} tracks scored by an earlier run (its timings)"))
    flag = f'<span class="flag">{len(over)}: {html.escape(", ".join(over))}</span>' if over else "0"
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>\n" for k, v in items)
    return f"<dl>{rows}<dt>over the time limit</dt><dd>{flag}</dd></dl>"


TOTAL = ' class="total"'


def _summary_table(rows: Sequence[tuple[str, float | None, float | None]], official: Mapping[str, float]) -> str:
    body = "".join(f"<tr{TOTAL if name == 'all sources' else ''}><th>{html.escape(name)}</th>"
                   f"{_num_cell(g)}{_num_cell(m)}</tr>\n" for name, g, m in rows)
    if "mean_sdr" in official and not np.isnan(official["mean_sdr"]):
        body += f'<tr><th>mean_sdr (official)</th>{_num_cell(official["mean_sdr"])}<td class="num">-</td></tr>\n'
    return ('<table id="summary"><thead><tr><th>Target</th><th class="num">global SDR (dB)<br>'
            '<span class="muted">mean over tracks</span></th><th class="num">museval SDR (dB)<br>'
            f'<span class="muted">median over tracks</span></th></tr></thead><tbody>{body}</tbody></table>')


def _track_table(results: Sequence[TrackResult]) -> str:
    targets = scored_targets(results)
    has_global = any(r.global_sdr for r in results)
    has_museval = any(r.museval_sdr for r in results)
    groups = ([("global SDR (dB)", "global_sdr", [*targets, "mean"])] if has_global else []) + \
        ([("museval SDR (dB)", "museval_sdr", targets)] if has_museval else [])
    top = "".join(f'<th colspan="{len(cols)}">{name}</th>' for name, _, cols in groups)
    sub = "".join(f'<th class="num">{c}</th>' for _, _, cols in groups for c in cols)
    head = (f'<thead><tr><th rowspan="2">Track</th><th rowspan="2" class="num">length (s)</th>{top}'
            '<th rowspan="2" class="num">time (s)</th><th rowspan="2" class="num">real-time factor</th>'
            '<th rowspan="2" class="num">peak memory (MB)</th><th rowspan="2">flags</th></tr>'
            f"<tr>{sub}</tr></thead>\n")
    body = []
    for i, r in enumerate(results):
        cells = [f'<th><a href="#track-{i}">{html.escape(r.track)}</a></th>', _num_cell(r.duration, 1)]
        for _, attr, _cols in groups:
            scores = getattr(r, attr)
            cells += [_num_cell(scores.get(t)) for t in targets]
            if attr == "global_sdr":
                cells.append(_num_cell(float(np.mean(list(scores.values()))) if scores else None))
        flag = (f'<span class="flag">over the time limit ({r.time_limit:.1f} s)</span>' if r.over_time else "")
        cells += [_num_cell(r.seconds, 2), _num_cell(r.realtime_factor, 3), _num_cell(r.peak_rss_mb, 0),
                  f"<td>{flag}</td>"]
        body.append(f'<tr id="row-{i}">{"".join(cells)}</tr>\n')
    return f'<table id="tracks">{head}<tbody>{"".join(body)}</tbody></table>'


def _track_players(index: int, result: TrackResult, outputs: Path, dataset: Path) -> str:
    folder = dataset / result.track
    predictions = outputs / "predictions" / result.track
    name = result.track
    rows = [f'<tr><th>mixture</th><td colspan="2">{_player(folder / "mixture.wav", outputs, f"{name}: mixture")}'
            "</td><td></td></tr>\n"]
    for target in (t for t in STEMS if t in result.global_sdr or t in result.museval_sdr):
        score = result.global_sdr.get(target, result.museval_sdr.get(target))
        rows.append(f"<tr><th>{target}</th>"
                    f'<td>{_player(predictions / f"{target}.wav", outputs, f"{name}: {target} estimate")}</td>'
                    f'<td>{_player(folder / f"{target}.wav", outputs, f"{name}: {target} reference")}</td>'
                    f"{_num_cell(score)}</tr>\n")
    metric = "global SDR (dB)" if result.global_sdr else "museval SDR (dB)"
    return (f'<section id="track-{index}"><h3>{html.escape(name)}</h3><table class="players"><thead><tr><th></th>'
            f'<th>estimate</th><th>reference</th><th class="num">{metric}</th></tr></thead>'
            f'<tbody>\n{"".join(rows)}</tbody></table></section>\n')


def render(results: Sequence[TrackResult], outputs: Path, dataset: Path,
           rows: Sequence[tuple[str, float | None, float | None]], official: Mapping[str, float],
           plots: Sequence[Path]) -> str:
    """The page for ``results`` written into ``outputs`` from the tracks of ``dataset``.

    ``rows`` are the summary rows ``(target, global SDR, museval SDR)`` and ``official`` the leaderboard's
    figures (``mean_sdr``), both as ``evaluator.report`` aggregates them; ``plots`` are image files to show.
    """
    if not results:
        raise ValueError("render needs at least one track result")
    outputs, dataset = Path(outputs), Path(dataset)
    model = results[0].run.get("model", "a model")
    images = "".join(f'<p><img src="{html.escape(link(p, outputs))}" alt="{html.escape(p.name)}"></p>\n'
                     for p in plots)
    players = "".join(_track_players(i, r, outputs, dataset) for i, r in enumerate(results))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation of {html.escape(model)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Evaluation of {html.escape(model)}</h1>
<p class="muted">{len(results)} tracks; written {html.escape(time.strftime("%Y-%m-%d %H:%M:%S %Z"))}.
Global SDR is the leaderboard's metric (10 log10 of reference energy over error energy, whole track);
museval SDR is the SiSEC 2018 metric (median of 1 s windows).</p>
{_run_description(results, dataset)}
<h2>Summary</h2>
{_summary_table(rows, official)}
<h2>Per track</h2>
{_track_table(results)}
<h2>Plots</h2>
{images}
<h2>Listen</h2>
<p class="muted">Estimates from predictions/, mixtures and references from the data folder.</p>
{players}
</body>
</html>
"""


def write_html_report(results: Sequence[TrackResult], path: Path, dataset: Path,
                      rows: Sequence[tuple[str, float | None, float | None]], official: Mapping[str, float],
                      plots: Sequence[Path]) -> Path:
    """Write ``render(...)`` to ``path`` (in the outputs folder) atomically; returns ``path``."""
    path = Path(path)
    return write_text(path, render(results, path.parent, dataset, rows, official, plots))
