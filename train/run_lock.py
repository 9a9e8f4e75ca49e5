"""One training process per run folder: an advisory lock (``<out_dir>/.lock``) that says who holds it.

The lock is ``fcntl.flock`` on the file, so the operating system drops it when its process ends, however it ends
(a SIGKILL included); the file's text (pid, host, start time) is only there to name the holder.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

LOCK_NAME = ".lock"


class RunFolderLocked(RuntimeError):
    """Another process trains into the same run folder."""


class RunLock:
    """Holds the lock of ``out_dir`` from :meth:`acquire` until :meth:`release` (or the process's end)."""

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / LOCK_NAME
        self.file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunFolderLocked` naming the process that holds it."""
        if self.file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while the lock is)
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise RunFolderLocked(f"run folder {self.path.parent} is in use by {holder} (lock {self.path}); "
                                  "wait for that run to end, or choose another out_dir") from None
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} on host {socket.gethostname()}, started {started}\n")
        file.flush()
        self.file = file

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None
