"""How fast ``render`` makes songs: seconds of audio per second of wall time and per CPU second.

Times ``render_song`` (score, FluidSynth instruments, TTS + WORLD vocals, effects and mix) and ``write_track``
(five 16-bit WAV files) per track; CPU time includes the speech synthesisers run as subprocesses. The first song of
a process also reads every SoundFont's preset table once (a few seconds); it is rendered before timing. Medians
over tracks.

    python -m benchmarks.render_speed --tracks 5 --duration 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.machine import describe_machine
from render import render_song, track_seed, write_track


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the TTS programs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(action: Callable[..., object], *args: object) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = action(*args)
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=5, help="tracks (medians over these)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per track")
    parser.add_argument("--seed", type=int, default=77, help="dataset seed of the timed tracks")
    args = parser.parse_args()
    print(describe_machine())
    render_song(track_seed(args.seed, 10_000), 2.0)  # warm-up: preset tables, TTS voices on disk
    rows: dict[str, list[tuple[float, float]]] = {"render_song": [], "write_track": []}
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.tracks):
            wall, cpu, stems = timed(render_song, track_seed(args.seed, i), args.duration)
            rows["render_song"].append((wall, cpu))
            wall, cpu, _ = timed(write_track, Path(folder) / f"t{i}", stems, 44100)
            rows["write_track"].append((wall, cpu))
    print(f"| step | median wall (s) | median CPU (s) | audio s per wall s | audio s per CPU s |  ({args.tracks} "
          f"tracks of {args.duration:g} s)")
    print("|---|---|---|---|---|")
    for step, times in rows.items():
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        print(f"| {step} | {wall:.2f} | {cpu:.2f} | {args.duration / wall:.1f} | {args.duration / cpu:.1f} |")


if __name__ == "__main__":
    main()
