"""Chunked inference: what precision ``auto`` picks and that the pick is what runs; one input shape throughout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models import BSRNNConfig, Chunking, apply, build_model, separate
from models.apply import resolve_precision


def _cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to cross-check the CPU's features")
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("/proc/cpuinfo lists no flags")


def test_native_bf16_detection_agrees_with_the_cpu_flags():
    flags = _cpu_flags()
    expected = torch.backends.mkldnn.is_available() and bool({"avx512_bf16", "amx_bf16"} & flags)
    assert apply.cpu_has_native_bf16() == expected


@pytest.mark.parametrize("native,expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_cpu_follows_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(apply, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("auto", torch.device("cpu")) == expected


def test_auto_on_cuda_is_fp16_and_explicit_choices_pass_through():
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision("auto", "cuda:1") == "fp16"
    for precision in ("fp32", "bf16", "fp16"):
        assert resolve_precision(precision, "cpu") == precision
        assert resolve_precision(precision, "cuda") == precision
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8", "cpu")


@pytest.mark.parametrize("native", [True, False])
def test_separate_with_auto_runs_the_resolved_precision(monkeypatch, native):
    monkeypatch.setattr(apply, "cpu_has_native_bf16", lambda: native)
    torch.manual_seed(0)
    model = build_model(BSRNNConfig(feature_dim=8, num_repeat=1)).eval()
    x = torch.randn(2, 12000)
    auto, fp32, bf16 = (separate(model, x, 1, 44100, Chunking(0.2, 0.1, precision=p)) for p in ("auto", "fp32", "bf16"))
    assert not torch.equal(fp32, bf16)  # the two precisions are distinguishable at all
    assert torch.equal(auto, bf16 if native else fp32)


@pytest.mark.parametrize("seconds", [0.05, 0.3, 0.95])
def test_every_forward_gets_the_same_shape(seconds):
    """Short signals, partial last windows and a short last batch are padded to (batch, channels, window)."""
    shapes = []

    def identity(batch: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(batch.shape))
        return batch[:, None].clone()

    x = torch.randn(2, round(seconds * 1000))
    y = separate(identity, x, 1, 1000, Chunking(0.2, 0.1, batch_size=3))
    assert set(shapes) == {(3, 2, 200)}
    torch.testing.assert_close(y[0], x)
