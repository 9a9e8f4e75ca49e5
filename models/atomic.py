"""Writing files atomically: into a temporary file in the same folder, then ``os.replace``.

A temporary file is named ``.<stem>.tmp-<pid>-<random><suffix>`` (hidden, recognisable, and naming the process
that writes it), so readers that skip hidden files skip it, and a later run can tell a leftover of a killed
writer from a write in progress: :func:`remove_stale_temporaries` deletes those whose process is gone, and
every atomic write first removes the stale temporaries of its own target.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0o022)  # read the process's umask (os.umask can only read it by setting it) ...
os.umask(_UMASK)  # ... and put it back

TEMP_MARK = ".tmp-"
_TEMPORARY = re.compile(r"^\.(?P<stem>.*)\.tmp-(?P<pid>\d+)-[a-z0-9_]+(?P<suffix>\.[^.]*)?$")


def temporary_prefix(path: Path) -> str:
    """The start of the name of every temporary file written for ``path`` by this process."""
    return f".{path.stem}{TEMP_MARK}{os.getpid()}-"


def process_is_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs any more (this process never counts as gone)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _writer_is_gone(path: Path) -> bool:
    match = _TEMPORARY.match(path.name)
    return match is not None and process_is_gone(int(match["pid"]))


def remove_stale_temporaries(folder: str | os.PathLike, pattern: str = f".*{TEMP_MARK}*",
                             recursive: bool = False) -> list[Path]:
    """Delete the temporary files in ``folder`` (matching ``pattern``) left by writers that no longer run;
    returns what was removed. Temporaries of running processes (this one included) are kept."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for path in found:
        if path.is_file() and not path.is_symlink() and _writer_is_gone(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix); on success it replaces ``path``, on error it goes.

    Stale temporaries of ``path`` left by killed writers are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, f".{glob.escape(path.stem)}{TEMP_MARK}*")
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes 0600 files; give the result the permissions open() would (after the writer, which may
        # have recreated the file)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
