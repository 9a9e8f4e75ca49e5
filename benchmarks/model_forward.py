"""Forward time of one BSRNN on 3 s of stereo: the vectorised model against the per-band reference, fp32 and bf16.

For each size and target this builds a randomly initialised model (timing does not depend on the
weights), then times, interleaved within each repeat, ``model(x)`` and ``reference_forward(model, x)``
at fp32 and under bf16 autocast. Timing hooks on the sequence layers (LSTM / GRU / conv, including
the concatenation of the two directions, which happens inside them) split each forward into
"RNN" and the rest; hooks on the whole residual blocks (norm -> RNN -> projection back to N -> add)
give the "sequence-block" share, whose complement is the work around the trunk (STFT, band split,
masks, iSTFT, layout changes).
Prints a Markdown table: medians over the repeats, with the load average seen during the runs.

    python -m benchmarks.model_forward                       # small and paper size, four targets
    python -m benchmarks.model_forward --sizes paper --targets vocals --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch

from models import BSRNN, BSRNNConfig, build_model
from models.sequence import ResidualSequence
from tests.reference import reference_forward

from .machine import describe_machine, load

SIZES = {"small": dict(feature_dim=64, num_repeat=8), "paper": dict(feature_dim=128, num_repeat=12)}
TARGETS = ("vocals", "bass", "drums", "other")


class SequenceTimer:
    """Accumulates the wall time spent inside a model's sequence layers.

    ``whole_blocks=False`` times each ``ResidualSequence.layer`` (the LSTM / GRU / conv alone);
    ``True`` times each whole residual block (norm -> layer -> projection back to N -> add), the
    paper's "BLSTM followed by a linear layer" unit.
    """

    def __init__(self, model: BSRNN, whole_blocks: bool = False):
        self.seconds = 0.0
        self._start = 0.0
        self._handles = []
        for module in model.modules():
            if isinstance(module, ResidualSequence):
                hooked = module if whole_blocks else module.layer
                self._handles.append(hooked.register_forward_pre_hook(self._enter))
                self._handles.append(hooked.register_forward_hook(self._leave))

    def _enter(self, *_: object) -> None:
        self._start = time.perf_counter()

    def _leave(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._start


def time_call(fn: Callable[[], object], timers: tuple[SequenceTimer, SequenceTimer]) -> tuple[float, float, float]:
    """Wall time of ``fn()`` and the parts of it spent in the sequence layers and in the whole sequence blocks."""
    for timer in timers:
        timer.seconds = 0.0
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start, timers[0].seconds, timers[1].seconds


def benchmark(size: str, target: str, seconds: float, repeats: int) -> dict[str, object]:
    """Median forward times (and RNN shares) of the model and the reference, fp32 and bf16, for one config."""
    torch.manual_seed(0)
    model = build_model(BSRNNConfig(targets=[target], **SIZES[size])).eval()
    timers = (SequenceTimer(model), SequenceTimer(model, whole_blocks=True))
    x = torch.randn(1, 2, round(seconds * model.config.sample_rate))
    cases = {}
    for precision in ("fp32", "bf16"):
        for name, fn in (("model", model), ("reference", lambda m: reference_forward(model, m))):
            cases[(name, precision)] = (fn, precision)
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {key: [] for key in cases}
    loads = []
    with torch.inference_mode():
        for repeat in range(repeats + 1):  # the first round warms up (allocator, oneDNN primitives)
            for key, (fn, precision) in cases.items():
                context = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
                with context:
                    measured = time_call(lambda f=fn: f(x), timers)
                if repeat:
                    results[key].append(measured)
            loads.append(load())
    row: dict[str, object] = {"size": size, "target": target, "bands": len(model.bins),
                              "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                              "load": statistics.median(loads)}
    for (name, precision), runs in results.items():
        row[f"{name}_{precision}"] = statistics.median(t for t, _, _ in runs)
        row[f"{name}_{precision}_rnn"] = statistics.median(r / t for t, r, _ in runs)
        row[f"{name}_{precision}_blocks"] = statistics.median(b / t for t, _, b in runs)
    return row


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| size | target | bands | params | model fp32 | reference fp32 | speed-up | model bf16 | reference bf16 "
             "| bf16 gain | RNN share fp32 / bf16 | sequence-block share fp32 / bf16 | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['target']} | {r['bands']} | {r['params_m']:.2f} M | {r['model_fp32']:.3f} s "
            f"| {r['reference_fp32']:.3f} s | {r['reference_fp32'] / r['model_fp32']:.2f}x "
            f"| {r['model_bf16']:.3f} s | {r['reference_bf16']:.3f} s | {r['model_fp32'] / r['model_bf16']:.2f}x "
            f"| {100 * r['model_fp32_rnn']:.1f} % / {100 * r['model_bf16_rnn']:.1f} % "
            f"| {100 * r['model_fp32_blocks']:.1f} % / {100 * r['model_bf16_blocks']:.1f} % | {r['load']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="small,paper", help=f"comma-separated, among {sorted(SIZES)}")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the stereo input")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    sizes, targets = args.sizes.split(","), args.targets.split(",")
    for size in sizes:
        if size not in SIZES:
            parser.error(f"--sizes: unknown size {size!r}; expected some of {sorted(SIZES)}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    torch.set_num_threads(args.threads)
    print(describe_machine(), flush=True)
    rows = []
    for size in sizes:
        for target in targets:
            rows.append(benchmark(size, target, args.seconds, args.repeats))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(f"\nMedians of {args.repeats} interleaved runs on {args.seconds:g} s of stereo, batch 1.\n")
    print(table(rows))


if __name__ == "__main__":
    main()
