"""The submission: the grader's contract, every kind of input, the BSRNN weights folder, the wrapper, the CLI."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest
import soundfile as sf
import torch

import models
from models import BSRNNConfig, build_model, save_model
from my_submission.aicrowd_wrapper import AIcrowdWrapper
from my_submission.bsrnn_model import BSRNNModel, WeightsNotFoundError
from my_submission.identity_model import IdentityModel, QuarterMixtureModel
from my_submission.separation_model import INSTRUMENTS, Part, SeparationModel, describe_sources
from my_submission.settings import InferenceSettings
from tools.model_flags import (
    add_settings_flags,
    class_settings,
    construct_model,
    import_model_class,
    settings_from_flags,
)
from tools.separate import main as separate_main
from tools.separator import Separator

RATE = 44100
TINY = dict(feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])  # three bands: fast


# short windows, so that even second-long test signals are cut into several overlapping chunks; the networks'
# estimates as they are (mixture consistency has its own test)
SHORT = InferenceSettings(window=0.25, hop=0.1, batch_size=4, mixture_consistency=False)


def _music(seconds: float = 1.3, channels: int = 2, rate: int = RATE, seed: int = 0, noise: float = 0.05
           ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (110 * (c + 1)) * t + c) for c in range(channels)]
    return np.stack(tones, 1) + noise * rng.standard_normal((len(t), channels))


@pytest.fixture(scope="module")
def weights_folder(tmp_path_factory):
    """Tiny per-target BSRNN weight files, one per instrument."""
    folder = tmp_path_factory.mktemp("weights")
    for i, target in enumerate(INSTRUMENTS):
        torch.manual_seed(i)
        save_model(build_model(BSRNNConfig(targets=[target], **TINY)), folder / f"{target}.safetensors")
    return folder


@pytest.fixture
def bsrnn(weights_folder) -> BSRNNModel:
    return BSRNNModel(SHORT, weights_folder)


def _check_contract(stems: dict, rates: dict, mix: np.ndarray, rate: int) -> None:
    assert set(stems) == set(INSTRUMENTS) and set(rates) == set(INSTRUMENTS)
    for name in INSTRUMENTS:
        assert stems[name].shape == mix.shape
        assert rates[name] == rate and isinstance(rates[name], int)
        assert np.isfinite(stems[name]).all() and np.abs(stems[name]).max() <= 1


def test_identity_model_returns_the_mixture_unchanged():
    model = IdentityModel(dataclasses.replace(SHORT, mixture_consistency=True))  # never applied to this baseline
    assert model.instruments == ["bass", "drums", "other", "vocals"]
    with pytest.raises(NameError, match="boom"):
        model.raise_aicrowd_error("boom")
    mix = _music()
    stems, rates = model.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    for stem in stems.values():
        np.testing.assert_allclose(stem, mix, atol=1e-6)


def test_quarter_mixture_model_splits_the_mixture_evenly():
    mix = _music()
    stems, rates = QuarterMixtureModel(SHORT).separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    for stem in stems.values():
        np.testing.assert_allclose(stem, mix / 4, atol=1e-6)


def test_network_sees_at_most_one_batch_of_windows():
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x.unsqueeze(1).expand(-1, 4, -1, -1).clone()

    model = SeparationModel([Part(Spy(), INSTRUMENTS)], RATE, SHORT)
    mix = _music(seconds=2.0)
    stems, _ = model.separate_music_file(mix, RATE)
    window = round(0.25 * RATE)
    assert len(seen) > 2 and all(b <= 4 and c == 2 and n == window for b, c, n in seen)
    np.testing.assert_allclose(stems["drums"], mix, atol=1e-6)


def test_bsrnn_matches_the_chunked_routine_per_target(bsrnn, weights_folder):
    mix = _music(seconds=0.45)
    stems, rates = bsrnn.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    for target in INSTRUMENTS:
        network = models.load_model(weights_folder / f"{target}.safetensors")
        expected = models.separate(network, torch.from_numpy(mix.T.astype(np.float32)), 1, RATE,
                                   SHORT.chunking())[0]
        np.testing.assert_allclose(stems[target], np.clip(expected.numpy().T, -1, 1), atol=1e-5)
    assert not np.allclose(stems["vocals"], stems["bass"])


@pytest.mark.parametrize("shape", ["(N,)", "(N, 1)"])
def test_mono_in_mono_out(bsrnn, shape):
    mono = _music(seconds=0.4, channels=1)
    mix = mono[:, 0] if shape == "(N,)" else mono
    stems, rates = bsrnn.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    stereo, _ = bsrnn.separate_music_file(np.repeat(mono, 2, axis=1), RATE)
    for target in INSTRUMENTS:  # dual mono, averaged back
        np.testing.assert_allclose(stems[target].reshape(-1), stereo[target].mean(1), atol=1e-6)


def test_more_than_two_channels_run_as_pairs(bsrnn):
    mix = _music(seconds=0.4, channels=3)
    stems, rates = bsrnn.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    first_pair, _ = bsrnn.separate_music_file(mix[:, :2], RATE)
    last, _ = bsrnn.separate_music_file(mix[:, 2], RATE)
    for target in INSTRUMENTS:
        np.testing.assert_allclose(stems[target][:, :2], first_pair[target], atol=1e-6)
        np.testing.assert_allclose(stems[target][:, 2], last[target], atol=1e-6)
    identity, _ = IdentityModel(SHORT).separate_music_file(mix, RATE)
    np.testing.assert_allclose(identity["other"], mix, atol=1e-6)


@pytest.mark.parametrize("rate", [48000, 22050, 8000])
def test_other_sample_rates_are_resampled_in_and_out(bsrnn, rate):
    mix = _music(seconds=0.4, rate=rate, noise=0)  # tones well below every Nyquist frequency
    stems, rates = IdentityModel(SHORT).separate_music_file(mix, rate)
    _check_contract(stems, rates, mix, rate)
    # a resampling round trip keeps a band-limited signal (soxr, not sample dropping); the edges ring a little
    np.testing.assert_allclose(stems["vocals"][200:-200], mix[200:-200], atol=2e-3)
    stems, rates = bsrnn.separate_music_file(mix, rate)
    _check_contract(stems, rates, mix, rate)


def test_integer_and_float32_inputs():
    model = IdentityModel(SHORT)
    mix = _music(seconds=0.4)
    pcm16 = np.round(mix * 32767).astype(np.int16)
    stems, _ = model.separate_music_file(pcm16, RATE)
    np.testing.assert_allclose(stems["bass"], pcm16 / 32768.0, atol=1e-6)
    pcm32 = (mix * 2 ** 30).astype(np.int32)
    stems, _ = model.separate_music_file(pcm32, RATE)
    np.testing.assert_allclose(stems["bass"], pcm32 / 2.0 ** 31, atol=1e-6)
    stems, rates = model.separate_music_file(mix.astype(np.float32), np.int64(RATE))
    _check_contract(stems, rates, mix, RATE)
    with pytest.raises(ValueError, match="dtype uint8"):
        model.separate_music_file(np.zeros((10, 2), np.uint8), RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        model.separate_music_file(mix, 44100.5)


def test_shorter_than_one_window(bsrnn):
    for frames in (1, 2047):
        mix = _music(seconds=frames / RATE)
        stems, rates = bsrnn.separate_music_file(mix, RATE)
        _check_contract(stems, rates, mix, RATE)
        identity, _ = IdentityModel(SHORT).separate_music_file(mix, RATE)
        np.testing.assert_allclose(identity["vocals"], mix, atol=1e-6)


def test_bad_inputs_are_clear_errors(bsrnn):
    with pytest.raises(ValueError, match="empty"):
        bsrnn.separate_music_file(np.zeros((0, 2)), RATE)
    with pytest.raises(ValueError, match="empty"):
        bsrnn.separate_music_file(np.zeros((100, 0)), RATE)
    with pytest.raises(ValueError, match="shape"):
        bsrnn.separate_music_file(np.zeros((100, 2, 1)), RATE)
    for bad in (np.nan, np.inf, -np.inf):
        mix = _music(seconds=0.2)
        mix[4410, 1] = bad
        with pytest.raises(ValueError, match=r"NaN or infinite.*sample 4410 \(0.100 s\)"):
            bsrnn.separate_music_file(mix, RATE)


def test_channels_first_and_too_many_channels_are_refused_naming_the_axes(bsrnn):
    mix = _music(seconds=0.1)
    with pytest.raises(ValueError, match=r"\(2, 4410\) reads as 2 sample\(s\) \(axis 0\) of 4410 channels.*array.T"):
        bsrnn.separate_music_file(mix.T, RATE)
    with pytest.raises(ValueError, match="40 channels"):
        bsrnn.separate_music_file(np.zeros((RATE, 40)), RATE)
    with pytest.raises(ValueError, match=r"reads as 4 sample\(s\) \(axis 0\) of 6 channels"):
        bsrnn.separate_music_file(np.zeros((4, 6)), RATE)
    stems, _ = bsrnn.separate_music_file(_music(seconds=0.1, channels=6), RATE)  # a 5.1 mix is fine
    assert stems["vocals"].shape == (4410, 6)


@pytest.mark.parametrize("rate", [1, 7999, 384001, 10 ** 9, float("nan"), float("inf"), -44100, "44100", None])
def test_sample_rate_is_bounded_and_named(bsrnn, rate):
    with pytest.raises(ValueError, match=r"sample_rate must be a whole number of Hz in \[8000, 384000\]"):
        bsrnn.separate_music_file(_music(seconds=0.01), rate)


def test_float64_beyond_float32_range_is_too_large_not_nan(bsrnn):
    mix = _music(seconds=0.2)
    mix[4410, 0] = 1e300
    with pytest.raises(ValueError, match=r"1 value\(s\) too large for float32, the first at sample 4410"):
        bsrnn.separate_music_file(mix, RATE)


def test_silence_in_silence_out(bsrnn):
    mix = np.zeros((RATE // 3, 2))
    stems, rates = bsrnn.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    assert all(not s.any() for s in stems.values())


def test_values_beyond_full_scale_are_clipped(bsrnn):
    mix = 4 * _music(seconds=0.3)
    for model in (bsrnn, IdentityModel(SHORT)):
        stems, rates = model.separate_music_file(mix, RATE)
        _check_contract(stems, rates, mix, RATE)
    assert np.abs(stems["vocals"]).max() == 1.0


def test_active_targets_skip_the_others(bsrnn):
    bsrnn.active_targets = ("vocals",)
    mix = _music(seconds=0.3)
    stems, _ = bsrnn.separate_music_file(mix, RATE)
    assert stems["vocals"].any() and not stems["bass"].any()


def test_a_partial_weights_folder_gives_the_residual_to_the_missing_targets(weights_folder, tmp_path):
    (tmp_path / "vocals.safetensors").write_bytes((weights_folder / "vocals.safetensors").read_bytes())
    partial, full = BSRNNModel(SHORT, tmp_path), BSRNNModel(SHORT, weights_folder)
    assert partial.fallback_targets == ("bass", "drums", "other")
    assert partial.target_sources() == {"bass": "fallback", "drums": "fallback", "other": "fallback",
                                        "vocals": "vocals.safetensors"}
    mix = 0.3 * _music(seconds=0.4)
    stems, rates = partial.separate_music_file(mix, RATE)
    _check_contract(stems, rates, mix, RATE)
    vocals = full.separate_music_file(mix, RATE)[0]["vocals"]
    np.testing.assert_allclose(stems["vocals"], vocals, atol=1e-6)  # the same network, the same estimate
    for target in ("bass", "drums", "other"):
        np.testing.assert_allclose(stems[target], (mix - vocals) / 3, atol=1e-5)
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-5)
    partial.active_targets = ("vocals",)  # only the network runs; the fallback targets stay silent
    only = partial.separate_music_file(mix, RATE)[0]
    np.testing.assert_allclose(only["vocals"], vocals, atol=1e-6)
    assert not only["bass"].any()
    partial.active_targets = ("drums",)  # a fallback target needs every network's estimate
    np.testing.assert_allclose(partial.separate_music_file(mix, RATE)[0]["drums"], (mix - vocals) / 3, atol=1e-5)
    text = describe_sources(partial.target_sources())
    assert text.startswith("bass, drums, other: fallback (the residual") and text.endswith(
        "vocals: network (vocals.safetensors)")


def test_mixture_consistency_shares_the_residual_among_all_four(weights_folder):
    mix = 0.3 * _music(seconds=0.4)
    raw = BSRNNModel(SHORT, weights_folder).separate_music_file(mix, RATE)[0]
    consistent_model = BSRNNModel(dataclasses.replace(SHORT, mixture_consistency=True), weights_folder)
    assert consistent_model.residual_targets() == INSTRUMENTS
    consistent = consistent_model.separate_music_file(mix, RATE)[0]
    share = (mix - sum(raw.values())) / 4
    assert np.abs(share).max() > 1e-3  # the tiny random networks leave a residual to share
    for target in INSTRUMENTS:
        np.testing.assert_allclose(consistent[target], raw[target] + share, atol=1e-5)
    np.testing.assert_allclose(sum(consistent.values()), mix, atol=1e-5)
    consistent_model.active_targets = ("vocals",)  # its share needs every network: the same vocals as above
    only = consistent_model.separate_music_file(mix, RATE)[0]
    np.testing.assert_allclose(only["vocals"], consistent["vocals"], atol=1e-6)


def test_without_other_the_residual_goes_to_other(weights_folder, tmp_path):
    for target in ("bass", "drums", "vocals"):
        (tmp_path / f"{target}.safetensors").write_bytes((weights_folder / f"{target}.safetensors").read_bytes())
    mix = 0.3 * _music(seconds=0.3)
    stems, _ = BSRNNModel(SHORT, tmp_path).separate_music_file(mix, RATE)
    np.testing.assert_allclose(stems["other"], mix - stems["bass"] - stems["drums"] - stems["vocals"], atol=1e-5)


def test_weights_folder_layouts_and_errors(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nowhere does not exist"):
        BSRNNModel(SHORT, tmp_path / "nowhere")
    with pytest.raises(WeightsNotFoundError, match="no .safetensors"):
        BSRNNModel(SHORT, tmp_path)
    torch.manual_seed(0)
    multi = build_model(BSRNNConfig(targets=["bass", "drums", "other", "vocals"], **TINY))
    save_model(multi, tmp_path / "all.safetensors")
    model = BSRNNModel(SHORT, tmp_path)
    assert [p.targets for p in model.parts] == [("bass", "drums", "other", "vocals")]
    mix = _music(seconds=0.4)
    stems, _ = model.separate_music_file(mix, RATE)
    expected = models.separate(multi.eval(), torch.from_numpy(mix.T.astype(np.float32)), 4, RATE,
                               SHORT.chunking())
    np.testing.assert_allclose(stems["other"], np.clip(expected[2].numpy().T, -1, 1), atol=1e-5)
    save_model(build_model(BSRNNConfig(targets=["vocals"], **TINY)), tmp_path / "vocals.safetensors")
    with pytest.raises(ValueError, match="vocals is output by both all.safetensors and vocals.safetensors"):
        BSRNNModel(SHORT, tmp_path)
    (tmp_path / "all.safetensors").unlink()
    assert BSRNNModel(SHORT, tmp_path).fallback_targets == ("bass", "drums", "other")
    save_model(build_model(BSRNNConfig(targets=["vocals"], **TINY)), tmp_path / "bass.safetensors")
    with pytest.raises(ValueError, match="bass.safetensors is named after bass but its model outputs"):
        BSRNNModel(SHORT, tmp_path)


def test_user_config_binds_the_bsrnn_model(bsrnn, weights_folder, tmp_path):
    from my_submission.user_config import MySeparationModel

    assert MySeparationModel is BSRNNModel
    assert bsrnn.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert import_model_class("my_submission.identity_model.IdentityModel") is IdentityModel
    with pytest.raises(ValueError, match="no class 'Nope'"):
        import_model_class("my_submission.identity_model.Nope")
    with pytest.raises(ValueError, match="cannot import"):
        import_model_class("no_such_package.Model")
    assert construct_model(IdentityModel, SHORT, tmp_path).settings == SHORT  # takes settings, not a folder
    assert construct_model(BSRNNModel, SHORT, weights_folder).weight_files[0].parent == weights_folder


class BoundSettingsModel(IdentityModel):
    """A user_config-style class that binds its own inference settings."""

    def __init__(self, settings: InferenceSettings = SHORT) -> None:
        super().__init__(settings)


def test_the_tools_start_from_the_settings_a_model_class_binds():
    assert class_settings(BoundSettingsModel) == SHORT
    assert class_settings(BSRNNModel) == class_settings(IdentityModel) == InferenceSettings()
    parser = argparse.ArgumentParser()
    add_settings_flags(parser)
    flags = settings_from_flags(parser.parse_args(["--hop", "0.2"]), base=class_settings(BoundSettingsModel))
    assert flags == dataclasses.replace(SHORT, hop=0.2)  # the flags go on top of the class's settings
    assert Separator(model=BoundSettingsModel).model.settings == SHORT  # as the grader would run it
    assert Separator(model=BoundSettingsModel, device="cpu").model.settings == dataclasses.replace(SHORT, device="cpu")


def test_evaluate_locally_runs_a_model_with_the_settings_it_binds(tmp_path, monkeypatch):
    import json
    import sys

    import evaluate_locally
    from tests.conftest import write_noise_dataset

    write_noise_dataset(tmp_path / "data", n_tracks=1, seconds=1.0)
    monkeypatch.setitem(sys.modules, "bound_model", type(sys)("bound_model"))
    sys.modules["bound_model"].BoundSettingsModel = BoundSettingsModel
    out = tmp_path / "out"
    evaluate_locally.main(["--data", str(tmp_path / "data"), "--outputs", str(out), "--model",
                           "bound_model.BoundSettingsModel", "--metric", "global", "--batch-size", "2"])
    stored = json.loads(next((out / "scores").glob("*.json")).read_text())["run"]["settings"]
    assert stored == dataclasses.asdict(dataclasses.replace(SHORT, batch_size=2))


def test_settings_defaults_flags_and_checks():
    settings = InferenceSettings()
    assert (settings.window, settings.hop, settings.batch_size, settings.precision, settings.device,
            settings.mixture_consistency) == (3.0, 3.0, 4, "auto", "auto", True)
    parser = argparse.ArgumentParser()
    add_settings_flags(parser)
    args = parser.parse_args(["--window", "4", "--hop", "2", "--batch-size", "8", "--precision", "bf16",
                              "--device", "cpu"])
    assert settings_from_flags(args, progress=True) == InferenceSettings(4.0, 2.0, 8, "bf16", "cpu", True)
    assert settings_from_flags(parser.parse_args([])) == settings
    assert not settings_from_flags(parser.parse_args(["--no-mixture-consistency"])).mixture_consistency
    with pytest.raises(ValueError, match="hop"):
        settings_from_flags(parser.parse_args(["--hop", "5"]))
    with pytest.raises(ValueError, match="precision"):
        InferenceSettings(precision="fp8")
    with pytest.raises(ValueError, match="device"):
        InferenceSettings(device="tpu9")
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU: on a CPU-only machine, cuda:0
    with pytest.raises(ValueError, match=f"inference device '{missing}' is not available"):
        InferenceSettings(device=missing).torch_device()
    with pytest.raises(ValueError, match=f"inference device '{missing}' is not available"):
        QuarterMixtureModel(InferenceSettings(device=missing))  # what every model and tool constructs through


def _dataset(root, songs=("b song", "a song"), seconds=0.4):
    for i, song in enumerate(songs):
        (root / song).mkdir(parents=True)
        sf.write(root / song / "mixture.wav", _music(seconds=seconds, seed=i) * 0.5, RATE)
    (root / ".DS_Store").write_text("")
    return root


def test_wrapper_writes_16_bit_stems_like_the_grader(tmp_path, bsrnn):
    data = _dataset(tmp_path / "data")
    wrapper = AIcrowdWrapper(data, tmp_path / "predictions", model=bsrnn)
    assert wrapper.separate_music_file("a song") is True
    mixture, _ = sf.read(data / "a song" / "mixture.wav")
    for name in INSTRUMENTS:
        path = tmp_path / "predictions" / "a song" / f"{name}.wav"
        assert sf.info(path).subtype == "PCM_16" and sf.info(path).samplerate == RATE
        assert sf.read(path)[0].shape == mixture.shape
    assert not list((tmp_path / "predictions" / "a song").glob(".*"))  # no temporary files left


def test_full_scale_survives_16_bit_writing(tmp_path):
    mix = np.zeros((1000, 2))
    mix[::2] = 1.0
    mix[1::2] = -1.0
    data = tmp_path / "data"
    (data / "s").mkdir(parents=True)
    sf.write(data / "s" / "mixture.wav", mix, RATE, subtype="FLOAT")
    AIcrowdWrapper(data, tmp_path / "out", model=IdentityModel(SHORT)).separate_music_file("s")
    written, _ = sf.read(tmp_path / "out" / "s" / "vocals.wav")
    assert written.max() > 0.999 and written.min() < -0.999  # clipped, not wrapped around


def test_wrapper_respects_the_server_environment(tmp_path, monkeypatch):
    data = _dataset(tmp_path / "server-data")
    monkeypatch.setenv("AICROWD_DATASET_DIR", str(data))
    monkeypatch.setenv("AICROWD_PUBLIC_SHARED_DIR", str(tmp_path / "shared"))
    wrapper = AIcrowdWrapper("ignored", "ignored", model=IdentityModel(SHORT))
    wrapper.separate_music_file("b song")
    assert (tmp_path / "shared" / "predictions" / "b song" / "drums.wav").is_file()
    monkeypatch.setenv("AICROWD_DATASET_DIR", str(tmp_path / "missing"))
    with pytest.raises(NameError, match="missing does not exist"):
        AIcrowdWrapper(model=IdentityModel(SHORT))


def test_wrapper_rejects_a_bad_answer(tmp_path):
    data = _dataset(tmp_path / "data")

    class WrongKeys(IdentityModel):
        def separate_music_file(self, mix, rate):
            stems, rates = super().separate_music_file(mix, rate)
            return {**stems, "piano": stems["bass"]}, rates

    class WrongLength(IdentityModel):
        def separate_music_file(self, mix, rate):
            stems, rates = super().separate_music_file(mix, rate)
            return {k: v[:-1] for k, v in stems.items()}, rates

    with pytest.raises(NameError, match="keyed"):
        AIcrowdWrapper(data, tmp_path / "p", model=WrongKeys()).separate_music_file("a song")
    with pytest.raises(NameError, match="same shape"):
        AIcrowdWrapper(data, tmp_path / "p", model=WrongLength()).separate_music_file("a song")


def test_separate_command_with_a_partial_weights_folder(weights_folder, tmp_path, capsys):
    partial = tmp_path / "weights"
    partial.mkdir()
    (partial / "vocals.safetensors").write_bytes((weights_folder / "vocals.safetensors").read_bytes())
    song = tmp_path / "song.wav"
    mix = _music(seconds=2.0) * 0.3
    sf.write(song, mix, RATE, subtype="FLOAT")
    flags = ["--weights", str(partial), "--window", "0.25", "--hop", "0.1", "--precision", "fp32", "--float32",
             "--offset", "0.5", "--duration", "1"]
    assert separate_main([str(song), "-o", str(tmp_path / "out"), "--targets", "vocals", *flags]) == 0
    folder = tmp_path / "out" / "vocals" / "song"  # <model> is the weight files' names
    assert [p.name for p in folder.iterdir()] == ["vocals.wav"]
    model = BSRNNModel(dataclasses.replace(SHORT, precision="fp32"), partial)
    expected = model.separate_music_file(mix[RATE // 2:RATE // 2 + RATE], RATE)[0]
    np.testing.assert_allclose(sf.read(folder / "vocals.wav")[0], expected["vocals"], atol=1e-5)
    assert separate_main([str(song), "-o", str(tmp_path / "all"), *flags]) == 0
    assert "bass, drums, other: fallback" in capsys.readouterr().out
    folder = tmp_path / "all" / "vocals" / "song"
    assert sorted(p.name for p in folder.iterdir()) == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    np.testing.assert_allclose(sf.read(folder / "drums.wav")[0], expected["drums"], atol=1e-5)
