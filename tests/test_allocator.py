"""models.allocator: freed buffers stay in the process (no new page faults on reuse); a no-op off glibc."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

from models import allocator

ROOT = Path(__file__).resolve().parent.parent
# a forward-pass-like pattern of large temporaries (40-72 MB, above glibc's largest dynamic mmap threshold),
# repeated 12 times; prints the minor page faults of the last 6 repeats
REUSE = """
import resource, sys, torch
from models.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
def step():
    a = torch.ones(10 << 20); b = torch.ones(18 << 20); c = a.sum() + b.sum(); d = torch.ones(5 << 20)
    del a; e = torch.ones(12 << 20)
for _ in range(6):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(6):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def reuse_faults(setting: str) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", REUSE, setting], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    applied, faults = done.stdout.split()
    return applied, int(faults)


def test_freed_buffers_are_reused_without_page_faults():
    if platform.libc_ver()[0] != "glibc":
        assert allocator.keep_freed_memory() is False
        return
    _, default = reuse_faults("default")
    applied, kept = reuse_faults("keep")
    assert applied == "True"
    assert default >= 6 * 100  # glibc maps the large buffers afresh each time: >= 1 fault per 2 MB huge page
    assert kept < default / 10, (kept, default)


def test_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("", ""))
    assert allocator.keep_freed_memory() is False
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert allocator.keep_freed_memory() is False
