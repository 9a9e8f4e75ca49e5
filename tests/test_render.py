"""The renderer: the score, the instruments, the voice, the mix, and datasets on disk.

Audio properties are measured on a few real renders (FluidSynth, the TTS voices and pyworld must be installed:
scripts/setup.sh does it); storage behaviour uses a fast stand-in for ``render_song`` so it can run many tracks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from evaluator.tracks import STEMS, find_tracks
from render import drumkits, production, score, store, voice
from render.instruments import ACOUSTIC_KITS, Banks, available_sounds
from render.song import render_song
from render.store import ensure_dataset, main, track_seed, write_dataset, write_track

SR = 44100


@pytest.fixture(scope="module")
def songs() -> list[dict[str, np.ndarray]]:
    return [render_song(seed, 6.0) for seed in (1, 2)]


def fake_song(seed: int, duration: float, sample_rate: int = SR) -> dict[str, np.ndarray]:
    """A quick deterministic stand-in for render_song (storage tests only)."""
    rng = np.random.default_rng(seed)
    n = round(duration * sample_rate)
    return {stem: (rng.standard_normal((n, 2)) * 0.05).astype(np.float32) for stem in STEMS}


@pytest.fixture
def fast(monkeypatch):
    made = []
    monkeypatch.setattr(store, "render_song", lambda seed, *a: made.append(seed) or fake_song(seed, *a))
    return made


# -------------------------------------------------------------------------------------------------- the score


@pytest.mark.parametrize("genre", score.GENRES)
def test_every_genre_has_all_four_stems_on_the_beat_grid(genre):
    song = score.compose(np.random.default_rng(3), 20.0, genre)
    assert {p.stem for p in song.parts} == set(STEMS)
    assert 60 <= song.tempo <= 170 and song.sections
    for stem in STEMS:  # every stem plays in the excerpt (a single "other" part may rest throughout)
        assert any(p.notes for p in song.parts if p.stem == stem), stem
    for part in song.parts:
        assert all(0 <= n.start < song.duration and n.length > 0 and 1 <= n.velocity <= 127 for n in part.notes)
    bass = next(p for p in song.parts if p.stem == "bass")
    chord_roots = {song.chord_pitch_classes(song.chord_at(b))[0] for b in range(32)}
    in_key = sum(n.pitch % 12 in song.scale_pitch_classes() | chord_roots for n in bass.notes) / len(bass.notes)
    assert in_key > 0.9  # the bass follows the harmony (funk adds a few chromatic passing notes)


def test_same_seed_same_score_other_seed_other_score():
    a, b = (score.compose(np.random.default_rng(5), 10.0) for _ in range(2))
    c = score.compose(np.random.default_rng(6), 10.0)
    assert [p.notes for p in a.parts] == [p.notes for p in b.parts]
    assert [p.notes for p in a.parts] != [p.notes for p in c.parts]


# ---------------------------------------------------------------------------------------------- instruments


def test_several_banks_and_kits_per_role():
    drums = available_sounds("drums")
    assert len({s.bank_file for s in drums}) >= 3 and len(drums) >= 10
    for role in ("piano", "distorted guitar", "strings", "finger bass", "choir"):
        assert len(available_sounds(role)) >= 2, role


def test_notes_sound_where_they_are_and_silence_elsewhere():
    sound = available_sounds("piano")[0]
    with Banks(SR) as banks:
        audio = banks.play([score.Note(0.5, 0.5, 60, 100)], sound, SR * 3)
    assert audio.shape == (2, SR * 3) and audio.dtype == np.float32
    spans = ((0, SR // 2 - 100), (SR // 2, SR), (2 * SR, 3 * SR))
    before, during, late = (np.abs(audio[:, a:b]).max() for a, b in spans)
    assert before == 0 and during > 0.01 and late < during / 100


def test_every_recorded_kit_plays_every_drum_the_score_writes():
    keys = {*score.TOMS, score.KICK, score.SNARE, score.SIDE_STICK, score.CLAP, score.HAT, score.PEDAL_HAT,
            score.OPEN_HAT, score.CRASH, score.RIDE, score.SHAKER}
    for name in drumkits.KITS:
        kit = drumkits.load_kit(name)
        assert keys <= set(kit.keys), (name, keys - set(kit.keys))
        assert all(layer.path.is_file() for layers in kit.keys.values() for layer in layers), name
        assert kit.keys[score.KICK] != kit.keys[score.SNARE] and kit.keys[score.HAT] != kit.keys[score.KICK], name


def test_a_recorded_kit_plays_its_velocity_layers_where_the_notes_are():
    kit = drumkits.load_kit("BJA_Pacific")  # 8 velocity layers per drum
    soft, loud = (drumkits.play([score.Note(0.5, 0.1, score.SNARE, v)], kit, SR * 2) for v in (20, 120))
    assert soft.shape == (2, SR * 2) and soft.dtype == np.float32
    assert np.abs(soft[:, :SR // 2]).max() == 0 and np.abs(soft[:, SR // 2:SR // 2 + 2000]).max() > 0
    assert np.abs(loud).max() > 3 * np.abs(soft).max()
    correlation = np.corrcoef(soft[0, SR // 2:SR], loud[0, SR // 2:SR])[0, 1]
    assert correlation < 0.99  # another recording, not the same one scaled


def test_an_open_hi_hat_is_cut_by_the_next_closed_one():
    kit = drumkits.load_kit("ForzeeStereo")
    opened = score.Note(0.0, 0.1, score.OPEN_HAT, 100)
    closed = score.Note(0.25, 0.1, score.HAT, 100)
    both = drumkits.play([closed, opened], kit, SR)  # order of the list does not matter
    alone = drumkits.play([closed], kit, SR)
    after = SR // 4 + round(0.011 * SR)  # the cut and its 10 ms fade
    np.testing.assert_allclose(both[:, after:], alone[:, after:], atol=1e-6)
    assert np.abs(drumkits.play([opened], kit, SR)[:, after:] - alone[:, after:]).max() > 0.01


def test_about_half_the_songs_play_a_recorded_kit(monkeypatch):
    played = []

    def kit(notes, kit, n, sample_rate=SR):
        played.append(kit.name)
        return np.zeros((2, n), np.float32)

    def soundfont(self, notes, sound, n):
        played.append("soundfont drums" if sound.drums or sound.bank_file in ACOUSTIC_KITS else "soundfont")
        return np.zeros((2, n), np.float32)

    monkeypatch.setattr(drumkits, "play", kit)
    monkeypatch.setattr(Banks, "play", soundfont)
    monkeypatch.setattr(voice, "sing", lambda song, part, rng, n, *a, **k: np.zeros((2, n), np.float32))
    for seed in range(24):
        render_song(seed, 2.0)
    recorded = [name for name in played if name in drumkits.KITS]
    assert len(recorded) + played.count("soundfont drums") == 24  # one drum part per song
    assert 6 <= len(recorded) <= 18 and len(set(recorded)) >= 4


def test_a_missing_kit_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(drumkits, "KIT_DIR", tmp_path)
    drumkits.load_kit.cache_clear()
    try:
        with pytest.raises(drumkits.MissingKitError, match="hydrogen-drumkits"):
            drumkits.load_kit("ForzeeStereo")
    finally:
        drumkits.load_kit.cache_clear()


# ---------------------------------------------------------------------------------------------------- voice


def test_sung_notes_are_at_the_melody_pitch():
    rng = np.random.default_rng(0)
    song = score.compose(rng, 12.0, "pop")
    part = next(p for p in song.parts if p.stem == "vocals" and p.role == "sung")
    audio = voice.sing(song, part, np.random.default_rng(1), 12 * SR)
    assert np.abs(audio).max() > 0.01
    pyworld = voice._pyworld()
    mono = audio.mean(axis=0).astype(np.float64)
    f0, times = pyworld.dio(mono, SR, frame_period=5.0)
    f0 = pyworld.stonemask(mono, f0, times, SR)
    voiced = f0 > 0
    assert voiced.mean() > 0.1
    sung = 69 + 12 * np.log2(f0[voiced] / 440)
    scale = song.scale_pitch_classes()
    nearest = np.round(sung)
    in_tune = np.abs(sung - nearest) < 0.5  # vibrato and glides aside, most frames sit on a semitone ...
    assert in_tune.mean() > 0.6
    assert np.mean([int(p) % 12 in scale for p in nearest[in_tune]]) > 0.8  # ... of the song's key


def test_perform_is_sing_and_reports_what_a_chosen_voice_sang():
    song = score.compose(np.random.default_rng(0), 12.0, "pop")
    lead = next(p for p in song.parts if p.stem == "vocals" and p.role == "sung")
    part = score.Part("vocals", "sung", lead.notes, phrases=lead.phrases[:1], singer=lead.singer)  # one line
    audio, lines = voice.perform(song, part, np.random.default_rng(1), 12 * SR)
    assert np.array_equal(audio, voice.sing(song, part, np.random.default_rng(1), 12 * SR))
    start, end = part.phrases[0]
    melody = {n.pitch for n in part.notes if start - 0.05 <= n.start < end}
    texts = set()
    for chosen in [v for v in voice.installed_voices() if v.program == "espeak-ng"][:2]:
        _, lines = voice.perform(song, part, np.random.default_rng(1), 12 * SR, voice=chosen)
        assert len(lines) == 1 and lines[0].syllables
        assert {pitch for _, _, pitch in lines[0].syllables} <= melody
        assert all(start - 1e-6 <= a < b <= end + 1e-6 for a, b, _ in lines[0].syllables)
        texts.add(lines[0].text)
    assert len(texts) == 1  # the voice is not drawn: the same lyrics for every voice


def test_lyrics_and_voices():
    rng = np.random.default_rng(2)
    lines = {voice.lyric_line(rng) for _ in range(20)}
    assert len(lines) > 10 and all(line and line.isascii() for line in lines)
    assert {v.singer for v in voice.installed_voices()} == {"female", "male"}


def test_an_8_khz_voice_is_analysed_at_16_khz_and_stays_periodic():
    kal = next(v for v in voice.VOICES if v.name == "flite:kal")
    _, rate = voice.speak(kal, "we are singing")
    assert rate == 8000  # the case the resampling is for
    analysis = voice._analyse(kal, "we are singing")
    voiced = analysis.f0 > 0
    # at 8 kHz WORLD's D4C called every frame fully aperiodic (1.0): the sung voice was a whisper
    assert analysis.rate == voice.ANALYSIS_MIN_RATE and voiced.mean() > 0.3
    assert np.median(analysis.ap[voiced][:, : analysis.ap.shape[1] // 4]) < 0.9


# ------------------------------------------------------------------------------------------------- the mix


def test_bus_gain_respects_the_ceiling_and_never_boosts():
    rng = np.random.default_rng(0)
    mixture = rng.standard_normal((2, SR)) * np.linspace(0.1, 2, SR)
    gain = production.bus_gain(mixture, SR)
    assert gain.max() <= 1.0 and np.abs(mixture * gain).max() <= production.CEILING + 1e-9
    quiet = mixture * 0.1
    assert np.array_equal(production.bus_gain(quiet, SR), np.ones(SR))


def test_songs_have_balanced_audible_stems_within_headroom(songs):
    for stems in songs:
        mixture = sum(stems.values())
        assert np.abs(mixture).max() <= production.CEILING + 1e-6
        assert all(np.abs(a).max() <= production.CEILING + 1e-6 for a in stems.values())
        levels = {k: production.loudness(v.T, SR) for k, v in stems.items()}
        assert all(-40 < level < -5 for level in levels.values()), levels


def band_fraction(stereo: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(stereo.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(len(stereo), 1 / SR)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum())


def test_bass_is_low_and_drums_are_bright(songs):
    for stems in songs:
        assert band_fraction(stems["bass"], 0, 400) > 0.7
        assert band_fraction(stems["drums"], 2000, 20000) > band_fraction(stems["bass"], 2000, 20000) * 5


def test_same_seed_same_audio(songs):
    again = render_song(1, 6.0)
    assert all(np.array_equal(again[k], songs[0][k]) for k in STEMS)


def test_other_sample_rates_render_without_nan():
    stems = render_song(4, 2.0, 16000)
    assert all(np.isfinite(a).all() and a.shape == (32000, 2) for a in stems.values())


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="duration"):
        render_song(0, 0.5)
    with pytest.raises(ValueError, match="seed"):
        render_song(-1, 2.0)


# ---------------------------------------------------------------------------------------------------- storage


def test_written_mixture_is_exactly_the_sum_of_the_stems(tmp_path, songs):
    folder = write_track(tmp_path / "song", songs[0], SR)
    read = {name: sf.read(folder / f"{name}.wav", dtype="int16")[0] for name in (*STEMS, "mixture")}
    assert np.array_equal(read["mixture"].astype(np.int64), sum(read[n].astype(np.int64) for n in STEMS))
    assert sf.info(folder / "mixture.wav").subtype == "PCM_16"


def test_interrupted_write_leaves_no_track(tmp_path, monkeypatch):
    real_write = sf.write
    calls = []

    def failing_write(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption")
        real_write(path, *args, **kwargs)

    monkeypatch.setattr(store.sf, "write", failing_write)
    with pytest.raises(KeyboardInterrupt):
        write_track(tmp_path / "song", fake_song(1, 0.3), SR)
    assert list(tmp_path.iterdir()) == []


def test_write_dataset_names_seeds_resume_and_jobs(tmp_path, fast):
    paths = write_dataset(tmp_path / "data", n_tracks=3, duration=1.0, seed=9)
    assert [p.name for p in paths] == ["song-0000", "song-0001", "song-0002"]
    assert fast == [track_seed(9, i) for i in range(3)]
    fast.clear()
    (paths[2] / "other.wav").unlink()  # an incomplete track is made again; complete ones are kept
    write_dataset(tmp_path / "data", n_tracks=3, duration=1.0, seed=9)
    assert fast == [track_seed(9, 2)]
    with pytest.raises(ValueError, match="jobs"):
        write_dataset(tmp_path / "data", n_tracks=3, duration=1.0, seed=9, jobs=0)


def test_ensure_dataset_reuses_matching_cache_and_regenerates_on_mismatch(tmp_path, fast):
    root = tmp_path / "cache" / "songs"
    assert ensure_dataset(root, n_tracks=2, duration=1.0, seed=4) == root
    manifest = json.loads((root / "dataset.json").read_text())
    assert manifest["seed"] == 4 and manifest["version"] == store.RENDER_VERSION and manifest["generator"] == "render"
    fast.clear()
    assert ensure_dataset(root, n_tracks=2, duration=1.0, seed=4) == root
    assert fast == []
    ensure_dataset(root, n_tracks=3, duration=1.0, seed=5)
    assert json.loads((root / "dataset.json").read_text())["seed"] == 5 and len(fast) == 3
    assert sorted(p.name for p in root.parent.iterdir()) == [".songs.lock", "songs"]


def test_interrupted_ensure_dataset_never_looks_complete(tmp_path, monkeypatch):
    root = tmp_path / "songs"
    made = []

    def fail_on_second(seed, *args):
        made.append(seed)
        if len(made) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return fake_song(seed, *args)

    monkeypatch.setattr(store, "render_song", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        ensure_dataset(root, n_tracks=3, duration=1.0, seed=1)
    assert not root.exists()
    made.clear()
    monkeypatch.setattr(store, "render_song", lambda seed, *a: made.append(seed) or fake_song(seed, *a))
    ensure_dataset(root, n_tracks=3, duration=1.0, seed=1)
    assert made == [track_seed(1, 1), track_seed(1, 2)]  # the first track was kept
    assert len(find_tracks(root)) == 3


def test_ensure_dataset_refuses_a_foreign_folder_and_bad_arguments(tmp_path, fast):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="mine"):
        ensure_dataset(tmp_path / "mine", n_tracks=1, duration=1.0)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    for bad in (dict(n_tracks=0, duration=1.0), dict(n_tracks=1, duration=0.2), dict(n_tracks=1, duration=1.0,
                                                                                     seed=-1)):
        with pytest.raises(ValueError, match="n_tracks|duration|seed"):
            ensure_dataset(tmp_path / "other", **bad)
    assert not (tmp_path / "other").exists()


def test_command_line(tmp_path, capsys, fast):
    assert main([str(tmp_path / "out"), "--tracks", "2", "--duration", "1", "--seed", "8",
                 "--sample-rate", "32000"]) == 0
    assert [(t.name, t.sample_rate, t.frames) for t in find_tracks(tmp_path / "out")] == [
        ("song-0000", 32000, 32000), ("song-0001", 32000, 32000)]
    with pytest.raises(SystemExit):
        main([str(tmp_path / "out"), "--tracks", "2", "--duration", "1", "--seed", "9", "--sample-rate", "32000"])
    assert "seed 8 (asked for 9)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad"), "--duration", "-1"])
    assert "duration" in capsys.readouterr().err
