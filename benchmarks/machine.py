"""What a benchmark ran on and how busy it was: one line to print beside its numbers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from models.apply import cpu_has_native_bf16


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cpu_flags() -> str:
    """The CPU features that decide the fast paths: avx512_bf16 and AMX present or absent."""
    amx = torch.cpu._is_amx_tile_supported()
    return f"avx512_bf16 {'yes' if torch.cpu._is_avx512_bf16_supported() else 'no'}, AMX {'yes' if amx else 'no'}"


def describe_machine() -> str:
    """CPU, cores, bf16 instructions, torch version and threads, in one line."""
    return (f"{cpu_name()}, {os.cpu_count()} cores, {cpu_flags()}, native bf16: {cpu_has_native_bf16()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads")


def load() -> float:
    """The 1-minute load average (other processes competing for the cores)."""
    return os.getloadavg()[0]
