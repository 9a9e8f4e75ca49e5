"""Atomic writes: the file appears whole or not at all, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from models.atomic import TEMP_MARK, atomic_path, remove_stale_temporaries, write_text


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


def _leftover(folder, name: str) -> Path:
    """A temporary file as a killed writer leaves it: its process (a finished child) no longer runs."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = Path(folder) / f".{Path(name).stem}{TEMP_MARK}{int(child.stdout)}-abcd1234{Path(name).suffix}"
    path.write_text("half")
    return path


def test_temporaries_have_recognisable_names(tmp_path):
    with atomic_path(tmp_path / "drums.wav") as tmp:
        assert tmp.name.startswith(f".drums{TEMP_MARK}{os.getpid()}-") and tmp.suffix == ".wav"


def test_the_next_write_removes_stale_temporaries_and_keeps_live_ones(tmp_path):
    stale = _leftover(tmp_path, "drums.wav")
    other = _leftover(tmp_path, "bass.wav")
    live = tmp_path / f".drums{TEMP_MARK}{os.getppid()}-zzzz9999.wav"  # a running writer (our parent)
    live.write_text("in progress")
    write_text(tmp_path / "drums.wav", "new")
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path) == [other]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "drums.wav"])


def test_weights_loader_ignores_temporaries_and_hidden_files(tmp_path):
    from models import BSRNNConfig, build_model, save_model
    from my_submission.bsrnn_model import find_weight_files

    tiny = dict(feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])
    for target in ("bass", "drums", "other", "vocals"):
        save_model(build_model(BSRNNConfig(targets=[target], **tiny)), tmp_path / f"{target}.safetensors")
    save_model(build_model(BSRNNConfig(targets=["bass"], **tiny)), _leftover(tmp_path, "vocals.safetensors"))
    save_model(build_model(BSRNNConfig(targets=["vocals"], **tiny)), tmp_path / ".old.safetensors")
    assert [p.name for p in find_weight_files(tmp_path)] == [f"{t}.safetensors" for t in
                                                             ("bass", "drums", "other", "vocals")]
