"""report.html: its figures against results.csv and the JSON scores, its links, its players, its escaping."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import statistics
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import noise_stems

import evaluate_locally
from evaluator import html_report
from evaluator.harness import TrackResult
from evaluator.report import TABLE_ORDER, write_reports
from evaluator.tracks import STEMS
from tests.conftest import write_noise_dataset

IDENTITY = "my_submission.identity_model.IdentityModel"
ODD_NAME = "A & B <live>"


class Page(HTMLParser):
    """What the tests look at: audio and image tags (with their ``<section>``), tables by id, headings, text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.audio: list[tuple[str | None, dict]] = []
        self.images: list[dict] = []
        self.tables: dict[str | None, list[list[str]]] = {}
        self.headings: list[str] = []
        self.section_text: dict[str | None, str] = {}
        self._section = self._table = self._cell = self._heading = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self._section = attrs.get("id")
        elif tag == "audio":
            self.audio.append((self._section, attrs))
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self._table = attrs.get("id")
            self.tables.setdefault(self._table, [])
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h3":
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h3":
            self.headings.append("".join(self._heading))
            self._heading = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        for part in (self._cell, self._heading):
            if part is not None:
                part.append(data)
        self.section_text[self._section] = self.section_text.get(self._section, "") + data


def _resolve(src: str, page: Path) -> Path:
    """Where a browser showing ``page`` finds ``src`` (a relative URL, percent-encoded)."""
    assert "://" not in src and not src.startswith("/"), f"{src} is not relative"
    return (page.parent / urllib.parse.unquote(src)).resolve()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Three 2.5 s synthetic tracks, one renamed ``A & B <live>``, evaluated with the identity model by the CLI.

    Three tracks, so a median differs from a mean; over 1 s, so museval SDR (1 s windows) differs from global SDR.
    """
    root = tmp_path_factory.mktemp("html")
    data = root / "data"
    write_noise_dataset(data, n_tracks=3, seconds=2.5, seed=11)
    (data / "song-0001").rename(data / ODD_NAME)
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AICROWD_DATASET_DIR", raising=False)
        mp.delenv("AICROWD_PUBLIC_SHARED_DIR", raising=False)
        assert evaluate_locally.main(["--data", str(data), "--outputs", str(out), "--model", IDENTITY]) == 0
    return data, out


def _numbers(cells: list[str]) -> list[float]:
    return [float(c) for c in cells]


def test_summary_table_equals_the_aggregates_of_results_csv(evaluated):
    _, out = evaluated
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 3
    expected = {t: (statistics.mean(float(r[f"global_{t}"]) for r in rows),
                    statistics.median(float(r[f"museval_{t}"]) for r in rows)) for t in TABLE_ORDER}
    expected["all sources"] = tuple(statistics.mean(v[i] for v in expected.values()) for i in (0, 1))
    mean_sdr = statistics.mean(statistics.mean(float(r[f"global_{t}"]) for t in STEMS) for r in rows)
    assert f"mean_sdr : {mean_sdr:.3f}" in (out / "scores.txt").read_text()

    table = {row[0]: row[1:] for row in Page((out / "report.html").read_text()).tables["summary"][1:]}
    assert list(table) == [*TABLE_ORDER, "all sources", "mean_sdr (official)"]
    for name, (g, m) in expected.items():
        assert _numbers(table[name]) == pytest.approx([g, m], abs=5.1e-4), name
    assert float(table["mean_sdr (official)"][0]) == pytest.approx(mean_sdr, abs=5.1e-4)


def test_per_track_table_equals_the_json_scores(evaluated):
    data, out = evaluated
    page = Page((out / "report.html").read_text())
    rows = page.tables["tracks"][2:]  # two header rows
    assert [r[0] for r in rows] == sorted(p.name for p in data.iterdir() if p.is_dir())
    for row in rows:
        saved = json.loads((out / "scores" / f"{row[0]}.json").read_text())
        global_sdr, museval_sdr = saved["global_sdr"], saved["museval_sdr"]
        expected = [saved["duration"], *[global_sdr[t] for t in STEMS], np.mean(list(global_sdr.values())),
                    *[museval_sdr[t] for t in STEMS], saved["seconds"], saved["realtime_factor"]]
        shown = _numbers(row[1:-2])  # then peak memory and flags
        assert shown == pytest.approx(expected, abs=5.1e-3), row[0]
        assert row[-1] == ""  # not over the time limit
    assert "model" in page.section_text[None] and IDENTITY in page.section_text[None]
    assert str(data) in page.section_text[None]


def test_every_player_and_image_resolves_and_each_track_has_its_players(evaluated):
    data, out = evaluated
    page_path = out / "report.html"
    page = Page(page_path.read_text())
    assert [_resolve(img["src"], page_path) for img in page.images] == [(out / "sdr_per_track.png").resolve()]
    by_section: dict[str, set[Path]] = {}
    for section, attrs in page.audio:
        assert "controls" in attrs and attrs["preload"] == "none"
        path = _resolve(attrs["src"], page_path)
        assert path.is_file(), attrs["src"]
        by_section.setdefault(section, set()).add(path)
    tracks = sorted(p.name for p in data.iterdir() if p.is_dir())
    assert len(page.audio) == len(tracks) * (1 + 2 * len(STEMS))  # no duplicates
    assert page.headings == tracks
    for i, track in enumerate(tracks):
        expected = {(data / track / "mixture.wav").resolve()}
        expected |= {(out / "predictions" / track / f"{t}.wav").resolve() for t in STEMS}
        expected |= {(data / track / f"{t}.wav").resolve() for t in STEMS}
        assert by_section[f"track-{i}"] == expected


def test_special_characters_in_track_names_are_escaped(evaluated):
    _, out = evaluated
    text = (out / "report.html").read_text()
    assert ODD_NAME not in text and "A &amp; B &lt;live&gt;" in text
    page = Page(text)
    assert ODD_NAME in page.headings and "live" not in page.tags
    assert ODD_NAME in [row[0] for row in page.tables["tracks"]]


def test_a_run_that_reuses_every_score_rewrites_the_report(evaluated, capsys):
    data, out = evaluated
    scored = {p: p.stat().st_mtime_ns for p in (out / "scores").iterdir()}
    (out / "report.html").unlink()
    assert evaluate_locally.main(["--data", str(data), "--outputs", str(out), "--model", IDENTITY]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "scores").iterdir()} == scored  # nothing re-run
    assert f"html report: {out / 'report.html'}" in capsys.readouterr().out
    assert Page((out / "report.html").read_text()).headings == [ODD_NAME, "song-0000", "song-0002"]
    assert not list(out.glob(".*"))  # written atomically: no temporary file left


def test_missing_mixture_and_the_time_flag(tmp_path, make_track_folder):
    """A track stored as stems only is named instead of played; a slow track is flagged, in both tables."""
    data, out = tmp_path / "data", tmp_path / "out"
    for name in ("fast", "slow"):
        stems = noise_stems(4410, seed=len(name))
        make_track_folder(data / name, stems, 44100, mixture=name == "fast")
        for stem, audio in stems.items():
            (out / "predictions" / name).mkdir(parents=True, exist_ok=True)
            sf.write(out / "predictions" / name / f"{stem}.wav", audio, 44100)
    scores = {t: float(i) for i, t in enumerate(STEMS)}
    fast = TrackResult("fast", 0.1, 0.05, 0.157, 100.0, 1.0, scores, {}, {"model": "m", "metric": "global"})
    slow = dataclasses.replace(fast, track="slow", seconds=0.3)
    write_reports([fast, slow], out, data)
    page = Page((out / "report.html").read_text())
    assert page.tables["tracks"][2][-1] == "" and "over the time limit" in page.tables["tracks"][3][-1]
    assert "over the time limit1: slow" in page.section_text[None]
    assert len(page.tables["tracks"][2]) == 2 + len(STEMS) + 1 + 4  # global only: no museval columns
    missing = page.section_text["track-1"]
    assert f"no {data / 'slow' / 'mixture.wav'}" in missing
    assert len([s for s, _ in page.audio if s == "track-1"]) == 2 * len(STEMS)
    assert len([s for s, _ in page.audio if s == "track-0"]) == 1 + 2 * len(STEMS)
    for _, attrs in page.audio:
        assert _resolve(attrs["src"], out / "report.html").is_file()


def test_link_is_relative_and_percent_encoded_else_a_file_uri(tmp_path, monkeypatch):
    target = tmp_path / "data" / ODD_NAME / "mixture.wav"
    assert html_report.link(target, tmp_path / "out") == "../data/A%20%26%20B%20%3Clive%3E/mixture.wav"

    def no_relative_path(path, start):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(os.path, "relpath", no_relative_path)
    uri = html_report.link(target, tmp_path / "out")
    assert uri == target.as_uri() and uri.startswith("file://")
