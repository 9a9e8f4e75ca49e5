"""Packaging for the grader: aicrowd.json validation and the submit command against a local bare remote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import BSRNNConfig, build_model, save_model
from tools.check_config import PLACEHOLDER_AUTHOR, check_config, leaderboard, load_and_check
from tools.check_config import main as check_main
from tools.submit import main as submit_main
from tools.submit import tag_name

REPO = Path(__file__).resolve().parents[1]
VALID = {"challenge_id": "music-demixing-track-mdx-23", "authors": ["someone"], "description": "BSRNN",
         "gpu": True, "labelnoise": False, "bleeding": False, "external_dataset_used": True}


def test_shipped_config_only_lacks_a_username():
    config, problems = load_and_check(REPO / "aicrowd.json")
    assert len(problems) == 1 and PLACEHOLDER_AUTHOR in problems[0]
    assert check_config({**config, "authors": ["me"]}) == []
    assert leaderboard(config).startswith("C") and config["gpu"] is True


@pytest.mark.parametrize("change,message", [
    ({"gpu": "true"}, "'gpu' must be a bool"),
    ({"authors": "someone"}, "'authors' must be a list"),
    ({"authors": []}, "non-empty list"),
    ({"challenge_id": "evaluations-api-music-demixing"}, "challenge_id must be 'music-demixing-track-mdx-23'"),
    ({"labelnoise": True}, "not a leaderboard's combination"),
    ({"labelnoise": True, "bleeding": True, "external_dataset_used": False}, "not a leaderboard's combination"),
    ({"external_dataset_used": False}, "not a leaderboard's combination"),
    ({"grader_id": "x"}, "unknown field 'grader_id'"),
    ({"description": " "}, "description must not be empty"),
])
def test_config_problems_are_named(change, message):
    problems = check_config({**VALID, **change})
    assert any(message in p for p in problems), problems


def test_config_leaderboards_and_files(tmp_path, capsys):
    assert leaderboard({**VALID, "labelnoise": True, "external_dataset_used": False}).startswith("A")
    assert leaderboard({**VALID, "bleeding": True, "external_dataset_used": False}).startswith("B")
    assert any("missing field 'bleeding'" in p for p in check_config({k: v for k, v in VALID.items()
                                                                      if k != "bleeding"}))
    bad = tmp_path / "aicrowd.json"
    bad.write_text('{"gpu": true,,}')
    assert check_main([str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    bad.write_text(json.dumps(VALID))
    assert check_main([str(bad)]) == 0
    assert "leaderboard C" in capsys.readouterr().out


def test_tag_names():
    assert tag_name("v0.1") == "submission-v0.1"
    assert tag_name("my first  try") == "submission-my-first-try"
    with pytest.raises(RuntimeError, match="valid tag"):
        tag_name("bad..name")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the kit with tiny weights, committed, and a local bare repository as the ``aicrowd`` remote."""
    repo = tmp_path / "kit"
    ignore = shutil.ignore_patterns("__pycache__", "weights")
    for folder in ("models", "my_submission", "tools"):
        shutil.copytree(REPO / folder, repo / folder, ignore=ignore)
    for name in (".gitattributes", ".gitignore", "requirements.txt"):
        shutil.copy(REPO / name, repo / name)
    (repo / "aicrowd.json").write_text(json.dumps(VALID, indent=2))
    for i, target in enumerate(("bass", "drums", "other", "vocals")):
        torch.manual_seed(i)
        config = BSRNNConfig(targets=[target], feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])
        save_model(build_model(config), repo / "my_submission" / "weights" / f"{target}.safetensors")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "Test")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "kit")
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(repo, "remote", "add", "aicrowd", str(remote))
    # the flow is under test here, not this shared machine's speed: only a very slow smoke run fails
    monkeypatch.setattr("tools.submit.TIME_FACTOR", 20.0)
    return repo, remote


@pytest.fixture
def quick_smoke(monkeypatch):
    """Replace the smoke subprocess (about 20 s of torch start-up, weight loading and separation on this
    shared machine) by a record of its call; the real one runs in the slow test and in
    test_smoke_separation_in_process / test_submit_preflight_failures."""
    calls = []

    def fake(repo, seconds=5.0):
        calls.append(repo)
        return '{"realtime_factor": 0.1}'

    monkeypatch.setattr("tools.submit.smoke", fake)
    return calls


def test_submit_dry_run_then_submit_then_refuse_the_same_tag(project, quick_smoke, capsys):
    repo, remote = project
    (repo / "NOTES.md").write_text("a change to commit\n")
    assert submit_main(["v1", "--repo", str(repo), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ok: aicrowd.json is valid" in out and '"realtime_factor"' in out and "would now run" in out
    assert _git(remote, "tag") == "" and _git(repo, "tag") == "" and "NOTES.md" in _git(repo, "status", "--short")

    assert submit_main(["v1", "--repo", str(repo)]) == 0
    assert _git(remote, "tag").split() == ["submission-v1"]
    assert _git(remote, "rev-parse", "main") == _git(repo, "rev-parse", "HEAD")
    assert _git(remote, "rev-parse", "submission-v1^{commit}") == _git(repo, "rev-parse", "HEAD")
    assert "NOTES.md" in _git(remote, "ls-tree", "-r", "--name-only", "main")
    assert "my_submission/weights/vocals.safetensors" in _git(remote, "ls-tree", "-r", "--name-only", "main")
    assert _git(repo, "status", "--short") == ""
    assert quick_smoke == [repo, repo]
    capsys.readouterr()

    assert submit_main(["v1", "--repo", str(repo)]) == 1
    assert "submission-v1 already exists locally" in capsys.readouterr().err
    _git(repo, "tag", "-d", "submission-v1")
    assert submit_main(["v1", "--repo", str(repo)]) == 1
    assert "already exists on aicrowd" in capsys.readouterr().err


def test_submit_preflight_failures(project, capsys, monkeypatch):
    repo, remote = project
    assert submit_main(["x", "--repo", str(repo), "--remote", "nowhere", "--dry-run"]) == 1
    assert "no git remote named 'nowhere'" in capsys.readouterr().err

    big = repo / "data.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 1))
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    assert "files over 5 MB must go through git-lfs, these do not: data.bin" in capsys.readouterr().err
    big.unlink()
    song = repo / "songs" / "mixture.wav"  # a dataset is never sent through git-lfs: it is kept out
    song.parent.mkdir()
    song.write_bytes(os.urandom(5 * 1024 * 1024 + 1))
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "look like a dataset or audio" in err and "songs/mixture.wav" in err and "git lfs track" not in err
    song.unlink()

    (repo / "aicrowd.json").write_text(json.dumps({**VALID, "gpu": "yes"}))
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    assert "'gpu' must be a bool" in capsys.readouterr().err
    (repo / "aicrowd.json").write_text(json.dumps(VALID))

    for weights in (repo / "my_submission" / "weights").glob("*.safetensors"):  # a partial folder is fine; none is not
        weights.unlink()
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    assert "smoke test failed: WeightsNotFoundError: weights folder" in capsys.readouterr().err
    assert _git(remote, "tag") == ""


def test_submit_script_runs_the_python_command(project):
    repo, _ = project
    shutil.copy(REPO / "submit.sh", repo / "submit.sh")
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(["./submit.sh", "--help"], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "--dry-run" in result.stdout


def test_smoke_separation_in_process(tmp_path, monkeypatch):
    from tools.smoke import run

    torch.manual_seed(0)  # one multi-target file: one trunk pass instead of four
    config = BSRNNConfig(targets=["bass", "drums", "other", "vocals"], feature_dim=8, num_repeat=1,
                         band_scheme=[[4000.0, 2000.0]])
    save_model(build_model(config), tmp_path / "weights" / "all.safetensors")
    monkeypatch.setattr("my_submission.bsrnn_model.WEIGHTS_DIR", tmp_path / "weights")
    # the answer's checks come first, so reaching the time check means the answer was right
    with pytest.raises(RuntimeError, match="separating 5 s took .* over the limit"):
        run(5.0, time_factor=1e-4)


@pytest.mark.slow
def test_submit_end_to_end_with_the_real_smoke_run(project, capsys):
    repo, remote = project
    assert submit_main(["real smoke", "--repo", str(repo)]) == 0
    assert '"realtime_factor"' in capsys.readouterr().out
    assert _git(remote, "tag").split() == ["submission-real-smoke"]
