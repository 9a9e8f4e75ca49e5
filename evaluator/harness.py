"""The local evaluation harness: run a model through the grader's wrapper on every track, time it, score it.

For each track of a MUSDB18-HQ-layout folder: separate it with ``AIcrowdWrapper`` (predictions in
``<outputs>/predictions/<song>/<instrument>.wav``, as on the server), time the call against
``time_factor`` x the track's duration (wall time, or CPU time per usable core when other processes
visibly stretched it: ``models.timing``), record the peak memory, score the written stems against the
references (global SDR, museval SDR or both) and write ``<outputs>/scores/<song>.json`` atomically.
A track whose scores file was written by the same run (data folder, model, its weights' content, settings,
targets, metric, time factor) for the same files (each file's size and modification time) is not re-run
unless ``force``; the tracks reused are listed, with when they were scored, and such a result is marked
``cached`` (its timing is that of the run that made it). A scores file that cannot be read back is re-run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from models.atomic import remove_stale_temporaries, write_text
from models.contract import TIME_FACTOR
from models.timing import Timing, measure
from my_submission.aicrowd_wrapper import AIcrowdWrapper

from .metrics import chunk_sdr, global_sdr
from .tracks import STEMS, Track, TrackError

METRICS = ("global", "museval", "both")


@dataclass
class TrackResult:
    """Everything measured on one track; ``global_sdr`` / ``museval_sdr`` map target -> dB."""

    track: str
    duration: float
    seconds: float
    time_limit: float
    peak_rss_mb: float
    rss_growth_mb: float
    global_sdr: dict[str, float] = field(default_factory=dict)
    museval_sdr: dict[str, float] = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    cpu_seconds: float | None = None
    cores: int = 1
    cpu_bound: bool = True
    load_average: float | None = None
    other_cores: float | None = None  # other processes' CPU use during the separation, in cores
    files: dict[str, list[int]] = field(default_factory=dict)  # the track's files scored: name -> [size, mtime_ns]
    scored_at: str = ""  # when (UTC, ISO 8601)
    cached: bool = field(default=False, compare=False)  # read back from an earlier run, not measured now

    @property
    def timing(self) -> Timing:
        cpu = self.seconds * self.cores if self.cpu_seconds is None else self.cpu_seconds
        return Timing(self.seconds, cpu, self.cores, self.cpu_bound, self.load_average, self.other_cores)

    @property
    def judged_seconds(self) -> float:
        """The seconds held against the limit: wall time, or CPU time per core when the machine was loaded."""
        return self.timing.judged

    @property
    def loaded(self) -> bool:
        return self.timing.loaded

    @property
    def over_time(self) -> bool:
        """Over the limit on a measurement that can say so (an overloaded machine's is not judged)."""
        return self.timing.over(self.time_limit)

    @property
    def time_judged(self) -> bool:
        return not self.timing.overloaded

    @property
    def realtime_factor(self) -> float:
        return self.judged_seconds / self.duration

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["cached"]
        return {**data, "loaded": self.loaded, "time_judged": self.time_judged, "judged_seconds": self.judged_seconds,
                "over_time": self.over_time,
                "realtime_factor": self.realtime_factor}

    @classmethod
    def from_dict(cls, data: dict) -> TrackResult:
        names = {f.name for f in dataclasses.fields(cls)} - {"cached"}
        return cls(**{k: v for k, v in data.items() if k in names})


def scored_targets(results: Sequence[TrackResult]) -> list[str]:
    """The targets any of ``results`` has a score for, in ``STEMS`` order."""
    present = {t for r in results for t in (*r.global_sdr, *r.museval_sdr)}
    return [t for t in STEMS if t in present]


def track_files(track: Track) -> dict[str, list[int]]:
    """A cheap fingerprint of a track's content: each of its audio files' size and modification time."""
    paths = [track.stem_path(s) for s in (*STEMS, "mixture")]
    return {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in paths if p.is_file()}


def _rss_mb(key: str) -> float | None:
    """``VmHWM`` / ``VmRSS`` of this process in MB (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak resident memory during a block: Linux's high-water mark reset first (``/proc/self/clear_refs``),
    else ``getrusage``'s process-lifetime maximum (then only growth beyond earlier peaks shows)."""

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.resettable = _rss_mb("VmHWM") is not None
        except OSError:
            self.resettable = False
        self.before = (_rss_mb("VmRSS") if self.resettable else None) or self._maxrss()
        return self

    def __exit__(self, *exc) -> None:
        self.peak = (_rss_mb("VmHWM") if self.resettable else None) or self._maxrss()
        self.growth = max(0.0, self.peak - self.before)

    @staticmethod
    def _maxrss() -> float:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024 if sys.platform != "darwin" else kb / 2 ** 20


def score_track(track: Track, predictions: Path, targets: Sequence[str], metric: str,
                chunk_backend: str = "fast") -> tuple[dict[str, float], dict[str, float]]:
    """Global and/or museval SDR of each target's written prediction against the track's reference."""
    references, estimates = [], []
    for target in targets:
        path = predictions / f"{target}.wav"
        if not path.is_file():
            raise FileNotFoundError(f"prediction {path} is missing")
        estimate, rate = sf.read(path, dtype="float32", always_2d=True)
        reference = track.read(target)
        if estimate.shape != reference.shape or rate != track.sample_rate:
            raise TrackError(f"prediction {path} is {estimate.shape} at {rate} Hz, the reference "
                             f"{track.stem_path(target)} {reference.shape} at {track.sample_rate} Hz")
        references.append(reference)
        estimates.append(estimate)
    global_scores, museval_scores = {}, {}
    if metric in ("global", "both"):
        global_scores = {t: global_sdr(r, e) for t, r, e in zip(targets, references, estimates)}
    if metric in ("museval", "both"):
        win = track.sample_rate  # museval's 1 s windows and hop, all targets evaluated jointly as museval does
        medians = chunk_sdr(np.stack(references), np.stack(estimates), win, win, backend=chunk_backend)
        museval_scores = {t: float(v) for t, v in zip(targets, medians)}
    return global_scores, museval_scores


def stored_result(path: Path) -> TrackResult | None:
    """The result an earlier run stored at ``path``; None when there is none, or it cannot be read back (damaged,
    or written by another version of the kit), so that the track is measured again."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return TrackResult.from_dict(data) if isinstance(data, dict) and isinstance(data.get("run"), dict) else None
    except (OSError, ValueError, TypeError):
        return None


def evaluate(tracks: Sequence[Track], outputs: Path, make_model: Callable[[], object], run: dict,
             targets: Sequence[str] = STEMS, metric: str = "both", time_factor: float = TIME_FACTOR,
             force: bool = False, chunk_backend: str = "fast", progress: bool = True) -> list[TrackResult]:
    """Separate and score ``tracks`` (all in one folder); ``run`` describes the model and settings for reuse."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    unknown = [t for t in targets if t not in STEMS]
    if unknown or not targets:
        raise ValueError(f"targets must be some of {STEMS}, got {list(targets)}")
    if len({t.path.parent for t in tracks}) > 1:
        raise ValueError("evaluate expects tracks of a single folder (the wrapper reads <dataset>/<song>)")
    folder = tracks[0].path.parent if tracks else Path(".")
    run = {**run, "data": str(folder.resolve()), "targets": list(targets), "metric": metric,
           "chunk_backend": chunk_backend, "time_factor": time_factor}
    outputs = Path(outputs)
    remove_stale_temporaries(outputs, recursive=True)  # leftovers of a killed earlier run
    wrapper = None
    results, reused, replaced = [], [], False
    for track in tqdm(tracks, desc="evaluating", unit="track", disable=not progress):
        scores_path = outputs / "scores" / f"{track.name}.json"
        files = track_files(track)
        previous = None if force else stored_result(scores_path)
        if previous is not None and previous.run == run and previous.files == files:
            previous.cached = True
            results.append(previous)
            reused.append(previous)
            continue
        if previous is not None and not replaced:
            tqdm.write(replaced_line(outputs, previous, run, files))
            replaced = True
        if wrapper is None:
            wrapper = AIcrowdWrapper(folder, outputs / "predictions", model=make_model())
        device = getattr(wrapper.model, "device", None)
        with PeakMemory() as memory, measure(cpu_bound=getattr(device, "type", "cpu") == "cpu") as timing:
            wrapper.separate_music_file(track.name)
        global_scores, museval_scores = score_track(track, wrapper.predictions_dir / track.name, targets, metric,
                                                    chunk_backend)
        result = TrackResult(track.name, track.duration, timing.wall, time_factor * track.duration, memory.peak,
                             memory.growth, global_scores, museval_scores, run, timing.cpu, timing.cores,
                             timing.cpu_bound, timing.load_average, timing.other_cores, files,
                             datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        write_text(scores_path, json.dumps(result.to_dict(), indent=2) + "\n")
        if result.over_time and progress:
            tqdm.write(f"{track.name}: {timing.describe()}, over the limit of {result.time_limit:.1f} s "
                       f"({time_factor} x {track.duration:.1f} s)")
        results.append(result)
    if reused:
        print(reused_lines(reused, len(results)))
    return results


def replaced_line(outputs: Path, previous: TrackResult, run: dict, files: dict[str, list[int]]) -> str:
    """The notice that an earlier run's stored results in ``outputs`` are being replaced, and what differs."""
    changed = sorted(k for k in run.keys() | previous.run.keys() if run.get(k) != previous.run.get(k))
    if previous.files != files:
        changed.append("data files")
    return (f"replacing the results stored in {outputs} by an earlier run ({previous.run.get('model', 'a model')}; "
            f"changed: {', '.join(changed)}); pass --outputs DIR to keep both")


def reused_lines(reused: Sequence[TrackResult], total: int) -> str:
    """Which tracks' scores (and timings) come from an earlier run, and when each was scored."""
    lines = [f"reused the stored scores and timings of {len(reused)} of {total} tracks (same data files, model, "
             "weights and settings; --force re-runs them):"]
    lines += [f"  {r.track}: scored {r.scored_at or 'by an earlier run'}, {r.seconds:.1f} s" for r in reused]
    return "\n".join(lines)
