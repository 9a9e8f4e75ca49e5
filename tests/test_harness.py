"""The evaluation harness and evaluate_locally.py, on small generated datasets."""

from __future__ import annotations

import csv
import gc
import json
import mmap
import os

import numpy as np
import pytest
import soundfile as sf

import evaluate_locally
from evaluator import global_sdr
from evaluator.harness import PeakMemory, TrackResult, evaluate
from evaluator.metrics import chunk_sdr
from evaluator.report import markdown_table, official_lines, summary, write_reports
from evaluator.tracks import STEMS, TrackError, find_tracks
from my_submission.identity_model import IdentityModel
from tests.conftest import write_noise_dataset

IDENTITY = "my_submission.identity_model.IdentityModel"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_noise_dataset(root, n_tracks=2, seconds=2.0, seed=7)
    (root / ".DS_Store").write_text("junk")
    (root / "notes.txt").write_text("a stray file")
    return root


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("AICROWD_DATASET_DIR", raising=False)
    monkeypatch.delenv("AICROWD_PUBLIC_SHARED_DIR", raising=False)


def test_identity_scores_are_the_mixture_against_each_stem(dataset, tmp_path):
    tracks = find_tracks(dataset)
    assert [t.name for t in tracks] == ["song-0000", "song-0001"]
    results = evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, progress=False)
    for track, result in zip(tracks, results):
        mixture = track.read("mixture")
        references = np.stack([track.read(s) for s in STEMS])
        expected_museval = chunk_sdr(references, np.stack([mixture] * 4), track.sample_rate, track.sample_rate,
                                     backend="fast")
        for i, stem in enumerate(STEMS):
            assert result.global_sdr[stem] == pytest.approx(global_sdr(references[i], mixture), abs=1e-4)
            assert result.museval_sdr[stem] == pytest.approx(expected_museval[i], abs=1e-4)
            written, rate = sf.read(tmp_path / "predictions" / track.name / f"{stem}.wav")
            assert rate == track.sample_rate and sf.info(tmp_path / "predictions" / track.name / f"{stem}.wav"
                                                           ).subtype == "PCM_16"
        assert result.seconds > 0 and not result.over_time and result.peak_rss_mb > 0
        saved = json.loads((tmp_path / "scores" / f"{track.name}.json").read_text())
        assert TrackResult.from_dict(saved) == result and saved["realtime_factor"] == result.realtime_factor


def test_rerun_skips_scored_tracks_unless_forced_or_changed(dataset, tmp_path):
    tracks = find_tracks(dataset)
    first = evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)

    def no_model():
        raise AssertionError("the model should not be built when every track is already scored")

    assert evaluate(tracks, tmp_path, no_model, {"model": IDENTITY}, metric="global", progress=False) == first
    built = []

    def counted():
        built.append(1)
        return IdentityModel()

    forced = evaluate(tracks, tmp_path, counted, {"model": IDENTITY}, metric="global", force=True, progress=False)
    assert built == [1] and [r.global_sdr for r in forced] == [r.global_sdr for r in first]
    changed = evaluate(tracks[:1], tmp_path, counted, {"model": IDENTITY, "settings": {"hop": 1.0}},
                       metric="global", progress=False)  # other settings: the stored scores are not reused
    assert built == [1, 1] and changed[0].run["settings"] == {"hop": 1.0}


@pytest.mark.parametrize("stored", ["{not json", '{"track": "song-0000"}', "[]", '{"track": "x", "duration": "?"}'])
def test_a_stored_score_that_cannot_be_read_back_is_measured_again(dataset, tmp_path, stored):
    tracks = find_tracks(dataset)[:1]
    first = evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    scores = tmp_path / "scores" / "song-0000.json"
    scores.write_text(stored)  # damaged, or written by another version of the kit
    again = evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    assert not again[0].cached and again[0].global_sdr == first[0].global_sdr
    assert json.loads(scores.read_text())["global_sdr"] == first[0].global_sdr
    complete = json.loads(scores.read_text())
    scores.write_text(json.dumps({**complete, "run": "x"}))  # every field, but no run to compare
    assert not evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)[0].cached


def test_time_limit_targets_and_metric_choice(dataset, tmp_path):
    tracks = find_tracks(dataset)[:1]
    results = evaluate(tracks, tmp_path, IdentityModel, {"model": IDENTITY}, targets=["vocals", "bass"],
                       metric="museval", time_factor=0.0, progress=False)
    assert results[0].over_time and results[0].time_limit == 0
    assert set(results[0].museval_sdr) == {"vocals", "bass"} and results[0].global_sdr == {}
    with pytest.raises(ValueError, match="metric"):
        evaluate(tracks, tmp_path, IdentityModel, {}, metric="sisec")
    with pytest.raises(ValueError, match="targets"):
        evaluate(tracks, tmp_path, IdentityModel, {}, targets=["piano"])


def test_museval_backend_in_the_harness(dataset, tmp_path):
    tracks = find_tracks(dataset)[:1]
    fast = evaluate(tracks, tmp_path / "fast", IdentityModel, {}, metric="museval", progress=False)
    slow = evaluate(tracks, tmp_path / "slow", IdentityModel, {}, metric="museval", chunk_backend="museval",
                    progress=False)
    for stem in STEMS:
        assert fast[0].museval_sdr[stem] == pytest.approx(slow[0].museval_sdr[stem], abs=1e-3)


def _result(name: str, g: dict, m: dict, seconds: float = 1.0) -> TrackResult:
    return TrackResult(name, 10.0, seconds, 15.7, 100.0, 10.0, g, m, {"model": "x"})


def test_reports(tmp_path):
    results = [_result("a", dict(vocals=1, bass=2, drums=3, other=4), dict(vocals=1, bass=2, drums=3, other=4)),
               _result("b", dict(vocals=3, bass=4, drums=5, other=6), dict(vocals=3, bass=4, drums=5, other=np.nan)),
               _result("c", dict(vocals=5, bass=0, drums=1, other=2), dict(vocals=9, bass=0, drums=1, other=8), 20)]
    assert summary(results) == pytest.approx(dict(sdr_bass=2, sdr_drums=3, sdr_other=4, sdr_vocals=3, mean_sdr=3))
    assert official_lines(results).splitlines() == ["sdr_bass : 2.000", "sdr_drums : 3.000", "sdr_other : 4.000",
                                                    "sdr_vocals : 3.000", "mean_sdr : 3.000"]
    table = markdown_table(results).splitlines()
    assert [row.split("|")[1].strip() for row in table[2:]] == ["vocals", "bass", "drums", "other", "all sources"]
    # global: mean over tracks; museval: median over tracks (NaN left out); all sources: mean of the rows
    assert [float(row.split("|")[2]) for row in table[2:]] == [3, 2, 3, 4, 3]
    assert [float(row.split("|")[3]) for row in table[2:]] == [3, 2, 3, 6, 3.5]
    paths = write_reports(results, tmp_path, tmp_path / "no-data")  # report.html: players say the files are missing
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["track"] for r in rows] == ["a", "b", "c"] and rows[2]["over_time"] == "True"
    assert float(rows[1]["global_other"]) == 6
    assert "over the time limit: 1 (c)" in paths["markdown"].read_text()
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporary files


def test_peak_memory_sees_a_large_allocation():
    gc.collect()  # memory other tests left for the collector must not be freed inside the block and mask the peak
    with PeakMemory() as memory:
        # 100 MB of new pages, touched: a margin over the 40 MB asked for. Mapped directly, because malloc may
        # serve a large block from memory it kept (models.allocator, applied by the submissions other tests build)
        block = mmap.mmap(-1, 100_000_000)
        np.frombuffer(block, dtype=np.uint8)[::mmap.PAGESIZE] = 1
        block.close()
    assert memory.peak > 0 and memory.growth > 40


def test_bad_track_folders_are_named(tmp_path):
    root = tmp_path / "data"
    write_noise_dataset(root, n_tracks=1, seconds=1.0, seed=1)
    (root / "song-0000" / "drums.wav").unlink()
    with pytest.raises(TrackError, match="song-0000 lacks drums.wav"):
        evaluate_locally.main(["--data", str(root), "--outputs", str(tmp_path / "out"), "--model", IDENTITY])


def test_evaluate_locally_end_to_end(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate_locally.main(["--data", str(dataset), "--outputs", str(out), "--model", IDENTITY,
                                  "--limit", "1", "--window", "1.0", "--hop", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert [line.split(" : ")[0] for line in printed.strip().splitlines()[-5:]] == \
        ["sdr_bass", "sdr_drums", "sdr_other", "sdr_vocals", "mean_sdr"]
    assert "| all sources |" in printed
    saved = json.loads((out / "scores" / "song-0000.json").read_text())
    assert saved["run"]["settings"]["window"] == 1.0 and saved["run"]["model"] == IDENTITY
    assert sorted(p.name for p in out.iterdir()) == ["predictions", "report.html", "results.csv", "results.md",
                                                     "scores", "scores.txt", "sdr_per_track.png"]


def test_without_weights_falls_back_to_identity(tmp_path, capsys):
    cls, name, _ = evaluate_locally.resolve_model(None, tmp_path / "empty")
    assert cls is IdentityModel and name == IDENTITY
    assert "NO BUNDLED WEIGHTS" in capsys.readouterr().err


def test_default_data_official_folder_then_embedded_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluate_locally, "DEFAULT_TEST_SET_DIR", tmp_path / "cache" / "default-testset")
    import render

    monkeypatch.setattr(render, "DEFAULT_TEST_SET", dict(n_tracks=2, duration=1.0, seed=3))
    embedded = evaluate_locally.resolve_data(None)
    assert embedded == tmp_path / "cache" / "default-testset"
    assert [t.name for t in find_tracks(embedded)] == ["song-0000", "song-0001"]
    official = tmp_path / "public_dataset" / "MUSDB18-7-WAV" / "test"
    official.mkdir(parents=True)
    assert evaluate_locally.resolve_data(None) == evaluate_locally.OFFICIAL_DATA
    assert evaluate_locally.resolve_data(tmp_path / "mine") == tmp_path / "mine"


def test_a_vocals_only_weights_folder_is_evaluated_with_the_fallback(dataset, tmp_path, capsys):
    import torch

    from models import BSRNNConfig, build_model, save_model

    weights = tmp_path / "weights"
    torch.manual_seed(0)
    config = BSRNNConfig(targets=["vocals"], feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])
    save_model(build_model(config), weights / "vocals.safetensors")
    out = tmp_path / "out"
    flags = ["--data", str(dataset), "--outputs", str(out), "--weights", str(weights), "--limit", "1",
             "--window", "1.0", "--hop", "1.0", "--metric", "global"]
    assert evaluate_locally.main(flags) == 0
    printed = capsys.readouterr().out
    assert "bass, drums, other: fallback (the residual" in printed and "vocals: network (vocals.safetensors)" in printed
    saved = json.loads((out / "scores" / "song-0000.json").read_text())
    assert saved["run"]["sources"]["vocals"] == "vocals.safetensors" and saved["run"]["sources"]["bass"] == "fallback"
    assert sorted(saved["global_sdr"]) == sorted(STEMS)
    assert "- sources: bass, drums, other: fallback" in (out / "results.md").read_text()
    assert "vocals: network (vocals.safetensors)" in (out / "report.html").read_text()
    assert evaluate_locally.main([*flags, "--targets", "vocals", "--outputs", str(tmp_path / "vocals")]) == 0
    saved = json.loads((tmp_path / "vocals" / "scores" / "song-0000.json").read_text())
    assert list(saved["global_sdr"]) == ["vocals"]
def test_scores_are_not_reused_across_data_folders_or_changed_tracks(tmp_path, capsys):
    a, b = tmp_path / "A", tmp_path / "B"
    write_noise_dataset(a, n_tracks=2, seconds=1.0, seed=1)
    write_noise_dataset(b, n_tracks=2, seconds=1.0, seed=2)  # the same track names, other audio
    out = tmp_path / "out"
    first = evaluate(find_tracks(a), out, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    assert "reused the stored" not in capsys.readouterr().out
    other = evaluate(find_tracks(b), out, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    assert [r.global_sdr for r in other] != [r.global_sdr for r in first]
    assert "reused the stored" not in capsys.readouterr().out
    again = evaluate(find_tracks(b), out, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    assert again == other
    printed = capsys.readouterr().out
    assert "reused the stored scores and timings of 2 of 2 tracks" in printed
    assert f"song-0000: scored {other[0].scored_at}" in printed and other[0].scored_at
    # a track shortened in place (same name, same folder): scored again, with its new duration
    track = b / "song-0001"
    for stem in (*STEMS, "mixture"):
        audio, rate = sf.read(track / f"{stem}.wav")
        sf.write(track / f"{stem}.wav", audio[: rate // 2], rate)
    shortened = evaluate(find_tracks(b), out, IdentityModel, {"model": IDENTITY}, metric="global", progress=False)
    assert shortened[0] == other[0] and shortened[1].duration == pytest.approx(0.5)
    assert "1 of 2 tracks" in capsys.readouterr().out


def test_scores_are_not_reused_with_other_weights(dataset, tmp_path, capsys):
    from models import BSRNNConfig, build_model, save_model

    weights = tmp_path / "weights"
    tiny = dict(feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])
    config = BSRNNConfig(targets=list(STEMS), **tiny)
    save_model(build_model(config), weights / "all.safetensors")
    out = tmp_path / "out"
    args = ["--data", str(dataset), "--outputs", str(out), "--model", "my_submission.bsrnn_model.BSRNNModel",
            "--weights", str(weights), "--limit", "1", "--metric", "global", "--window", "0.5", "--hop", "0.5"]
    evaluate_locally.main(args)
    first = json.loads((out / "scores" / "song-0000.json").read_text())
    evaluate_locally.main(args)
    printed = capsys.readouterr().out
    assert "reused the stored scores" in printed and f"BSRNNModel (weights: {weights}) on 1 tracks" in printed
    stat = (weights / "all.safetensors").stat()
    save_model(build_model(config), weights / "all.safetensors")  # other weights, same size and time
    os.utime(weights / "all.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    evaluate_locally.main(args)
    printed = capsys.readouterr().out
    assert "reused the stored" not in printed
    assert f"replacing the results stored in {out} by an earlier run (my_submission.bsrnn_model.BSRNNModel; " \
           "changed: weights); pass --outputs DIR to keep both" in printed
    second = json.loads((out / "scores" / "song-0000.json").read_text())
    assert second["global_sdr"] != first["global_sdr"] and second["run"]["weights"] != first["run"]["weights"]
    evaluate_locally.main([*args, "--time-factor", "3"])  # every setting is part of the key
    printed = capsys.readouterr().out
    assert "reused the stored" not in printed and "changed: time_factor);" in printed
