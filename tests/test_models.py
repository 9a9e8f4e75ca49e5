"""The BSRNN family: band schemes, shapes of every variant, gradients, weight files, chunked inference."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import models
from models import BSRNNConfig, Chunking, band_widths, build_model, load_model, save_model, separate
from tests.reference import reference_forward

SMALL = dict(feature_dim=8, num_repeat=1)
VARIANTS = {
    "lstm": {},
    "gru-conv": dict(time_layer="gru", band_layer="conv"),
    "conv-gru": dict(time_layer="conv", band_layer="gru"),
    "attention": dict(n_heads=2, enc_dim=4),
    "tac": dict(stereo="tac"),
    "mask-2-hidden": dict(mask_hidden_layers=2),
    "bass": dict(targets=["bass"]),
    "drums": dict(targets=["drums"]),
    "multi-target": dict(targets=["bass", "drums", "other", "vocals"], band_scheme="vocals"),
    "custom-scheme": dict(band_scheme=[[500, 100], [4000, 1000]]),
}


def small(**kw) -> models.BSRNN:
    torch.manual_seed(0)
    return build_model(BSRNNConfig(**{**SMALL, **kw}))


@pytest.mark.parametrize("target,count", [("vocals", 41), ("bass", 30), ("drums", 55), ("other", 41)])
def test_paper_band_counts(target, count):
    widths = band_widths(target)
    assert len(widths) == count
    assert sum(widths) == 1025 and min(widths) >= 1


@pytest.mark.parametrize("target", ["vocals", "bass", "drums", "other"])
@pytest.mark.parametrize("sample_rate,n_fft", [(44100, 2048), (48000, 4096), (16000, 512), (8000, 256), (44100, 64)])
def test_every_bin_in_exactly_one_band(target, sample_rate, n_fft):
    widths = band_widths(target, sample_rate, n_fft)
    assert sum(widths) == n_fft // 2 + 1
    assert all(w >= 1 for w in widths)


def test_bands_follow_the_hz_table():
    # vocals: 100 Hz bands up to 1 kHz -> the first ten bands end at round(1000 / 21.53) = 46 bins
    assert sum(band_widths("vocals")[:10]) == round(1000 / (44100 / 2048))
    # drums: 50 Hz bands up to 1 kHz are 2 or 3 bins wide
    assert set(band_widths("drums")[:20]) == {2, 3}


def test_custom_scheme_and_errors():
    assert len(band_widths([[1000, 500]])) == 3  # two bands below 1 kHz and the rest
    with pytest.raises(ValueError, match="unknown band scheme"):
        band_widths("piano")
    with pytest.raises(ValueError, match="must increase"):
        band_widths([[1000, 100], [500, 100]])
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        band_widths([[1000, 0]])


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="time_layer"):
        BSRNNConfig(time_layer="transformer")
    with pytest.raises(ValueError, match="targets"):
        BSRNNConfig(targets=["piano"])
    with pytest.raises(ValueError, match="band_scheme"):
        BSRNNConfig(targets=["bass", "drums"])
    with pytest.raises(ValueError, match="unknown field"):
        BSRNNConfig.from_dict({"feature_dimension": 4})
    with pytest.raises(ValueError, match="n_heads"):
        BSRNNConfig(feature_dim=6, n_heads=4)


def test_paper_size_parameter_count():
    # the paper-faithful vocals model, channels as batch items: 25.65 M (reference/bsrnn.md)
    model = build_model(BSRNNConfig())
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 25.65


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("length", [1, 100, 2047, 2048, 5000])
def test_output_shape_every_variant_and_length(name, length):
    model = small(**VARIANTS[name]).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 2, length))
    assert y.shape == (2, len(model.targets), 2, length)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_matches_the_per_band_reference(name):
    model = small(**VARIANTS[name]).eval()
    x = torch.randn(2, 2, 9000)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference_forward(model, x), rtol=1e-4, atol=1e-5)


def test_mono_and_multichannel_items():
    model = small().eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 4000)).shape == (3, 1, 1, 4000)
    with pytest.raises(ValueError, match="batch, channels, samples"):
        model(torch.randn(4000))
    with pytest.raises(ValueError, match="samples > 0"):
        model(torch.randn(1, 2, 0))


@pytest.mark.parametrize("name", VARIANTS)
def test_gradients_reach_every_parameter(name):
    model = small(**VARIANTS[name]).train()
    model(torch.randn(2, 2, 6000)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("name", ["lstm", "attention", "tac", "multi-target"])
def test_batch_items_are_independent_in_eval(name):
    model = small(**VARIANTS[name]).eval()
    x = torch.randn(3, 2, 7000)
    with torch.no_grad():
        together = model(x)
        alone = model(x[1:2])
    torch.testing.assert_close(together[1:2], alone, rtol=1e-4, atol=1e-6)


def test_deterministic_under_a_seed():
    x = torch.randn(1, 2, 5000)
    with torch.no_grad():
        a, b = small(n_heads=1).eval()(x), small(n_heads=1).eval()(x)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["lstm", "attention", "tac", "multi-target", "custom-scheme"])
def test_save_load_bit_identical(tmp_path, name):
    model = small(**VARIANTS[name]).eval()
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert loaded.config == model.config
    x = torch.randn(1, 2, 6000)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left behind


def test_weight_file_has_the_permissions_open_gives(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = save_model(small(), tmp_path / "m.safetensors")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def _tensors(model):
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def _meta(model):
    return {"format": "bsrnn-kit/1", "config": model.config.to_json()}


def test_load_errors_name_the_file(tmp_path):
    model = small()
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_model(tmp_path / "nope.safetensors")

    pickle_like = tmp_path / "weights.pth"
    torch.save(model.state_dict(), pickle_like)
    with pytest.raises(ValueError, match="weights.pth.*not a readable safetensors"):
        load_model(pickle_like)

    no_meta = tmp_path / "no_meta.safetensors"
    save_file(_tensors(model), str(no_meta))
    with pytest.raises(ValueError, match="no_meta.safetensors.*not a BSRNN weight file"):
        load_model(no_meta)

    tensors = _tensors(model)
    tensors.pop("band_split.bias")
    missing = tmp_path / "missing.safetensors"
    save_file(tensors, str(missing), metadata=_meta(model))
    with pytest.raises(ValueError, match=r"missing.safetensors.*missing \['band_split.bias'\]"):
        load_model(missing)

    tensors = {**_tensors(model), "extra.weight": torch.zeros(2)}
    unknown = tmp_path / "unknown.safetensors"
    save_file(tensors, str(unknown), metadata=_meta(model))
    with pytest.raises(ValueError, match=r"unknown.safetensors.*unknown \['extra.weight'\]"):
        load_model(unknown)

    tensors = {**_tensors(model), "band_split.bias": torch.zeros(3, 3)}
    shapes = tmp_path / "shapes.safetensors"
    save_file(tensors, str(shapes), metadata=_meta(model))
    with pytest.raises(ValueError, match="shapes.safetensors.*band_split.bias"):
        load_model(shapes)

    bad_config = tmp_path / "bad_config.safetensors"
    save_file(_tensors(model), str(bad_config), metadata={**_meta(model), "config": json.dumps({"feature_dim": -1})})
    with pytest.raises(ValueError, match="bad_config.safetensors.*feature_dim"):
        load_model(bad_config)


def _config_file(path, **config) -> str:
    """A small safetensors file whose metadata describes the model ``config`` (its tensors are whatever fits)."""
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "bsrnn-kit/1", "config": json.dumps(config)})
    return path


@pytest.mark.parametrize("field, value", [("feature_dim", 4096), ("num_repeat", 100), ("n_fft", 2 ** 31),
                                          ("rnn_hidden", 10 ** 6), ("sample_rate", 10 ** 9)])
def test_configs_beyond_sane_bounds_are_refused_naming_the_file(tmp_path, field, value):
    path = _config_file(tmp_path / "huge.safetensors", **{field: value})
    with pytest.raises(ValueError, match=rf"huge.safetensors: invalid model config.*BSRNNConfig.{field}: expected an "
                                         r"integer in \["):
        load_model(path)


def test_tensors_are_checked_against_the_config_before_building(tmp_path, monkeypatch):
    built = []

    class Recording(models.BSRNN):
        def __init__(self, config):
            built.append(torch.get_default_device().type)
            super().__init__(config)

    monkeypatch.setattr(models.weights, "BSRNN", Recording)
    # within the bounds but about 3 GB of weights, described by a file of a few hundred bytes
    path = _config_file(tmp_path / "big.safetensors", feature_dim=1024, num_repeat=24)
    with pytest.raises(ValueError, match=r"big.safetensors: tensors do not match.*unknown \['w'\]"):
        load_model(path)
    assert built == ["meta"]  # only the cheap shape-only model was built
    built.clear()
    model = small()
    save_model(model, tmp_path / "ok.safetensors")
    assert sum(p.numel() for p in load_model(tmp_path / "ok.safetensors").parameters()) > 0
    assert built == ["meta", "cpu"]
    tensors = {k: v.double() for k, v in _tensors(model).items()}
    save_file(tensors, str(tmp_path / "f64.safetensors"), metadata=_meta(model))
    with pytest.raises(ValueError, match=r"f64.safetensors: tensors are stored as \['F64'\], expected F32 or F16"):
        load_model(tmp_path / "f64.safetensors")


def test_fp16_weight_file_loads_as_fp32(tmp_path):
    model = small()
    path = save_model(model, tmp_path / "half.safetensors", torch.float16)
    assert path.stat().st_size < 0.6 * save_model(model, tmp_path / "full.safetensors").stat().st_size
    loaded = load_model(path)
    for name, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, model.state_dict()[name].half().float())
    with torch.no_grad():
        next(model.parameters())[0] = 1e5  # beyond fp16's largest value (65504)
    with pytest.raises(ValueError, match=r"do not fit in float16 \(values overflow to inf\); store them as float32"):
        save_model(model, tmp_path / "big.safetensors", torch.float16)
    assert not (tmp_path / "big.safetensors").exists()


def test_deeply_nested_config_is_a_clear_error(tmp_path):
    path = tmp_path / "nested.safetensors"
    nested = "[" * 100000 + "]" * 100000
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "bsrnn-kit/1", "config": nested})
    with pytest.raises(ValueError, match="nested.safetensors: the model config in its metadata is nested too deeply"):
        load_model(path)
    for text, kind in (("[1, 2]", "list"), ("{", "not valid JSON")):
        _ = save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "bsrnn-kit/1", "config": text})
        with pytest.raises(ValueError, match=f"nested.safetensors: the model config in its metadata .*{kind}"):
            load_model(path)


def test_folders_devices_and_dangling_links_named_as_such(tmp_path):
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(ValueError, match="dir.safetensors is a folder, not a file"):
        load_model(tmp_path / "dir.safetensors")
    (tmp_path / "zero.safetensors").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"zero.safetensors \(a link to /dev/zero\) is not a regular file"):
        load_model(tmp_path / "zero.safetensors")
    (tmp_path / "gone.safetensors").symlink_to(tmp_path / "nowhere.safetensors")
    with pytest.raises(FileNotFoundError, match="gone.safetensors is a link to .*nowhere.safetensors, which does not"):
        load_model(tmp_path / "gone.safetensors")


def identity(batch: torch.Tensor) -> torch.Tensor:
    return batch[:, None]


@pytest.mark.parametrize("length", [1, 1000, 44100 * 3, 44100 * 7 + 17])
@pytest.mark.parametrize("window,hop", [(3.0, 0.5), (3.0, 3.0), (1.0, 0.3)])
def test_separate_passes_an_identity_model_unchanged(length, window, hop):
    x = torch.randn(2, length)
    y = separate(identity, x, 1, 44100, Chunking(window, hop, 3))
    assert y.shape == (1, 2, length)
    torch.testing.assert_close(y[0], x, rtol=0, atol=1e-5)


def test_separate_matches_whole_signal_where_windows_agree():
    # A model that scales by a constant is window-independent: chunked == whole.
    x = torch.randn(2, 44100 * 5)
    y = separate(lambda b: torch.stack([0.5 * b, -b], 1), x, 2, 44100, Chunking(2.0, 0.7, 2))
    torch.testing.assert_close(y, torch.stack([0.5 * x, -x]), rtol=0, atol=1e-5)


def test_separate_runs_a_real_model_and_checks_arguments():
    model = small().eval()
    x = torch.randn(2, 20000)
    y = separate(model, x, 1, 44100, Chunking(0.2, 0.1, 4, precision="bf16"))
    assert y.shape == (1, 2, 20000) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="empty"):
        separate(model, x[:, :0], 1, 44100)
    with pytest.raises(ValueError, match="hop"):
        separate(model, x, 1, 44100, Chunking(1.0, 2.0))
    with pytest.raises(ValueError, match="precision"):
        separate(model, x, 1, 44100, Chunking(precision="int4"))


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_autocast_output_close_to_fp32(precision):
    model = small(feature_dim=16, num_repeat=2, time_layer="gru", n_heads=1).eval()
    x = torch.randn(1, 2, 8000)
    ref = separate(model, x[0], 1, 44100, Chunking(0.1, 0.05))
    out = separate(model, x[0], 1, 44100, Chunking(0.1, 0.05, precision=precision))
    err = (out - ref).square().sum() / ref.square().sum()
    assert float(err) < (1e-3 if precision == "bf16" else 1e-10)
    assert np.isfinite(out.numpy()).all()
