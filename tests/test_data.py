"""The training data pipeline (train/data.py, train/datasets.py) on generated files of every dataset kind."""

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import noise_stems, tone_stems
from torch.utils.data import DataLoader

from evaluator.tracks import STEMS, TrackError
from train.config import DataConfig
from train.data import MixingDataset, build_datasets
from train.datasets import StemFileTrack, musdb_validation_names, open_stem_file

RATE = 8000
NO_AUGMENTATION = dict(gain_db=0.0, drop_prob=0.0, swap_prob=0.0)
LEVELS = {"bass": 0.01, "drums": 0.02, "other": 0.03, "vocals": 0.04}


def constant_stems(frames: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Each stem a constant (DC) signal of its own level, so an excerpt tells which stem it came from."""
    return {s: np.full((frames, 2), scale * LEVELS[s], dtype=np.float32) for s in STEMS}


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2))


def config(tmp_path, **values) -> DataConfig:
    values.setdefault("sad_cache", str(tmp_path / "sad.json"))
    values.setdefault("samples_per_epoch", 16)
    values.setdefault("segment_seconds", 1.0)
    return DataConfig(**values)


@pytest.fixture
def musdb18hq_root(tmp_path, make_track_folder):
    """A MUSDB18-HQ layout: the 14 official validation tracks and two others in train/, one track in test/."""
    root = tmp_path / "musdb18hq"
    for k, name in enumerate([*musdb_validation_names(), "Zed - Train One", "Aaa - Train Two"]):
        make_track_folder(root / "train" / name, noise_stems(2 * RATE, seed=k), RATE)
    make_track_folder(root / "test" / "Test Track", noise_stems(RATE), RATE)
    return root


@pytest.mark.parametrize("values, field", [
    (dict(kind="musdb"), "kind"),
    (dict(kind="musdb18hq"), "root"),
    (dict(segment_seconds=0), "segment_seconds"),
    (dict(samples_per_epoch=0), "samples_per_epoch"),
    (dict(drop_prob=1.5), "drop_prob"),
    (dict(swap_prob=-0.1), "swap_prob"),
    (dict(gain_db=-1), "gain_db"),
    (dict(eq_db=-3), "eq_db"),
    (dict(pitch_semitones=13), "pitch_semitones"),
    (dict(num_workers=-1), "num_workers"),
    (dict(valid_limit=0), "valid_limit"),
    (dict(sad="yes"), "sad"),
    (dict(valid_tracks=["x"]), "valid_tracks"),  # not used by the synthetic kind
    (dict(kind="sdx23", root="x", valid_tracks=[1, 2]), "valid_tracks"),
])
def test_config_errors_name_the_field(values, field):
    with pytest.raises(ValueError, match=f"DataConfig.{field}"):
        DataConfig(**values)


def test_musdb18hq_official_split_and_items(tmp_path, musdb18hq_root):
    cfg = config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), valid_tracks="official", sad=False)
    train, valid = build_datasets(cfg, ["vocals", "bass"], RATE, seed=0)
    assert [t.name for t in valid] == musdb_validation_names()
    assert [t.name for t in train.tracks] == ["Aaa - Train Two", "Zed - Train One"]
    assert len(train) == 16
    mixture, sources = train[3]
    assert mixture.dtype == sources.dtype == torch.float32
    assert mixture.shape == (2, RATE) and sources.shape == (2, 2, RATE)
    # the default (None) is the official split too; valid_limit keeps the first tracks
    _, limited = build_datasets(config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False,
                                       valid_limit=3), ["vocals"], RATE, seed=0)
    assert [t.name for t in limited] == musdb_validation_names()[:3]


def test_sources_follow_targets_and_the_mixture_sums_all_four_stems(tmp_path, make_track_folder):
    root = tmp_path / "sdx"
    for k in range(3):
        make_track_folder(root / f"uuid-{k}", constant_stems(2 * RATE, scale=k + 1), RATE, mixture=False)
    cfg = config(tmp_path, kind="sdx23", root=str(root), valid_tracks=["uuid-0"], sad=False, **NO_AUGMENTATION)
    targets = ["vocals", "bass", "drums", "other"]
    full, _ = build_datasets(cfg, targets, RATE, seed=5)
    single, _ = build_datasets(cfg, ["drums"], RATE, seed=5)
    for i in range(len(full)):
        mixture, sources = full[i]
        for j, target in enumerate(targets):  # each row is a constant excerpt of its own stem (tracks x2, x3)
            assert torch.all(sources[j] == sources[j, 0, 0])
            ratio = float(sources[j, 0, 0]) / LEVELS[target]
            assert min(abs(ratio - 2), abs(ratio - 3)) < 1e-5
        torch.testing.assert_close(mixture, sources.sum(0))
        mixture_one, sources_one = single[i]
        torch.testing.assert_close(mixture_one, mixture)  # all four stems, not just the target
        torch.testing.assert_close(sources_one[0], sources[2])


def test_items_depend_only_on_seed_epoch_and_index(tmp_path, musdb18hq_root):
    cfg = config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False)
    a, _ = build_datasets(cfg, ["vocals", "drums"], RATE, seed=1)
    b, _ = build_datasets(cfg, ["vocals", "drums"], RATE, seed=1)
    c, _ = build_datasets(cfg, ["vocals", "drums"], RATE, seed=2)
    for i in (0, 7, 15):
        for x, y in zip(a[i], b[i]):
            torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert not torch.equal(a[0][0], c[0][0])
    first = a[4][0]
    a.set_epoch(1)
    assert not torch.equal(a[4][0], first)
    a.set_epoch(0)
    torch.testing.assert_close(a[4][0], first, rtol=0, atol=0)
    # the same items through worker processes, in any order
    loader = DataLoader(a, batch_size=4, num_workers=2)
    batches = list(loader)
    for k, (mixture, sources) in enumerate(batches):
        for j in range(4):
            torch.testing.assert_close(mixture[j], a[4 * k + j][0], rtol=0, atol=0)
            torch.testing.assert_close(sources[j], a[4 * k + j][1], rtol=0, atol=0)
    with pytest.raises(IndexError):
        a[16]


def test_timbre_augmentations_keep_items_reproducible_and_the_mixture_a_sum(tmp_path, musdb18hq_root):
    plain = config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False)
    timbre = config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False, eq_db=6.0, pitch_semitones=2.0)
    a, _ = build_datasets(timbre, STEMS, RATE, seed=4)
    b, _ = build_datasets(timbre, STEMS, RATE, seed=4)
    p, _ = build_datasets(plain, STEMS, RATE, seed=4)
    for i in (0, 5, 11):
        mixture, sources = a[i]
        assert mixture.shape == (2, RATE) and sources.shape == (4, 2, RATE)
        torch.testing.assert_close(mixture, sources.sum(0))
        torch.testing.assert_close(b[i][0], mixture, rtol=0, atol=0)
        assert not torch.allclose(p[i][0], mixture)


def test_in_memory_cache_gives_the_same_items(tmp_path, musdb18hq_root):
    lazy, _ = build_datasets(config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False),
                             ["vocals"], RATE, seed=3)
    cached, _ = build_datasets(config(tmp_path, kind="musdb18hq", root=str(musdb18hq_root), sad=False,
                                      cache_audio=True), ["vocals"], RATE, seed=3)
    assert cached._audio is not None and lazy._audio is None
    for i in range(len(lazy)):
        for x, y in zip(lazy[i], cached[i]):
            torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_inconsistent_or_unreadable_files_are_named(tmp_path, make_track_folder):
    root = tmp_path / "sdx"
    for k in range(2):
        make_track_folder(root / f"t{k}", noise_stems(RATE), RATE, mixture=False)
    cfg = config(tmp_path, kind="sdx23", root=str(root), valid_tracks=[])
    sf.write(root / "t1" / "drums.wav", np.zeros((RATE - 1, 2)), RATE)
    with pytest.raises(TrackError, match=r"t1.*disagree.*drums.wav: 8000 Hz, 7999 frames"):
        build_datasets(cfg, ["vocals"], RATE, seed=0)
    sf.write(root / "t1" / "drums.wav", np.zeros((RATE, 1)), RATE)
    with pytest.raises(TrackError, match=r"drums.wav: 8000 Hz, 8000 frames, 1 ch"):
        build_datasets(cfg, ["vocals"], RATE, seed=0)
    (root / "t1" / "drums.wav").write_bytes(b"not audio")
    with pytest.raises(TrackError, match=r"cannot read .*t1/drums.wav"):
        build_datasets(cfg, ["vocals"], RATE, seed=0)
    (root / "t1" / "drums.wav").unlink()
    with pytest.raises(TrackError, match=r"t1 lacks drums.wav"):
        build_datasets(cfg, ["vocals"], RATE, seed=0)


def test_a_sample_rate_other_than_the_models_is_refused(tmp_path, make_track_folder):
    root = tmp_path / "sdx"
    make_track_folder(root / "a", noise_stems(RATE), RATE)
    make_track_folder(root / "b", noise_stems(RATE), RATE)
    cfg = config(tmp_path, kind="sdx23", root=str(root), valid_tracks=["b"])
    with pytest.raises(ValueError, match=r"not at the model's sample rate 44100 Hz: a \(8000 Hz\).*does not resample"):
        build_datasets(cfg, ["vocals"], 44100, seed=0)


def test_sdx23_needs_a_user_chosen_validation_split(tmp_path, make_track_folder):
    root = tmp_path / "labelnoise"
    names = ["0b1e7e55-aaaa", "4c2d9f10-bbbb", "9f00d1c2-cccc"]
    stems = {}
    for k, name in enumerate(names):
        stems[name] = noise_stems(2 * RATE, seed=k)
        make_track_folder(root / name, stems[name], RATE, mixture=False)
    (root / ".DS_Store").write_bytes(b"")
    with pytest.raises(ValueError, match="no official validation split"):
        build_datasets(config(tmp_path, kind="sdx23", root=str(root)), ["vocals"], RATE, seed=0)
    with pytest.raises(ValueError, match=r"not found in sdx23 set .*'nope'"):
        build_datasets(config(tmp_path, kind="sdx23", root=str(root), valid_tracks=["nope"]), ["vocals"], RATE, 0)
    with pytest.raises(ValueError, match="nothing is left for training"):
        build_datasets(config(tmp_path, kind="sdx23", root=str(root), valid_tracks=names), ["vocals"], RATE, 0)
    listing = tmp_path / "valid.txt"
    listing.write_text(f"# my split\n{names[2]}\n\n{names[0]}\n")
    train, valid = build_datasets(config(tmp_path, kind="sdx23", root=str(root), valid_tracks=str(listing)),
                                  ["vocals"], RATE, seed=0)
    assert [t.name for t in valid] == [names[2], names[0]]
    assert [t.name for t in train.tracks] == [names[1]]
    # the validation mixture of a track without mixture.wav is the sum of its stems
    np.testing.assert_allclose(valid[0].read("mixture"), sum(stems[names[2]].values()), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        build_datasets(config(tmp_path, kind="sdx23", root=str(root), valid_tracks=str(tmp_path / "missing.txt")),
                       ["vocals"], RATE, seed=0)


def test_musdb18_stem_files(tmp_path, make_stem_file):
    rate = 44100
    root = tmp_path / "musdb18"
    originals = {"Artist - Song A": tone_stems(8 * rate, rate), "Artist - Song B": tone_stems(8 * rate, rate)}
    originals["Artist - Song B"] = {s: 0.5 * a for s, a in originals["Artist - Song B"].items()}
    for name, stems in originals.items():
        make_stem_file(root / "train" / f"{name}.stem.mp4", stems, rate)
    (root / "train" / "notes.txt").write_text("not a track")
    cfg = config(tmp_path, kind="musdb18", root=str(root), valid_tracks=["Artist - Song B"], segment_seconds=3.0)
    train, valid = build_datasets(cfg, ["bass", "vocals"], rate, seed=0)
    assert [t.name for t in train.tracks] == ["Artist - Song A"]
    (track,) = valid
    assert isinstance(track, StemFileTrack)
    assert (track.sample_rate, track.frames, track.channels) == (rate, 8 * rate, 2)
    reference = originals["Artist - Song B"]
    for stem in STEMS:  # each stem comes from its own stream (lossy codec: compare loosely)
        assert snr_db(reference[stem], track.read(stem)) > 20, stem
    assert snr_db(sum(reference.values()), track.read("mixture")) > 20
    start, frames = 3 * rate + 123, rate
    excerpt = track.read("drums", start, frames)
    assert excerpt.shape == (frames, 2)
    assert snr_db(reference["drums"][start:start + frames], excerpt) > 20
    mixture, sources = train[0]
    assert mixture.shape == (2, 3 * rate) and sources.shape == (2, 2, 3 * rate)
    assert train.sad_index is not None and len(train.sad_index.starts[0]["vocals"]) == 1


def test_bad_stem_files_are_named(tmp_path, make_stem_file):
    bad = tmp_path / "train" / "Broken.stem.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(TrackError, match="cannot read .*Broken.stem.mp4"):
        open_stem_file(bad)
    two = make_stem_file(tmp_path / "Two.stem.mp4", tone_stems(RATE, 44100), 44100)
    # the same file with only two of its streams
    short = tmp_path / "Short.stem.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(two), "-map", "0:0", "-map", "0:1", "-c", "copy",
                    str(short)], check=True)
    with pytest.raises(TrackError, match="Short.stem.mp4 has 2 audio streams"):
        open_stem_file(short)


def test_sad_draws_only_active_excerpts(tmp_path, make_track_folder):
    """Vocals sound only in seconds 6-12 of one track and never in the other: with SAD every vocals excerpt is
    sounding; without it, silent excerpts are drawn."""
    root = tmp_path / "sdx"
    for name, active in (("a", True), ("b", False)):
        stems = noise_stems(20 * RATE, seed=len(name))
        stems["vocals"][:] = 0
        if active:
            stems["vocals"][6 * RATE:12 * RATE] = noise_stems(6 * RATE, seed=9)["vocals"]
        make_track_folder(root / name, stems, RATE, mixture=False)
    make_track_folder(root / "valid", noise_stems(RATE), RATE, mixture=False)
    common = dict(kind="sdx23", root=str(root), valid_tracks=["valid"], samples_per_epoch=200, **NO_AUGMENTATION)
    with_sad, _ = build_datasets(config(tmp_path, **common), ["vocals"], RATE, seed=0)
    assert [len(s["vocals"]) for s in with_sad.sad_index.starts] == [1, 0]  # the segment 6-12 s of track a
    assert all(with_sad[i][1].abs().amax(dim=-1).min() > 0 for i in range(200))
    without, _ = build_datasets(config(tmp_path, sad=False, **common), ["vocals"], RATE, seed=0)
    assert without.sad_index is None
    assert sum(bool((without[i][1] == 0).all()) for i in range(200)) > 50


def test_a_stem_silent_everywhere_falls_back_with_a_warning(tmp_path, make_track_folder):
    root = tmp_path / "sdx"
    for name in ("a", "b", "c"):
        stems = noise_stems(12 * RATE, seed=ord(name))
        stems["bass"][:] = 0
        make_track_folder(root / name, stems, RATE, mixture=False)
    cfg = config(tmp_path, kind="sdx23", root=str(root), valid_tracks=["c"], **NO_AUGMENTATION)
    with pytest.warns(UserWarning, match="kept no segment of .bass.*uniformly"):
        train, _ = build_datasets(cfg, ["bass", "vocals"], RATE, seed=0)
    mixture, sources = train[0]
    assert not sources[0].any() and sources[1].any()


def test_mixing_dataset_checks_its_arguments(tmp_path, make_track_folder):
    from evaluator.tracks import find_tracks

    make_track_folder(tmp_path / "t" / "stereo", noise_stems(RATE), RATE)
    make_track_folder(tmp_path / "t" / "mono", noise_stems(RATE, channels=1), RATE)
    tracks = find_tracks(tmp_path / "t")
    with pytest.raises(ValueError, match="differ in channel count"):
        MixingDataset(tracks, ["vocals"], RATE, 4, sad=None)
    with pytest.raises(ValueError, match="targets must be some of"):
        MixingDataset(tracks[:1], ["piano"], RATE, 4, sad=None)
    # a track shorter than the excerpt is zero-padded
    short = MixingDataset(tracks[:1], ["vocals"], 3 * RATE, 2, sad=None, **NO_AUGMENTATION)
    mixture, sources = short[0]
    assert mixture.shape == (1, 3 * RATE) and not mixture[:, RATE:].any() and mixture[:, :RATE].any()


def test_synthetic_kind_generates_disjoint_train_and_valid_sets(tmp_path):
    cfg = config(tmp_path, root=str(tmp_path / "synthetic"), synthetic_tracks=2, synthetic_valid_tracks=1,
                 synthetic_duration=7.0, samples_per_epoch=4)
    train, valid = build_datasets(cfg, ["vocals", "drums"], 16000, seed=0)
    assert len(train.tracks) == 2 and len(valid) == 1
    assert all(t.sample_rate == 16000 and t.duration == 7.0 for t in [*train.tracks, *valid])
    train_vocals = [t.read("vocals") for t in train.tracks]
    assert not any(np.array_equal(valid[0].read("vocals"), v) for v in train_vocals)
    again, valid_again = build_datasets(cfg, ["vocals", "drums"], 16000, seed=0)  # reuses the generated files
    assert [t.path for t in again.tracks] == [t.path for t in train.tracks]
    torch.testing.assert_close(again[2][0], train[2][0], rtol=0, atol=0)
