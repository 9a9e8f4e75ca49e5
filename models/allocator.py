"""Keep freed memory in the process: glibc's malloc otherwise hands large buffers back to the kernel on free.

By default glibc serves each allocation above a (dynamic, at most 32 MiB) threshold with its own ``mmap`` and
unmaps it on free, and trims the heap top above 128 KiB. A network's forward pass allocates and frees the same
large activations on every call, so every call pays the kernel to map and zero those pages again: a third of
the CPU time of four paper-size models, and more in training (BENCHMARKS.md, ``allocator``). Raising the mmap
and trim thresholds keeps the freed buffers in the heap for the next call. Memory is then not returned between
calls, and the heap fragments somewhat: peak resident memory was about 27 % higher in the measurement.

The settings are process-wide; :func:`keep_freed_memory` applies them through ``mallopt`` and does nothing
where the C library is not glibc (musl, macOS, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 1 << 30  # allocations up to 1 GiB come from the heap (a whole track's output may still be mapped)
MMAP_THRESHOLD_CAPPED = 32 << 20  # glibc before 2.35 refuses thresholds above half its 64 MiB heap size
TRIM_THRESHOLD = 2**31 - 1  # the largest int: the heap top is practically never given back
TOP_PAD = 64 << 20  # grow the heap 64 MiB beyond each request: fewer brk calls


def keep_freed_memory() -> bool:
    """Tell glibc to keep freed memory for reuse instead of unmapping it; True if applied (glibc), else False.

    Safe to call more than once and on any platform.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_CAPPED):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(M_TOP_PAD, TOP_PAD))
