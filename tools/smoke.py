"""Smoke test of the submission as the grader will build it: construct ``MySeparationModel`` (loading the
bundled weights) and separate a few seconds of stereo audio within the time limit.

    python -m tools.smoke [--seconds 5] [--time-factor 1.57]

Prints one JSON line (load, warm-up and separation times) and exits 0, or prints the problem and exits 1.
The first call (one second of audio) is a warm-up, timed apart. The time limit is judged as
``models.timing`` says: wall time, or CPU time per usable core when other processes visibly stretched
the wall time (``"loaded": true``), so a busy machine does not fail a good submission.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from models.contract import INSTRUMENTS, TIME_FACTOR, check_output
from models.timing import measure

SAMPLE_RATE = 44100


def smoke_signal(seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic stereo float64 ``(samples, 2)``: a bass tone, a chord and noise bursts."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(0)
    tones = 0.2 * np.sin(2 * np.pi * 55 * t) + 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392))
    bursts = 0.1 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0.9)
    return np.stack([tones + bursts, 0.9 * tones - bursts], axis=1)


def run(seconds: float, time_factor: float) -> dict:
    """Construct the model, separate ``seconds`` of audio, check the answer; raise on any problem."""
    start = time.perf_counter()
    from my_submission.user_config import MySeparationModel

    model = MySeparationModel()
    loaded = time.perf_counter() - start
    with measure() as warm_up:
        model.separate_music_file(smoke_signal(1.0), SAMPLE_RATE)
    mix = smoke_signal(seconds)
    device = getattr(model, "device", None)
    with measure(cpu_bound=getattr(device, "type", "cpu") == "cpu") as timing:
        stems, rates = model.separate_music_file(mix, SAMPLE_RATE)
    if list(model.instruments) != list(INSTRUMENTS):
        raise RuntimeError(f"the model must expose exactly {list(INSTRUMENTS)}, got {list(model.instruments)}")
    check_output("smoke signal", mix, SAMPLE_RATE, stems, rates)
    if timing.over(time_factor * seconds):
        raise RuntimeError(f"separating {seconds:g} s took {timing.describe()}, over the limit of {time_factor} x "
                           f"{seconds:g} s = {time_factor * seconds:.2f} s")
    return {"model": f"{type(model).__module__}.{type(model).__qualname__}", "load_seconds": round(loaded, 3),
            "warm_up_seconds": round(warm_up.wall, 3), "audio_seconds": seconds,
            "separate_seconds": round(timing.wall, 3), "cpu_seconds": round(timing.cpu, 3), "cores": timing.cores,
            "loaded": timing.loaded, "time_judged": not timing.overloaded, "judged_seconds": round(timing.judged, 3),
            "realtime_factor": round(timing.judged / seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of audio to separate (default: 5)")
    parser.add_argument("--time-factor", type=float, default=TIME_FACTOR,
                        help=f"limit as a multiple of the audio's duration (default: {TIME_FACTOR})")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(run(args.seconds, args.time_factor)))
    except Exception as e:  # any failure is the answer: report it plainly
        print(f"smoke test failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
