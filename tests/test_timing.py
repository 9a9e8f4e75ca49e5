"""Timing that a busy machine does not turn into a failure: evaluator.timing, the smoke check, the harness."""

from __future__ import annotations

import os
import time

import pytest

from evaluator.harness import TrackResult
from evaluator.report import timing_lines
from models.timing import Timing, available_cores, cgroup_cpu_limit, measure


def test_an_idle_measurement_is_judged_by_wall_time():
    idle = Timing(wall=2.0, cpu=3.8, cores=2)
    assert not idle.loaded and idle.judged == 2.0 and "loaded" not in idle.describe()


def test_a_loaded_measurement_is_judged_by_cpu_time_per_core():
    loaded = Timing(wall=19.1, cpu=0.7, cores=2, load_average=6.5)
    assert loaded.loaded and loaded.judged == pytest.approx(0.35)
    assert "the machine was loaded, load average 6.5: judged by CPU time per core, 0.35 s" in loaded.describe()
    assert Timing(wall=19.1, cpu=0.7, cores=2, cpu_bound=False).judged == 19.1  # a GPU's work shows no CPU time


def test_an_overloaded_measurement_is_not_judged_at_all():
    # measured: a 5 s smoke run at load 7.4 on 2 cores took 62.6 s wall and 22.1 s CPU (about 4 s CPU when quiet)
    overloaded = Timing(wall=62.6, cpu=22.1, cores=2, load_average=7.4)
    assert overloaded.loaded and overloaded.overloaded and overloaded.judged > 7.85
    assert not overloaded.over(7.85) and "too loaded to judge; rerun on a quiet machine" in overloaded.describe()
    # stretched, but with less than one other core's worth of work: CPU time still stands in, and can fail
    busy = Timing(wall=19.1, cpu=20.0, cores=2, load_average=2.5)
    assert busy.loaded and not busy.overloaded and busy.over(7.85)
    assert Timing(wall=19.1, cpu=20.0, cores=2).over(7.85)  # no load average known: judged
    result = TrackResult("song", 5.0, 62.6, 7.85, 1.0, 0.0, cpu_seconds=22.1, cores=2, load_average=7.4)
    assert not result.over_time and not result.time_judged and result.to_dict()["time_judged"] is False
    assert "not judged against the time limit: song" in timing_lines([result])


def test_other_processes_cpu_use_decides_over_the_lagging_load_average(tmp_path):
    from models.timing import machine_busy_seconds

    stat = tmp_path / "stat"
    stat.write_text("cpu  100 20 30 5000 7 1 2 3 0 0\ncpu0 50 10 15 2500 3 0 1 1 0 0\n")
    assert machine_busy_seconds(stat) == pytest.approx(156 / os.sysconf("SC_CLK_TCK"))
    assert machine_busy_seconds(tmp_path / "missing") is None
    # measured busy time wins over the load average, which lags by a minute
    assert not Timing(wall=62.6, cpu=22.1, cores=2, load_average=7.4, other_cores=0.2).overloaded
    assert Timing(wall=62.6, cpu=22.1, cores=2, load_average=0.5, other_cores=1.5).overloaded


def test_measure_counts_the_cores_another_process_keeps_busy():
    import subprocess
    import sys

    spin = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\n"
    with measure() as timing:  # two spinning processes while this one waits: about two cores' worth
        spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
        for spinner in spinners:
            spinner.wait()
    assert timing.other_cores is not None and timing.other_cores > 1.2
    assert timing.loaded and timing.overloaded  # this process slept: all of the wall time was the others'


def test_measure_sees_a_sleeping_block_as_loaded_and_a_busy_one_as_not():
    with measure() as sleeping:
        time.sleep(0.3)  # wall time with no CPU time: what another process taking the cores looks like
    assert sleeping.wall >= 0.3 and sleeping.loaded and sleeping.judged < 0.1
    with measure() as busy:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
    assert busy.cpu >= 0.3
    if os.getloadavg()[0] < 0.5:  # on a busy machine this one may be loaded too, which is the point
        assert not busy.loaded


def test_the_harness_never_fails_a_track_on_wall_time_stretched_by_load(tmp_path):
    import numpy as np
    import soundfile as sf

    from evaluator.harness import evaluate
    from evaluator.tracks import find_tracks
    from my_submission.identity_model import IdentityModel

    track = tmp_path / "data" / "song"
    track.mkdir(parents=True)
    for name in ("mixture", "bass", "drums", "other", "vocals"):
        sf.write(track / f"{name}.wav", np.zeros((4410, 2)), 44100)

    class Slowed(IdentityModel):  # sleeps as if the machine's cores were taken: wall time grows, CPU time not
        def separate_music_file(self, mix, rate):
            time.sleep(0.5)
            return super().separate_music_file(mix, rate)

    results = evaluate(find_tracks(tmp_path / "data"), tmp_path / "out", Slowed, {"model": "slowed"},
                       metric="global", progress=False)
    assert results[0].seconds > 0.5 > results[0].time_limit  # the wall time alone is over 1.57 x 0.1 s
    assert results[0].loaded and not results[0].over_time and not results[0].cached
    again = evaluate(find_tracks(tmp_path / "data"), tmp_path / "out", Slowed, {"model": "slowed"},
                     metric="global", progress=False)
    assert again[0].cached and again[0].seconds == results[0].seconds
    lines = timing_lines(again)
    assert "the machine was loaded while separating 1 track(s) (song)" in lines and "- cached: 1 of 1" in lines


def test_old_score_files_without_cpu_time_still_load():
    result = TrackResult.from_dict({"track": "t", "duration": 10.0, "seconds": 5.0, "time_limit": 15.7,
                                    "peak_rss_mb": 1.0, "rss_growth_mb": 0.0, "over_time": False})
    assert result.judged_seconds == 5.0 and not result.loaded


def test_smoke_reports_cpu_time_and_warm_up(monkeypatch):
    from tools.smoke import run

    monkeypatch.setattr("my_submission.user_config.MySeparationModel",
                        __import__("my_submission.identity_model", fromlist=["x"]).QuarterMixtureModel)
    report = run(1.0, time_factor=100.0)
    assert {"warm_up_seconds", "cpu_seconds", "cores", "loaded", "judged_seconds"} <= set(report)
    assert report["realtime_factor"] == pytest.approx(report["judged_seconds"], abs=1e-3)


def test_a_cpu_quota_limits_the_cores(tmp_path, monkeypatch):
    # docker run --cpus 2 on an 8-core host: the affinity still lists 8 cores, the quota grants 2 cores' time
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr("torch.get_num_threads", lambda: 8)
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    monkeypatch.setattr("models.timing.cgroup_cpu_limit", lambda: cgroup_cpu_limit(tmp_path))
    assert available_cores() == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None and available_cores() == 8
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")  # cgroup v1, --cpus 1.5
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.5 and available_cores() == 2
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path) is None
