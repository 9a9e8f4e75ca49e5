"""Timing a separation so that a busy machine does not fail a good model.

Wall time is what the grader limits (1.57 x the track's duration on its 4 vCPUs), but on a shared machine
other processes take the cores and stretch it. The process's CPU time (all its threads) barely depends on
that: divided by the cores the work can use (the available cores, at most torch's thread count) it is the
wall time an unloaded machine would show. A measurement counts as *loaded* when wall time exceeds that
estimate by more than 30 % (plus 50 ms); the judged time is then the estimate, otherwise the wall time.
When other processes keep at least one core busy during the measurement (the machine's busy CPU time from
``/proc/stat`` minus this process's, per second of wall time; the 1-minute load average minus this work's threads
where ``/proc/stat`` is missing), CPU time inflates too (threads wait and contend for caches: a 5 s smoke run
measured 22 s of CPU at load 7.4 on 2 cores, against 4 s quiet): such a measurement is *overloaded* and no time
verdict is drawn from it; the tools say so and ask for a rerun on a quiet machine instead of failing a
submission. (In a container ``/proc/stat`` and the load average are the host's.)
On a GPU the CPU time says nothing about the work, so wall time is judged there.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

LOAD_MARGIN = 1.3
LOAD_SLACK = 0.05  # seconds
OVERLOAD_OTHER_CORES = 1.0  # other processes' CPU use (cores) at which a measurement is not judged
PROC_STAT = Path("/proc/stat")


CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP) -> float | None:
    """The cores' worth of CPU time a CPU quota grants (``docker run --cpus N``: cgroup v2 ``cpu.max``, else v1
    ``cpu.cfs_quota_us``); None without a quota. A quota leaves the CPU affinity at every core of the host."""
    for quota_file, period_file in (("cpu.max", None), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            fields = (root / quota_file).read_text().split()
            if period_file is not None:
                fields.append((root / period_file).read_text().strip())
            quota, period = float(fields[0]), float(fields[1])
        except (OSError, ValueError, IndexError):  # no such file, or "max" (no quota)
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, at most a CPU quota rounded up), at most torch's
    intra-op thread count."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    try:
        import torch

        cores = min(cores, torch.get_num_threads())
    except ImportError:
        pass
    return max(1, cores)


def machine_busy_seconds(path: Path = PROC_STAT) -> float | None:
    """CPU seconds all cores of the machine have spent busy since boot (``/proc/stat``), None where unknown."""
    try:
        fields = path.read_text().split("\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    except (OSError, ValueError, IndexError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """One measurement: ``wall`` and process ``cpu`` seconds, the ``cores`` the work could use, whether the work
    ran on the CPU (``cpu_bound``), the 1-minute load average at its end, and the cores' worth of CPU time other
    processes used during it (``other_cores``; None where unknown)."""

    wall: float = 0.0
    cpu: float = 0.0
    cores: int = field(default_factory=available_cores)
    cpu_bound: bool = True
    load_average: float | None = None
    other_cores: float | None = None

    @property
    def unloaded_estimate(self) -> float:
        """The wall time an unloaded machine would show: CPU time per usable core."""
        return self.cpu / self.cores

    @property
    def loaded(self) -> bool:
        """Whether other processes visibly stretched the wall time (only judged for CPU work)."""
        return self.cpu_bound and self.wall > LOAD_MARGIN * self.unloaded_estimate + LOAD_SLACK

    @property
    def overloaded(self) -> bool:
        """Loaded beyond what CPU time corrects for: the time is not judged at all (see the module's docstring)."""
        if not self.loaded:
            return False
        if self.other_cores is not None:
            return self.other_cores >= OVERLOAD_OTHER_CORES
        return self.load_average is not None and self.load_average - self.cores >= OVERLOAD_OTHER_CORES

    def over(self, limit: float) -> bool:
        """Whether the judged time exceeds ``limit`` on a measurement that can say so (never when overloaded)."""
        return self.judged > limit and not self.overloaded

    @property
    def judged(self) -> float:
        """The seconds to hold against the time limit: the unloaded estimate when loaded, else wall time."""
        return self.unloaded_estimate if self.loaded else self.wall

    def describe(self) -> str:
        """A short account, naming the load when it changed the verdict."""
        text = f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU on {self.cores} core(s)"
        if self.loaded:
            load = f", load average {self.load_average:.1f}" if self.load_average is not None else ""
            if self.other_cores is not None:
                load += f", other processes using {self.other_cores:.1f} cores"
            text += (f"; the machine was loaded{load}: judged by CPU time per core, "
                     f"{self.unloaded_estimate:.2f} s")
            if self.overloaded:
                text += " (too loaded to judge; rerun on a quiet machine)"
        return text


@contextmanager
def measure(cpu_bound: bool = True) -> Iterator[Timing]:
    """Time the block: ``with measure() as t: ...``; ``t`` is filled in when the block ends."""
    timing = Timing(cpu_bound=cpu_bound)
    wall, cpu, busy = time.perf_counter(), time.process_time(), machine_busy_seconds()
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - wall
        timing.cpu = time.process_time() - cpu
        busy_end = machine_busy_seconds()
        if busy is not None and busy_end is not None and timing.wall > 0:
            timing.other_cores = max(0.0, busy_end - busy - timing.cpu) / timing.wall
        try:
            timing.load_average = os.getloadavg()[0]
        except (AttributeError, OSError):
            timing.load_average = None
