"""GPU readiness check: the kit's models train and separate on a CUDA device, with the numbers in one table.

Parts (each runs on its own; a failure is printed in the table and the next part still runs):

- ``environment``: GPU name and memory, torch / CUDA / cuDNN / Lightning versions;
- ``train vocals 16-mixed`` and ``train vocals bf16-mixed``: a few optimizer steps of the paper vocals
  model (``train/configs/paper/vocals.yaml``: N=128, R=12) with the kit's t+tf loss, Adam and gradient
  clipping at 5, under Lightning's precision plugins, batch 2 of 3 s stereo items (the paper's recipe);
  median seconds per step after a warm-up, peak GPU memory, last loss;
- ``train multi-target``: one step of ``train/configs/multi-target.yaml`` (bf16-mixed where the GPU has
  bf16, else 16-mixed);
- ``separate <target> fp16``: real-time factor of ``models.separate`` for each paper per-target model
  (random weights) on a synthetic stereo track with the submission's default window, hop and batch,
  after one warm-up batch; the same in fp32 (TF32 off); and the agreement of the fp16 output with the fp32 output
  (SDR of the fp16 stems against the fp32 stems, and the largest absolute difference).

Without CUDA it prints one line saying so and exits 0. ``--device cpu --tiny`` runs every part on the CPU
with a small model and short audio (a smoke test of this script, not a measurement).

It imports no audio-file or dataset libraries (soundfile, soxr, museval, musdb), so it runs where only
torch, Lightning, numpy, safetensors and PyYAML are installed. Configs are read straight from their YAML
files (``train.config`` pulls in the dataset stack).

    python -m benchmarks.gpu_check
    python -m benchmarks.gpu_check --out gpu_check.md
    python -m benchmarks.gpu_check --device cpu --tiny
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "train" / "configs"
TARGETS = ("bass", "drums", "other", "vocals")
TINY = {"feature_dim": 8, "num_repeat": 1}  # --tiny: the smallest model the configs allow


@dataclass
class Row:
    """One line of the table."""

    check: str
    status: str  # ok | FAILED | skipped
    result: str
    seconds: float


@dataclass(frozen=True)
class Plan:
    """What to run: full size on the GPU, or a small smoke run (``tiny``)."""

    device: torch.device
    tiny: bool
    seconds: float  # length of the separated track
    segment: float  # seconds per training item
    warmup_steps: int
    timed_steps: int

    @property
    def half(self) -> tuple[str, str]:
        """The 16-bit float under test as (Lightning precision, inference precision): fp16 on CUDA; bf16 on the
        CPU, whose oneDNN LSTMs have no fp16 kernels (the CPU smoke run uses it in fp16's place)."""
        return ("16-mixed", "fp16") if self.device.type == "cuda" else ("bf16-mixed", "bf16")

    @classmethod
    def make(cls, device: torch.device, tiny: bool, seconds: float | None) -> Plan:
        if tiny:
            return cls(device, True, seconds or 7.0, 1.0, 1, 2)
        return cls(device, False, seconds or 30.0, 3.0, 2, 5)


def model_config(path: Path, tiny: bool = False) -> dict[str, Any]:
    """The ``model`` section of an experiment YAML, with the sections of its ``base:`` chain underneath."""
    data = yaml.safe_load(path.read_text()) or {}
    model: dict[str, Any] = {}
    if data.get("base"):
        model = model_config((path.parent / data["base"]).resolve())
    model.update(data.get("model") or {})
    return {**model, **TINY} if tiny else model


def synthetic_track(seconds: float, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """A stereo test signal ``(2, samples)``: a few steady tones plus noise, peak below 1."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(round(seconds * sample_rate)) / sample_rate
    tones = sum(0.1 * torch.sin(2 * math.pi * f * t) for f in (110.0, 440.0, 1318.5))
    noise = 0.05 * torch.randn(2, t.numel(), generator=generator)
    return (tones + noise).float()


def sdr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """Signal-to-distortion ratio of ``estimate`` against ``reference`` in dB (the global SDR formula)."""
    reference, estimate = reference.double(), estimate.double()
    error = (reference - estimate).pow(2).sum()
    return float(10 * torch.log10(reference.pow(2).sum() / error.clamp_min(1e-30)))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> str:
    if device.type != "cuda":
        return "peak memory n/a on CPU"
    return f"peak {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


@contextlib.contextmanager
def exact_fp32(enabled: bool) -> Iterator[None]:
    """TF32 off inside (cuDNN's RNNs use it by default on Ampere and newer), so fp32 is the exact reference."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    if enabled:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


# parts -----------------------------------------------------------------------------------------------------------

def environment(plan: Plan) -> str:
    import lightning

    versions = f"torch {torch.__version__}, Lightning {lightning.__version__}"
    if plan.device.type != "cuda":
        return f"CPU, {versions}, {torch.get_num_threads()} threads"
    props = torch.cuda.get_device_properties(plan.device)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability {props.major}.{props.minor}, "
            f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}; {versions}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}")


def train_steps(plan: Plan, config_path: Path, precision: str, steps: int, warmup: int) -> str:
    """``warmup + steps`` optimizer steps of the model in ``config_path`` under Lightning ``precision``."""
    import lightning.pytorch as pl

    from models import build_model
    from train.losses import SeparationLoss

    config = model_config(config_path, plan.tiny)
    torch.manual_seed(0)
    model = build_model(config)
    rate = model.config.sample_rate
    samples = round(plan.segment * rate)
    batch_size = 2
    generator = torch.Generator().manual_seed(1)
    stems = 0.1 * torch.randn((warmup + steps) * batch_size, len(TARGETS), 2, samples, generator=generator)
    rows = [TARGETS.index(t) for t in model.targets]
    items = [(s.sum(0), s[rows]) for s in stems]

    class Step(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.loss = SeparationLoss("t+tf", n_fft=model.config.n_fft, hop_length=model.config.hop_length)
            self.losses: list[float] = []

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            mixture, sources = batch
            loss = self.loss(self.model(mixture), sources)["loss"]
            self.losses.append(float(loss.detach()))
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_start(self, *args: Any) -> None:
            synchronize(plan.device)
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args: Any) -> None:
            synchronize(plan.device)
            self.times.append(time.perf_counter() - self.start)

    module, clock = Step(), Clock()
    loader = torch.utils.data.DataLoader(items, batch_size=batch_size, shuffle=False)
    reset_peak(plan.device)
    trainer = pl.Trainer(accelerator=plan.device.type, devices=1, precision=precision, max_steps=warmup + steps,
                         gradient_clip_val=5.0, gradient_clip_algorithm="norm", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[clock], default_root_dir=None)
    trainer.fit(module, loader)
    if len(clock.times) != warmup + steps:
        raise RuntimeError(f"ran {len(clock.times)} steps, expected {warmup + steps}")
    if not all(math.isfinite(v) for v in module.losses):
        raise RuntimeError(f"non-finite loss: {module.losses}")
    timed = clock.times[warmup:]
    step = statistics.median(timed)
    return (f"{step:.3f} s/step (median of {len(timed)} after {warmup} warm-up; first {clock.times[0]:.2f} s), "
            f"{batch_size / step:.1f} items/s of {plan.segment:g} s, {peak_memory(plan.device)}, "
            f"loss {module.losses[0]:.4f} -> {module.losses[-1]:.4f}")


def separation(plan: Plan, target: str, mix: torch.Tensor) -> str:
    """Real-time factor of one paper per-target model in fp16 (``plan.half``) and fp32, and their outputs'
    agreement."""
    from models import Chunking, build_model, separate
    from my_submission.settings import InferenceSettings

    settings = InferenceSettings()
    torch.manual_seed(TARGETS.index(target))
    model = build_model(model_config(CONFIGS / "paper" / f"{target}.yaml", plan.tiny)).to(plan.device).eval()
    rate = model.config.sample_rate
    seconds = mix.shape[-1] / rate
    warm = mix[:, :round(settings.window * rate * settings.batch_size)]

    def run(precision: str, audio: torch.Tensor) -> tuple[torch.Tensor, float]:
        synchronize(plan.device)
        start = time.perf_counter()
        with exact_fp32(precision == "fp32"):
            out = separate(model, audio, 1, rate, Chunking(settings.window, settings.hop, settings.batch_size,
                                                           plan.device, precision))
        synchronize(plan.device)
        return out, time.perf_counter() - start

    half = plan.half[1]
    reset_peak(plan.device)
    results = {}
    for precision in (half, "fp32"):
        _, first = run(precision, warm)
        out, elapsed = run(precision, mix)
        results[precision] = (out, elapsed, first)
    low, fp32 = results[half][0], results["fp32"][0]
    if not torch.isfinite(low).all():
        raise RuntimeError(f"{half} output has NaN or infinite samples")
    return (f"RTF {half} {results[half][1] / seconds:.4f} (warm-up batch {results[half][2]:.2f} s), "
            f"fp32 {results['fp32'][1] / seconds:.4f}; {half} vs fp32 output: SDR {sdr_db(fp32, low):.1f} dB, "
            f"max abs diff {float((low - fp32).abs().max()):.2e}; {peak_memory(plan.device)} "
            f"[{seconds:g} s track, window {settings.window:g} s, hop {settings.hop:g} s, "
            f"batch {settings.batch_size}]")


def parts(plan: Plan) -> list[tuple[str, Callable[[], str]]]:
    """The checks in order, each a name and a function returning its result text."""
    vocals = CONFIGS / "paper" / "vocals.yaml"
    multi = CONFIGS / "multi-target.yaml"
    bf16 = plan.device.type != "cuda" or torch.cuda.is_bf16_supported()
    multi_precision = "bf16-mixed" if bf16 else "16-mixed"
    steps, warmup = plan.timed_steps, plan.warmup_steps
    checks: list[tuple[str, Callable[[], str]]] = [
        ("environment", lambda: environment(plan)),
        (f"train vocals {plan.half[0]}", lambda: train_steps(plan, vocals, plan.half[0], steps, warmup)),
        ("train vocals bf16-mixed", lambda: train_steps(plan, vocals, "bf16-mixed", steps, warmup)),
        (f"train multi-target {multi_precision}", lambda: train_steps(plan, multi, multi_precision, 1, 0)),
    ]
    mix = synthetic_track(plan.seconds, 44100)
    for target in TARGETS:
        checks.append((f"separate {target} {plan.half[1]}", lambda target=target: separation(plan, target, mix)))
    return checks


def run_checks(plan: Plan, echo: Callable[[str], None] = print) -> list[Row]:
    """Run every part; a part that raises becomes a FAILED row with the error, and the rest still run."""
    rows = []
    for name, check in parts(plan):
        start = time.perf_counter()
        try:
            row = Row(name, "ok", check(), time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001 - the table must come out whatever a part does
            detail = "".join(traceback.format_exception_only(type(e), e)).strip().replace("\n", " ")
            row = Row(name, "FAILED", detail, time.perf_counter() - start)
            traceback.print_exc(file=sys.stderr)
        if plan.device.type == "cuda":
            torch.cuda.empty_cache()
        echo(f"[gpu_check] {row.check}: {row.status} ({row.seconds:.1f} s)")
        rows.append(row)
    return rows


def markdown(rows: list[Row], title: str) -> str:
    """The table as markdown."""
    lines = [title, "", "| check | status | result | wall s |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {r.status} | {r.result.replace('|', '/')} | {r.seconds:.1f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="torch device (default cuda; cpu for a smoke run)")
    parser.add_argument("--tiny", action="store_true", help="small models and short audio (smoke test of the script)")
    parser.add_argument("--seconds", type=float, help="length of the separated track (default 30; 7 with --tiny)")
    parser.add_argument("--out", type=Path, help="also write the table as markdown to this file")
    args = parser.parse_args(argv)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device: expected a torch device such as cuda, cuda:1 or cpu, got {args.device!r}")
    if args.seconds is not None and not args.seconds > 0:
        parser.error(f"--seconds: expected a positive number, got {args.seconds}")
    if args.out is not None and not args.out.parent.is_dir():
        parser.error(f"--out: folder {args.out.parent} does not exist")
    if device.type == "cuda" and not torch.cuda.is_available():
        message = (f"gpu_check: skipped: no CUDA device (torch {torch.__version__}, CUDA build "
                   f"{torch.version.cuda or 'none'}); use --device cpu --tiny for a smoke run of this script")
        print(message)
        if args.out is not None:
            args.out.write_text(message + "\n")
        return 0
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="lightning")
    plan = Plan.make(device, args.tiny, args.seconds)
    start = time.perf_counter()
    rows = run_checks(plan)
    title = (f"## GPU check ({'tiny smoke run, ' if plan.tiny else ''}{device}; "
             f"{time.perf_counter() - start:.0f} s in all)")
    table = markdown(rows, title)
    print(table)
    if args.out is not None:
        args.out.write_text(table)
    return 1 if any(r.status == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
