"""train.pack: a dataset packed as Opus stems and unpacked back to WAV; bad input named in one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluator.tracks import STEMS, find_tracks
from tests.conftest import tone_stems, write_noise_dataset

REPO = Path(__file__).resolve().parents[1]


def pack_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.pack", *args], cwd=REPO, capture_output=True, text=True)


def test_a_folder_without_tracks_is_one_line(tmp_path):
    (tmp_path / "data" / "not-a-track").mkdir(parents=True)
    done = pack_command("pack", str(tmp_path / "data"), str(tmp_path / "packed"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("python -m train.pack: track folder") and "not-a-track" in done.stderr


def test_a_damaged_frames_file_is_named(tmp_path):
    (tmp_path / "packed" / "song").mkdir(parents=True)
    (tmp_path / "packed" / "song" / "frames.txt").write_text("garbage\n")
    done = pack_command("unpack", str(tmp_path / "packed"), str(tmp_path / "data"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "song/frames.txt" in done.stderr and "'<frames> <sample rate>'" in done.stderr
    assert not (tmp_path / "data" / "song").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="packing needs ffmpeg")
def test_pack_then_unpack_gives_the_track_back_at_half_level(tmp_path):
    from render import write_track
    from train.pack import pack, unpack

    rate = 44100
    stems = tone_stems(rate // 2, rate)
    write_track(tmp_path / "data" / "song", stems, rate)
    write_noise_dataset(tmp_path / "data", n_tracks=1, seconds=0.5)
    assert pack(tmp_path / "data", tmp_path / "packed", kbps=64) == 2
    assert unpack(tmp_path / "packed", tmp_path / "back") == 2
    track = find_tracks(tmp_path / "back")[0]
    assert (track.name, track.sample_rate, track.frames) == ("song", rate, rate // 2)
    back = {s: track.read(s) for s in STEMS}
    np.testing.assert_array_equal(track.read("mixture"), sum(back.values()))  # the exact sum of the 16-bit stems
    for stem in STEMS:
        original = stems[stem]
        error = back[stem] - 0.5 * original  # unpacked at -6 dB, so that the sum fits
        assert np.sqrt(np.mean(error[2000:-2000] ** 2)) < 0.05 * np.sqrt(np.mean(original ** 2))
