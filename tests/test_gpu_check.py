"""benchmarks.gpu_check: skips cleanly without CUDA, and runs without the audio-file and dataset libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from benchmarks import gpu_check

ROOT = Path(__file__).resolve().parent.parent
# not installed on the rented GPU machines the check is meant for
ABSENT = ("soundfile", "soxr", "museval", "musdb", "stempeg", "ffmpeg")


def test_skips_without_cuda(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "table.md"
    assert gpu_check.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("gpu_check: skipped: no CUDA device")
    assert out.read_text() == printed


def test_tiny_cpu_run_without_audio_libraries(tmp_path):
    """Every part runs (small models on the CPU) in a process where importing soundfile & co. fails."""
    out = tmp_path / "table.md"
    block = "; ".join(f"sys.modules[{name!r}] = None" for name in ABSENT)
    code = (f"import sys; {block}; from benchmarks.gpu_check import main; "
            f"sys.exit(main(['--device', 'cpu', '--tiny', '--seconds', '4', '--out', {str(out)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    table = out.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| check")]
    assert len(rows) == 8, table
    assert all("| ok |" in row for row in rows), table
    assert "separate vocals bf16 | ok | RTF bf16" in table


def test_failing_part_becomes_a_row(monkeypatch):
    def broken(plan):
        raise RuntimeError("boom")

    plan = gpu_check.Plan.make(torch.device("cpu"), tiny=True, seconds=1.0)
    monkeypatch.setattr(gpu_check, "parts", lambda plan: [("broken", lambda: broken(plan)),
                                                          ("fine", lambda: "42")])
    rows = gpu_check.run_checks(plan, echo=lambda line: None)
    assert [(r.check, r.status) for r in rows] == [("broken", "FAILED"), ("fine", "ok")]
    assert "RuntimeError: boom" in rows[0].result
    assert "| broken | FAILED | RuntimeError: boom |" in gpu_check.markdown(rows, "t")
