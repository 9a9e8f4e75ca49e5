"""Atomic writes: the file appears whole or not at all, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat

import pytest

from models.atomic import atomic_path, write_text


def test_written_file_has_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_text(tmp_path / "report.html", "<p>hi</p>")
    assert path.read_text() == "<p>hi</p>"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "scores.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.txt"]
