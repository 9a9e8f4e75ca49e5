"""``python -m tools.separate`` and ``tools.separator.Separator``: inputs ffmpeg decodes, output formats and layout,
--two-stems, and every refusal before any separation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tools.audio_io import read_audio
from tools.separate import main
from tools.separator import Separator

RATE = 44100
QUARTER = "my_submission.identity_model.QuarterMixtureModel"
FAST = ["--model", QUARTER, "--window", "0.5", "--hop", "0.5"]
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(subprocess.run(["which", "ffmpeg"], capture_output=True).returncode != 0,
                                reason="needs ffmpeg")


def _mix(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.4 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1).astype(np.float32)


def _encode(path: Path, audio: np.ndarray) -> Path:
    """Write ``audio`` to ``path`` in the format its suffix names, with ffmpeg."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "2", "-i", "-", str(path)],
                   input=audio.astype("<f4").tobytes(), check=True)
    return path


def test_files_and_folders_in_any_format_to_the_default_layout(tmp_path, capsys):
    mix = _mix()
    songs = tmp_path / "songs"
    songs.mkdir()
    sf.write(songs / "a.wav", mix, RATE, subtype="FLOAT")
    _encode(songs / "b.m4a", mix)
    (songs / ".hidden").mkdir()
    _encode(songs / ".hidden" / "skip.mp3", mix)
    _encode(tmp_path / "c.ogg", mix)
    out = tmp_path / "separated"
    assert main([str(songs), str(tmp_path / "c.ogg"), "-o", str(out), *FAST]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3 and all("real-time factor" in line for line in printed)
    model = out / "QuarterMixtureModel"
    assert sorted(str(p.relative_to(model)) for p in model.rglob("*.wav")) == \
        [f"{t}/{s}.wav" for t in "abc" for s in ("bass", "drums", "other", "vocals")]
    for track in "abc":
        vocals, rate = sf.read(model / track / "vocals.wav", dtype="float32")
        assert rate == RATE and sf.info(model / track / "vocals.wav").subtype == "PCM_16"
        decoded = read_audio(songs / "b.m4a")[0] if track == "b" else mix
        n = min(len(decoded), len(vocals))
        assert abs(len(vocals) - len(mix)) < RATE // 10  # lossy codecs pad a little
        np.testing.assert_allclose(vocals[:n], decoded[:n] / 4, atol=2e-4 if track == "a" else 1e-2)


@pytest.mark.parametrize("flags, suffix, subtype", [
    (["--int24"], "wav", "PCM_24"), (["--float32"], "wav", "FLOAT"), (["--flac"], "flac", "PCM_16"),
    (["--flac", "--int24"], "flac", "PCM_24"), (["--mp3", "--mp3-bitrate", "128"], "mp3", None)])
def test_output_formats_and_the_filename_template(tmp_path, flags, suffix, subtype):
    sf.write(tmp_path / "song.wav", _mix(), RATE)
    assert main([str(tmp_path / "song.wav"), "-o", str(tmp_path / "o"), "--filename", "{track}-{stem}.{ext}",
                 "--targets", "vocals", *flags, *FAST]) == 0
    written = tmp_path / "o" / "QuarterMixtureModel" / f"song-vocals.{suffix}"
    assert [p.name for p in written.parent.iterdir()] == [written.name]
    if subtype:
        assert sf.info(written).subtype == subtype
    else:
        audio, rate = read_audio(written)
        assert rate == RATE and np.abs(audio).max() > 0.05


def test_two_stems(tmp_path):
    mix = _mix()
    sf.write(tmp_path / "song.wav", mix, RATE, subtype="FLOAT")
    assert main([str(tmp_path / "song.wav"), "-o", str(tmp_path), "--two-stems", "vocals", "--float32", *FAST]) == 0
    folder = tmp_path / "QuarterMixtureModel" / "song"
    assert sorted(p.name for p in folder.iterdir()) == ["no_vocals.wav", "vocals.wav"]
    np.testing.assert_allclose(sf.read(folder / "vocals.wav")[0], mix / 4, atol=1e-6)
    np.testing.assert_allclose(sf.read(folder / "no_vocals.wav")[0], 3 * mix / 4, atol=1e-6)


def test_inputs_and_data_folders_are_never_overwritten(tmp_path, capsys):
    mix = _mix(0.5)
    track = tmp_path / "QuarterMixtureModel" / "song"  # a data folder exactly where the outputs would go
    track.mkdir(parents=True)
    for name in ("mixture", "vocals"):
        sf.write(track / f"{name}.wav", mix, RATE)
    before = (track / "vocals.wav").read_bytes()
    with pytest.raises(ValueError, match="vocals.wav exists in a data folder; pass --overwrite"):
        main([str(track / "mixture.wav"), "-o", str(tmp_path), *FAST])
    assert sorted(p.name for p in track.iterdir()) == ["mixture.wav", "vocals.wav"]
    assert (track / "vocals.wav").read_bytes() == before
    with pytest.raises(ValueError, match="is an input file"):  # not even with --overwrite
        main([str(track / "vocals.wav"), "-o", str(tmp_path), "--filename", "song/{stem}.{ext}", "--overwrite",
              *FAST])
    assert (track / "vocals.wav").read_bytes() == before
    assert main([str(track / "mixture.wav"), "-o", str(tmp_path), "--overwrite", *FAST]) == 0
    np.testing.assert_allclose(sf.read(track / "vocals.wav")[0], mix / 4, atol=1e-4)


@pytest.mark.parametrize("flags, message", [
    (["--filename", "{track}.{ext}"], "must contain {stem}"),
    (["--filename", "{song}/{stem}.{ext}"], "only {track}, {stem} and {ext}"),
    (["--filename", "../{stem}.{ext}"], "must stay inside"),
    (["--flac", "--float32"], "FLAC holds integers only"),
    (["--mp3", "--mp3-bitrate", "1000"], "between 8 and 320"),
    (["--offset", "nan"], "--offset must be a finite number"),
    (["--duration", "0"], "--duration must be"),
    (["--offset", "9"], "past the end of"),
    (["--hop", "5"], "hop"),
    (["MISSING"], "MISSING: no such file or folder"),
    (["--device", f"cuda:{torch.cuda.device_count()}"], "is not available"),  # one past the last GPU
])
def test_every_argument_is_checked_before_any_separation(tmp_path, capsys, flags, message):
    sf.write(tmp_path / "song.wav", _mix(0.5), RATE)
    argv = [str(tmp_path / "song.wav"), "-o", str(tmp_path / "out"), *FAST, *flags]
    if flags == ["MISSING"]:
        argv = [str(tmp_path / "song.wav"), str(tmp_path / "MISSING"), "-o", str(tmp_path / "out"), *FAST]
    try:
        main(argv)
        raise AssertionError("accepted")
    except SystemExit:
        assert message in capsys.readouterr().err
    except ValueError as e:
        assert message in str(e)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.wav"))


def test_inputs_are_checked_before_the_model_loads(tmp_path, monkeypatch):
    """A mistyped path or a file that is not audio is told at once, not after the model's load and warm-up."""
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr("tools.separate.Separator", no_model)
    sf.write(tmp_path / "song.wav", _mix(0.5), RATE)
    (tmp_path / "notes.wav").write_text("not audio")
    for argv, message in [([str(tmp_path / "MISSING.wav")], "no such file or folder"),
                          ([str(tmp_path / "notes.wav")], "not an audio file"),
                          ([str(tmp_path / "song.wav"), "--offset", "9"], "past the end of")]:
        with pytest.raises(ValueError, match=message):
            main([*argv, "-o", str(tmp_path / "out"), *FAST])


def test_output_root_must_be_a_writable_folder(tmp_path, capsys):
    sf.write(tmp_path / "song.wav", _mix(0.5), RATE)
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "song.wav"), "-o", str(tmp_path / "file" / "sub"), *FAST])
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_user_error_is_one_line_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tools.separate", str(tmp_path / "nothing.wav")], cwd=REPO,
                          capture_output=True, text=True)
    missing = tmp_path / "nothing.wav"
    assert done.returncode == 1 and done.stderr.strip() == f"separate: {missing}: no such file or folder"
    done = subprocess.run([sys.executable, "-m", "tools.separate", str(tmp_path / "nothing.wav"), "--debug"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_the_python_api(tmp_path):
    mix = _mix(0.5)
    separator = Separator(model=QUARTER, device="cpu", precision="fp32", targets=["vocals", "bass"])
    stems = separator.separate_array(mix, RATE)
    assert list(stems) == ["bass", "vocals"]
    np.testing.assert_allclose(stems["vocals"], mix / 4, atol=1e-6)
    stems, rate = separator.separate_file(_encode(tmp_path / "song.flac", mix), offset=0.25)
    assert rate == RATE and stems["bass"].shape == (RATE // 4, 2)
    np.testing.assert_allclose(stems["bass"], mix[RATE // 4:] / 4, atol=1e-4)
