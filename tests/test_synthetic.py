"""The synthetic dataset generator: determinism, exact 16-bit files, the dataset cache, and stems that sound like
their class (measured with FFTs on a few seeds)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
import soundfile as sf

from evaluator import synthetic
from evaluator.synthetic import (
    ensure_dataset,
    main,
    synthesize_track,
    track_seed,
    write_dataset,
    write_track,
)
from evaluator.tracks import STEMS, find_tracks

SR = 44100
CLASS_SEEDS = (1, 2, 3)  # properties hold per seed; three songs keep this under ~2 s
CLASS_SECONDS = 8.0


@pytest.fixture(scope="module")
def songs() -> list[dict[str, np.ndarray]]:
    return [synthesize_track(seed, CLASS_SECONDS) for seed in CLASS_SEEDS]


def power_spectrum(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) of the mid channel."""
    mid = stereo.astype(np.float64).mean(axis=1)
    return np.fft.rfftfreq(len(mid), 1 / SR), np.abs(np.fft.rfft(mid)) ** 2


def band_fraction(stereo: np.ndarray, low: float, high: float) -> float:
    freqs, power = power_spectrum(stereo)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


def frame_energy_db(mono: np.ndarray, frame: int) -> np.ndarray:
    """Energy per frame in dB relative to the loudest frame."""
    count = len(mono) // frame
    energy = (mono[:count * frame].astype(np.float64).reshape(count, frame) ** 2).mean(axis=1)
    return 10 * np.log10(energy / energy.max() + 1e-12)


def high_band(stereo: np.ndarray, cutoff: float) -> np.ndarray:
    """The mid channel with everything below ``cutoff`` Hz removed (FFT mask)."""
    mid = stereo.astype(np.float64).mean(axis=1)
    spectrum = np.fft.rfft(mid)
    spectrum[np.fft.rfftfreq(len(mid), 1 / SR) < cutoff] = 0
    return np.fft.irfft(spectrum, len(mid))


def envelope_motion(stereo: np.ndarray, frame: int = 4096) -> float:
    """How much the spectral envelope moves between voiced frames, in dB, independently of the pitch.

    Per frame: f0 from the autocorrelation, the harmonics' levels read from the spectrum and interpolated
    on a fixed 300 Hz-3 kHz grid (mean removed); the result is the grid's mean standard deviation over frames.
    A fixed vowel sung at changing pitches scores about 1.5 dB; vowels changing per syllable 3-4 dB.
    """
    mono = stereo.astype(np.float64).mean(axis=1)
    frames = mono[: len(mono) // frame * frame].reshape(-1, frame)
    frames = frames[frame_energy_db(mono, frame) > -15] * np.hanning(frame)
    grid = np.geomspace(300, 3000, 16)
    lags = np.arange(SR // 800, SR // 90)
    envelopes = []
    for x in frames:
        spectrum = np.abs(np.fft.rfft(x))
        f0 = SR / lags[np.argmax(np.fft.irfft(np.abs(np.fft.rfft(x, 2 * frame)) ** 2)[lags])]
        harmonics = f0 * np.arange(1, int(3500 / f0) + 1)
        bins = np.round(harmonics * frame / SR).astype(int)
        half = np.maximum(1, np.round(0.03 * bins)).astype(int)
        levels = 20 * np.log10([spectrum[b - h:b + h + 1].max() + 1e-12 for b, h in zip(bins, half)])
        envelope = np.interp(grid, harmonics, levels)
        envelopes.append(envelope - envelope.mean())
    return float(np.mean(np.std(envelopes, axis=0)))


def onsets_per_second(mono: np.ndarray, rise_db: float) -> float:
    """Sharp attacks: 5 ms frames at least ``rise_db`` louder than the frame 10 ms earlier (and not too quiet)."""
    db = frame_energy_db(mono, SR // 200)
    rises = (db[2:] - db[:-2] > rise_db) & (db[2:] > -40)
    starts = rises & ~np.concatenate([[False], rises[:-1]])
    return starts.sum() / (len(mono) / SR)


# -------------------------------------------------------------------------------------------- arrays and files


def test_track_shapes_dtype_grid_and_headroom():
    stems = synthesize_track(7, 1.3)
    assert list(stems) == list(STEMS)
    mixture = sum(stems.values())
    for name, audio in stems.items():
        assert audio.shape == (round(1.3 * SR), 2) and audio.dtype == np.float32, name
        assert np.array_equal(audio * 32768, np.round(audio * 32768)), f"{name} is not on the 16-bit grid"
        assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 1e-3, f"{name} is silent"
    assert 0.3 < np.max(np.abs(mixture)) < 0.9 + 4 / 32768
    assert synthesize_track(7, 0.25, sample_rate=22050)["vocals"].shape == (round(0.25 * 22050), 2)


def test_same_seed_same_audio_other_seed_other_audio():
    first, again, other = synthesize_track(11, 2.0), synthesize_track(11, 2.0), synthesize_track(12, 2.0)
    for name in STEMS:
        assert np.array_equal(first[name], again[name]), name
        assert not np.array_equal(first[name], other[name]), name
    assert track_seed(0, 1) != track_seed(0, 2) and track_seed(0, 1) != track_seed(1, 1)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="duration"):
        synthesize_track(0, 0.0)
    with pytest.raises(ValueError, match="sample_rate"):
        synthesize_track(0, 1.0, sample_rate=8000)
    with pytest.raises(ValueError, match="seed"):
        synthesize_track(-1, 1.0)
    stems = synthesize_track(0, 0.2)
    with pytest.raises(ValueError, match="keys"):
        write_track("unused", {k: v for k, v in stems.items() if k != "drums"}, SR)
    with pytest.raises(ValueError, match="peaks"):
        write_track("unused", {k: v * 4 for k, v in stems.items()}, SR)


def test_a_stem_at_full_scale_is_refused_even_when_the_mixture_fits(tmp_path):
    stems = {name: np.zeros((100, 2), dtype=np.float32) for name in STEMS}
    stems["bass"] = np.full((100, 2), 1.0, dtype=np.float32)  # 32768 would wrap to -32768 as int16
    stems["drums"] = np.full((100, 2), -0.5, dtype=np.float32)  # the mixture peaks at 0.5
    with pytest.raises(ValueError, match=r"stem 'bass' peaks at 1\.000"):
        write_track(tmp_path / "song", stems, SR)
    assert list(tmp_path.iterdir()) == []


def test_the_shortest_track_is_one_vocal_frame():
    with pytest.raises(ValueError, match="at least 1024"):
        synthesize_track(0, 1023 / SR)
    stems = synthesize_track(0, 1024 / SR)
    assert all(audio.shape == (1024, 2) for audio in stems.values())


def test_written_mixture_is_exactly_the_sum_of_the_stems(tmp_path):
    stems = synthesize_track(3, 1.5)
    folder = write_track(tmp_path / "song", stems, SR)
    for dtype in ("float32", "int16"):
        read = {name: sf.read(folder / f"{name}.wav", dtype=dtype)[0] for name in (*STEMS, "mixture")}
        total = sum(read[name].astype(np.int64 if dtype == "int16" else np.float32) for name in STEMS)
        assert np.array_equal(read["mixture"], total), dtype
    for name in STEMS:  # the arrays were already on the grid: writing them is exact
        assert np.array_equal(sf.read(folder / f"{name}.wav", dtype="float32")[0], stems[name]), name
    umask = os.umask(0o022)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask  # readable by others, like any folder made here
    info = sf.info(folder / "mixture.wav")
    assert (info.samplerate, info.channels, info.subtype) == (SR, 2, "PCM_16")
    [track] = find_tracks(tmp_path)
    assert (track.name, track.frames, track.channels, track.sample_rate) == ("song", len(stems["bass"]), 2, SR)
    assert np.array_equal(track.read("vocals"), stems["vocals"])


def test_same_seed_same_files(tmp_path):
    digests = []
    for name in ("a", "b"):
        folder = write_track(tmp_path / name, synthesize_track(5, 0.5), SR)
        digests.append([hashlib.sha256((folder / f"{s}.wav").read_bytes()).hexdigest() for s in (*STEMS, "mixture")])
    assert digests[0] == digests[1]


def test_interrupted_write_leaves_no_track(tmp_path, monkeypatch):
    stems = synthesize_track(1, 0.3)
    real_write = sf.write
    calls = []

    def failing_write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption")
        real_write(path, *args, **kwargs)

    monkeypatch.setattr(synthetic.sf, "write", failing_write)
    with pytest.raises(KeyboardInterrupt):
        write_track(tmp_path / "song", stems, SR)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(synthetic.sf, "write", real_write)
    write_track(tmp_path / "song", stems, SR)
    before = (tmp_path / "song" / "bass.wav").read_bytes()
    calls.clear()
    monkeypatch.setattr(synthetic.sf, "write", failing_write)
    with pytest.raises(KeyboardInterrupt):  # replacing a complete track: the old one survives intact
        write_track(tmp_path / "song", synthesize_track(2, 0.3), SR)
    assert [p.name for p in tmp_path.iterdir()] == ["song"]
    assert (tmp_path / "song" / "bass.wav").read_bytes() == before


# ---------------------------------------------------------------------------------------------------- datasets


def test_write_dataset_names_seeds_and_resume(tmp_path, monkeypatch):
    paths = write_dataset(tmp_path / "data", n_tracks=3, duration=0.4, seed=9)
    assert [p.name for p in paths] == ["synth-0000", "synth-0001", "synth-0002"]
    assert [t.name for t in find_tracks(tmp_path / "data")] == [p.name for p in paths]
    second = sf.read(paths[1] / "drums.wav", dtype="float32")[0]
    assert np.array_equal(second, synthesize_track(track_seed(9, 1), 0.4)["drums"])

    made = []
    monkeypatch.setattr(synthetic, "synthesize_track", lambda seed, *a: made.append(seed) or synthesize_track(seed, *a))
    (paths[2] / "other.wav").unlink()  # an incomplete track is made again; complete ones are kept
    write_dataset(tmp_path / "data", n_tracks=3, duration=0.4, seed=9)
    assert made == [track_seed(9, 2)]


def test_ensure_dataset_reuses_matching_cache_and_regenerates_on_mismatch(tmp_path, monkeypatch):
    root = tmp_path / "cache" / "synthetic"
    assert ensure_dataset(root, n_tracks=2, duration=0.3, seed=4) == root
    manifest = json.loads((root / "dataset.json").read_text())
    assert manifest["seed"] == 4 and manifest["version"] == synthetic.GENERATOR_VERSION
    first = (root / "synth-0000" / "mixture.wav").read_bytes()

    def no_generation(*args, **kwargs):
        raise AssertionError("a matching cache was regenerated")

    monkeypatch.setattr(synthetic, "synthesize_track", no_generation)
    assert ensure_dataset(root, n_tracks=2, duration=0.3, seed=4) == root
    monkeypatch.undo()

    ensure_dataset(root, n_tracks=3, duration=0.3, seed=5)
    assert json.loads((root / "dataset.json").read_text())["seed"] == 5
    assert [t.name for t in find_tracks(root)] == ["synth-0000", "synth-0001", "synth-0002"]
    assert (root / "synth-0000" / "mixture.wav").read_bytes() != first
    assert sorted(p.name for p in root.parent.iterdir()) == [".synthetic.lock", "synthetic"]


def test_interrupted_ensure_dataset_never_looks_complete(tmp_path, monkeypatch):
    root = tmp_path / "synthetic"
    made = []

    def fail_on_second(seed, *args):
        made.append(seed)
        if len(made) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return synthesize_track(seed, *args)

    monkeypatch.setattr(synthetic, "synthesize_track", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        ensure_dataset(root, n_tracks=3, duration=0.3, seed=1)
    assert not root.exists()
    [staging] = tmp_path.glob(".synthetic.partial-*")
    (staging / ".synth-0002.abc.partial").mkdir()  # what a killed write_track leaves behind
    made.clear()
    monkeypatch.setattr(synthetic, "synthesize_track", lambda seed, *a: made.append(seed) or synthesize_track(seed, *a))
    ensure_dataset(root, n_tracks=3, duration=0.3, seed=1)  # resumes, then publishes
    assert made == [track_seed(1, 1), track_seed(1, 2)]  # the first track was kept, not made again
    assert len(find_tracks(root)) == 3 and (root / "dataset.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".synthetic.lock", "synthetic"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_ensure_dataset_removes_an_old_copy_that_a_killed_process_left(tmp_path, monkeypatch):
    root = tmp_path / "synthetic"
    ensure_dataset(root, n_tracks=1, duration=0.1, seed=1)
    real_rmtree = synthetic.shutil.rmtree

    def killed_while_deleting_old(path, *args, **kwargs):
        if str(path).endswith(".old"):
            raise KeyboardInterrupt("simulated kill")
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(synthetic.shutil, "rmtree", killed_while_deleting_old)
    with pytest.raises(KeyboardInterrupt):
        ensure_dataset(root, n_tracks=1, duration=0.1, seed=2)  # the new dataset is in place, the old one is not gone
    monkeypatch.undo()
    [old] = tmp_path.glob(".synthetic.*.old")
    other = tmp_path / ".synthetic2.0123456789ab.old"  # another dataset's: not this call's business
    other.mkdir()
    monkeypatch.setattr(synthetic, "synthesize_track", lambda *a: pytest.fail("the matching dataset was regenerated"))
    assert ensure_dataset(root, n_tracks=1, duration=0.1, seed=2) == root
    assert not old.exists() and other.is_dir()
    assert json.loads((root / "dataset.json").read_text())["seed"] == 2


def test_ensure_dataset_checks_its_arguments_before_touching_anything(tmp_path):
    other = tmp_path / ".synthetic.partial-v2-1x0.3s-seed1-44100Hz"  # another dataset's resumable work
    other.mkdir()
    for bad in (dict(n_tracks=0, duration=0.3), dict(n_tracks=1, duration=0.001), dict(n_tracks=1, duration=0.3,
                                                                                      seed=-1)):
        with pytest.raises(ValueError, match="n_tracks|duration|seed"):
            ensure_dataset(tmp_path / "synthetic", **bad)
    assert [p.name for p in tmp_path.iterdir()] == [other.name]


def test_ensure_dataset_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="mine"):
        ensure_dataset(tmp_path / "mine", n_tracks=1, duration=0.2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--tracks", "2", "--duration", "0.3", "--seed", "8",
                 "--sample-rate", "32000"]) == 0
    tracks = find_tracks(tmp_path / "out")
    assert [(t.name, t.sample_rate, t.frames) for t in tracks] == [("synth-0000", 32000, 9600),
                                                                   ("synth-0001", 32000, 9600)]
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad"), "--duration", "-1"])
    assert "duration" in capsys.readouterr().err


def test_command_line_refuses_a_folder_made_with_another_seed(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(out), "--tracks", "1", "--duration", "0.1", "--seed", "1"]) == 0
    first = (out / "synth-0000" / "mixture.wav").read_bytes()
    with pytest.raises(SystemExit):
        main([str(out), "--tracks", "2", "--duration", "0.1", "--seed", "2"])
    assert "seed 1 (asked for 2)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "synth-0000"]

    assert main([str(out), "--tracks", "2", "--duration", "0.1", "--seed", "1"]) == 0  # same seed: grows
    assert (out / "synth-0000" / "mixture.wav").read_bytes() == first
    assert json.loads((out / "dataset.json").read_text())["n_tracks"] == 2
    assert ensure_dataset(out, n_tracks=2, duration=0.1, seed=1) == out  # and the cache accepts it as it is
    assert (out / "synth-0000" / "mixture.wav").read_bytes() == first

    (tmp_path / "legacy" / "synth-0000").mkdir(parents=True)  # tracks from before manifests: seed unknown
    with pytest.raises(SystemExit):
        main([str(tmp_path / "legacy"), "--tracks", "1", "--duration", "0.1"])
    assert "no dataset.json" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ class properties


def test_bass_is_low(songs):
    for song in songs:
        assert band_fraction(song["bass"], 0, 300) > 0.85
        assert band_fraction(song["bass"], 2000, SR / 2) < 0.01  # few harmonics, no noise
        freqs, power = power_spectrum(song["bass"])
        assert 35 < freqs[np.argmax(power)] < 210  # the strongest partial is a fundamental in the bass register


def test_drums_are_bright_and_percussive(songs):
    for song in songs:
        hats = high_band(song["drums"], 5000)
        assert band_fraction(song["drums"], 5000, SR / 2) > 0.01
        db = frame_energy_db(hats, SR // 200)
        assert np.percentile(db, 95) - np.median(db) > 10  # bursts, not a steady hiss (which scores ~3 dB)
        assert onsets_per_second(hats, rise_db=6.0) >= 1.0  # hats and snares on a grid


def test_vocals_pause_and_live_in_the_voice_band_with_moving_formants(songs):
    for song in songs:
        vocals = song["vocals"]
        assert band_fraction(vocals, 100, 4000) > 0.9
        db = frame_energy_db(vocals.mean(axis=1), SR // 20)
        assert np.mean(db < -40) > 0.05, "no pauses between phrases"
        assert np.mean(db > -20) > 0.4, "mostly silent"
        assert envelope_motion(vocals) > 2.5, "the spectral envelope does not move (no vowel changes)"


def test_other_is_harmonic_in_the_mid_register(songs):
    for song in songs:
        freqs, power = power_spectrum(song["other"])
        cumulative = np.cumsum(power) / power.sum()
        median = freqs[np.searchsorted(cumulative, 0.5)]
        assert 150 < median < 2000
        assert band_fraction(song["other"], 100, 5000) > 0.8
        # Harmonic: energy sits on a few partials, so the strongest 1% of bins hold most of it (noise: ~5%).
        assert np.sort(power)[::-1][: len(power) // 100].sum() / power.sum() > 0.5


def chroma(stereo: np.ndarray) -> np.ndarray:
    """Unit-norm energy per pitch class (60 Hz-2 kHz)."""
    freqs, power = power_spectrum(stereo)
    keep = (freqs >= 60) & (freqs < 2000)
    pitch_class = np.round(12 * np.log2(freqs[keep] / 440) + 69).astype(int) % 12
    energy = np.bincount(pitch_class, weights=power[keep], minlength=12)
    return energy / np.linalg.norm(energy)


def test_bass_and_vocals_follow_the_chords(songs):
    """Pitch classes of bass and vocals match those of the chords (other) better than transposed chords do."""
    margins = {"bass": [], "vocals": []}
    for song in songs:
        chords = chroma(song["other"])
        for name, values in margins.items():
            notes = chroma(song[name])
            values.append(notes @ chords - np.mean([notes @ np.roll(chords, k) for k in range(1, 12)]))
    assert np.mean(margins["bass"]) > 0.1, margins  # unrelated notes score about 0
    assert np.mean(margins["vocals"]) > 0.05, margins


def test_every_stem_is_audible_and_the_mixture_does_not_clip(songs):
    for song in songs:
        mixture = sum(song.values())
        assert np.max(np.abs(mixture)) < 0.9 + 4 / 32768
        levels = {name: 10 * np.log10(np.mean(audio.astype(np.float64) ** 2)) for name, audio in song.items()}
        assert max(levels.values()) - min(levels.values()) < 18, levels
