"""Source activity detection (train/sad.py) on signals with known silent parts, and its index cache."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from evaluator.tracks import open_track
from train.sad import SADParams, active_segments, build_sad_index, chunk_levels

RATE = 8000  # SAD only looks at levels; a low rate keeps the signals small


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal((round(seconds * RATE), 2))).astype(np.float32)


def seconds(starts: np.ndarray) -> list[float]:
    return [s / RATE for s in starts]


def test_chunk_levels_are_rms_over_samples_and_channels():
    audio = np.zeros((100, 2), dtype=np.float32)
    audio[:50, 0] = 0.5  # chunk 0: half of its values at 0.5 -> RMS 0.5 / sqrt(2)
    audio[50:, :] = -0.25
    np.testing.assert_allclose(chunk_levels(audio, 50), [0.5 / np.sqrt(2), 0.25], rtol=1e-6)
    assert len(chunk_levels(audio, 40)) == 2  # the partial last chunk is ignored


def test_segments_inside_a_silent_stretch_are_dropped():
    """30 s with seconds 6-18 silent: 6 s segments every 3 s; a segment needs more than 5 of 10 active chunks."""
    audio = noise(30, 0.1)
    audio[6 * RATE:18 * RATE] = 0
    kept = seconds(active_segments(audio, RATE))
    # 3-9 and 15-21 have exactly half their chunks active: not more than half, dropped
    assert kept == [0, 18, 21, 24]


def test_a_fully_active_stem_keeps_every_segment():
    kept = seconds(active_segments(noise(30, 0.1), RATE))
    assert kept == [0, 3, 6, 9, 12, 15, 18, 21, 24]


def test_a_quiet_but_active_stem_is_kept_by_the_relative_threshold():
    """-50 dBFS noise is above the 1e-3 floor; the threshold follows its own level, so it is all kept."""
    assert len(active_segments(noise(30, 3e-3), RATE)) == 9


def test_a_stem_under_the_floor_keeps_nothing():
    assert len(active_segments(noise(30, 5e-4), RATE)) == 0


def test_silent_chunks_do_not_lower_the_quantile():
    """0-12 s digital silence, 12-18 s quiet (12.5 % of the sounding chunks), 18-60 s loud.

    The 15 % quantile of the sounding chunks lies in the loud part, so the quiet-only segment is dropped; had the
    silent chunks counted, the quantile would be 0 and the 1e-3 floor would keep it."""
    audio = noise(60, 0.1)
    audio[:12 * RATE] = 0
    audio[12 * RATE:18 * RATE] *= 0.05  # RMS 5e-3, above the floor
    # with the floor alone, 12-18 and 15-21 (5 quiet + 5 loud chunks) would be kept too
    assert seconds(active_segments(audio, RATE)) == [18 + 3 * k for k in range(13)]


def test_all_silent_and_too_short_stems_keep_nothing():
    assert len(active_segments(np.zeros((30 * RATE, 2), dtype=np.float32), RATE)) == 0
    assert len(active_segments(noise(5.9, 0.1), RATE)) == 0
    assert seconds(active_segments(noise(6, 0.1), RATE)) == [0]


def test_params_are_checked_and_change_the_grid():
    with pytest.raises(ValueError, match="overlap"):
        SADParams(overlap=1.0)
    with pytest.raises(ValueError, match="chunks"):
        SADParams(chunks=0)
    kept = seconds(active_segments(noise(12, 0.1), RATE, SADParams(segment_seconds=4.0, overlap=0.0, chunks=8)))
    assert kept == [0, 4, 8]


def write_track(folder, stems):
    folder.mkdir(parents=True)
    for name, audio in stems.items():
        sf.write(folder / f"{name}.wav", audio, RATE, subtype="FLOAT")
    return open_track(folder, require_mixture=False)


def test_index_is_cached_and_refreshed_when_a_file_changes(tmp_path):
    silent_vocals = noise(30, 0.1, seed=1)
    silent_vocals[6 * RATE:18 * RATE] = 0
    track = write_track(tmp_path / "a", {"bass": noise(30, 0.1), "drums": noise(30, 0.1, 2),
                                         "other": noise(30, 0.1, 3), "vocals": silent_vocals})
    cache = tmp_path / "cache" / "sad.json"
    loads = []

    def load(i, stem):
        loads.append(stem)
        return track.read(stem)

    index = build_sad_index([track], ["bass", "vocals"], cache, load=load)
    assert sorted(loads) == ["bass", "vocals"]
    assert seconds(index.starts[0]["vocals"]) == [0, 18, 21, 24]
    assert index.segment_frames == 6 * RATE
    data = json.loads(cache.read_text())
    assert len(data["entries"]) == 2 and data["params"]["quantile"] == 0.15
    assert not [p for p in cache.parent.iterdir() if p.name != "sad.json"]  # no temporary file left behind

    loads.clear()
    again = build_sad_index([track], ["bass", "vocals"], cache, load=load)
    assert loads == []
    np.testing.assert_array_equal(again.starts[0]["vocals"], index.starts[0]["vocals"])

    # rewriting a stem (new size or mtime) invalidates only its entry
    sf.write(track.stem_path("vocals"), noise(30, 0.1, seed=4), RATE, subtype="FLOAT")
    os.utime(track.stem_path("vocals"), ns=(1, 1))
    refreshed = build_sad_index([track], ["bass", "vocals"], cache, load=load)
    assert loads == ["vocals"]
    assert len(refreshed.starts[0]["vocals"]) == 9

    # other SAD settings ignore the cached entries
    loads.clear()
    build_sad_index([track], ["bass"], cache, SADParams(quantile=0.5), load=load)
    assert loads == ["bass"]


def test_a_damaged_cache_is_recomputed(tmp_path):
    track = write_track(tmp_path / "a", {s: noise(12, 0.1) for s in ("bass", "drums", "other", "vocals")})
    cache = tmp_path / "sad.json"
    cache.write_text("{not json")
    index = build_sad_index([track], ["vocals"], cache)
    assert seconds(index.starts[0]["vocals"]) == [0, 3, 6]
    assert json.loads(cache.read_text())["entries"]
