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


def test_an_unreadable_config_path_is_a_problem_not_a_traceback(tmp_path, capsys):
    assert check_main([str(tmp_path)]) == 1  # a folder
    assert capsys.readouterr().err.strip() == f"{tmp_path}: cannot read it (Is a directory)"
    (tmp_path / "aicrowd.json").write_bytes(b'\xff\xfe{"gpu": true}')  # UTF-16, not the UTF-8 JSON needs
    assert check_main([str(tmp_path / "aicrowd.json")]) == 1
    assert "aicrowd.json: not UTF-8 text" in capsys.readouterr().err


def test_tag_names():
    assert tag_name("v0.1") == "submission-v0.1"
    assert tag_name("my first  try") == "submission-my-first-try"
    with pytest.raises(RuntimeError, match="valid tag"):
        tag_name("bad..name")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the kit with tiny weights, committed, and a local bare repository as the ``aicrowd`` remote.
    git reads neither this machine's system nor global config (identity, or the LFS filters a system-wide git-lfs
    install configures): only the repository's own."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
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
    assert "1 files to add, change or delete:\n  A NOTES.md" in out
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
    no_login = ["x", "--repo", str(repo), "--remote", "nowhere", "--aicrowd-config", str(repo / "no-login.toml")]
    assert submit_main(no_login) == 1  # a real run stops at once
    captured = capsys.readouterr()
    assert "not logged in to AIcrowd" in captured.err and "git remote add aicrowd" in captured.err
    assert "ok:" not in captured.out
    assert submit_main([*no_login, "--dry-run"]) == 1  # a dry run checks the rest, then names what it could not
    captured = capsys.readouterr()
    assert "ok: aicrowd.json is valid" in captured.out and "ok: smoke separation" in captured.out
    assert "git remote add nowhere https://oauth2:***@gitlab.aicrowd.com/<username>/" in captured.out
    assert "every other check passed, but a real run would stop at the remote and the tag on it" in captured.err
    assert "not logged in to AIcrowd" in captured.err and "aicrowd login" in captured.err

    big = repo / "data.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 1))
    monkeypatch.setattr("tools.submit.lfs_available", lambda repo: False)
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    assert "git-lfs is not installed but data.bin must be pushed as LFS objects" in capsys.readouterr().err
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


def test_submit_refuses_secrets_unless_allowed(project, quick_smoke, capsys):
    repo, _ = project
    (repo / ".env").write_text("API_KEY=123\n")
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "look like secrets" in err and ".env" in err and "--allow-secret" in err
    assert submit_main(["x", "--repo", str(repo), "--dry-run", "--allow-secret", ".env"]) == 0
    capsys.readouterr()
    notes = repo / "docs" / "notes.md"  # a token pasted into an ordinary file
    notes.parent.mkdir()
    notes.write_text("push with glpat-" + "a1B2c3D4e5F6g7H8i9J0k" + "\n")
    assert submit_main(["x", "--repo", str(repo), "--dry-run", "--allow-secret", ".env"]) == 1
    assert "docs/notes.md" in capsys.readouterr().err
    login = repo / "aicrowd" / "config.toml"  # aicrowd-cli's login, copied into the repository
    login.parent.mkdir()
    login.write_text('aicrowd_api_key = "' + "0123456789abcdef" * 2 + '"\n')
    assert submit_main(["x", "--repo", str(repo), "--dry-run", "--allow-secret", ".env"]) == 1
    assert "aicrowd/config.toml" in capsys.readouterr().err
    login.unlink()
    (repo / "id_ed25519.pub").write_text("ssh-ed25519 AAAA me\n")  # a public key is not a secret
    (repo / "tokenizer.py").write_text("def split(text): return text.split()\n")  # code is scanned, not named
    notes.unlink()
    assert submit_main(["x", "--repo", str(repo), "--dry-run", "--allow-secret", ".env"]) == 0


def _fake_git_lfs(folder: Path) -> str:
    """A ``git-lfs`` executable that answers ``version`` and ``install`` and appends ``track`` patterns to
    .gitattributes, as git-lfs does; returns a PATH with it first."""
    folder.mkdir()
    script = folder / "git-lfs"
    script.write_text("#!/bin/sh\n"
                      'case "$1" in\n'
                      "  version) echo git-lfs/3.0.0-fake;;\n"
                      "  install) ;;\n"
                      '  track) shift; [ "$1" = --filename ] && shift; [ "$1" = -- ] && shift;\n'
                      '    for f in "$@"; do echo "$f filter=lfs diff=lfs merge=lfs -text" >> .gitattributes; done;;\n'
                      "  *) exit 1;;\n"
                      "esac\n")
    script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_dry_run_lists_every_file_and_plans_lfs_tracking(project, quick_smoke, capsys, monkeypatch, tmp_path):
    repo, remote = project
    monkeypatch.setenv("PATH", _fake_git_lfs(tmp_path / "bin"))
    (repo / "model.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 1))
    (repo / "NOTES.md").write_text("new\n")
    (repo / "requirements.txt").write_text("torch==2.13.0\n")
    (repo / "my_submission" / "weights" / "bass.safetensors").unlink()
    os.utime(repo / "aicrowd.json", ns=(1, 1))  # a stat change that plain `git status` would write into the index
    index = repo / ".git" / "index"
    index_before = (index.read_bytes(), index.stat().st_mtime_ns)
    assert submit_main(["v2", "--repo", str(repo), "--dry-run"]) == 0
    assert (index.read_bytes(), index.stat().st_mtime_ns) == index_before  # a dry run does not touch the index
    out = capsys.readouterr().out
    listing = out[out.index("ok: smoke"):out.index("dry run")]
    assert "5 files to add, change or delete" in listing
    for line in ("  M .gitattributes", "  A NOTES.md  (4 B)", "  A model.bin  (5.24 MB, LFS-tracked now)",
                 "  D my_submission/weights/bass.safetensors\n", "  M requirements.txt  (14 B)"):
        assert line in listing, listing
    assert "git lfs track --filename -- model.bin" in out and "git lfs install --local" in out
    assert (repo / ".gitattributes").read_text() == (REPO / ".gitattributes").read_text()  # a dry run changes nothing
    assert _git(remote, "tag") == ""


def test_submit_adds_the_remote_and_identity_from_the_aicrowd_login(project, quick_smoke, capsys, monkeypatch,
                                                                     tmp_path):
    repo, remote = project
    token = "tok" + "ABCDEFGH12345678"
    config = tmp_path / "aicrowd" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'aicrowd_api_key = "key"\n[gitlab]\nusername = "me"\noauth_token = "{token}"\n'
                      'userid = 42\n')
    _git(repo, "remote", "remove", "aicrowd")
    _git(repo, "config", "--unset", "user.name")
    _git(repo, "config", "--unset", "user.email")
    # the login's URL, redirected to the local bare repository (no network in tests)
    url = f"https://oauth2:{token}@gitlab.aicrowd.com/me/sdx-2023-music-demixing-track-starter-kit.git"
    _git(repo, "config", f"url.{remote}.insteadOf", url)
    (repo / "NOTES.md").write_text("a change\n")

    assert submit_main(["v1", "--repo", str(repo), "--dry-run", "--aicrowd-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "oauth2:***@gitlab.aicrowd.com/me/" in out and "to be added" in out and token not in out
    assert "git identity to set in this repository: me <42-me@users.noreply.gitlab.aicrowd.com>" in out
    assert _git(repo, "remote") == ""

    assert submit_main(["v1", "--repo", str(repo), "--aicrowd-config", str(config)]) == 0
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err
    assert _git(repo, "config", "remote.aicrowd.url").strip() == url  # (get-url would apply insteadOf)
    assert _git(repo, "config", "user.email").strip() == "42-me@users.noreply.gitlab.aicrowd.com"
    assert _git(remote, "tag").split() == ["submission-v1"]
    assert _git(remote, "log", "-1", "--format=%an", "main").strip() == "me"


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
    # a quiet machine, whatever else runs beside the tests: a loaded one gives no verdict (models.timing)
    monkeypatch.setattr("models.timing.machine_busy_seconds", lambda: None)
    monkeypatch.setattr("models.timing.os.getloadavg", lambda: (0.0, 0.0, 0.0))
    # the answer's checks come first, so reaching the time check means the answer was right
    with pytest.raises(RuntimeError, match="separating 5 s took .* over the limit"):
        run(5.0, time_factor=1e-4)


@pytest.mark.slow
def test_submit_end_to_end_with_the_real_smoke_run(project, capsys):
    repo, remote = project
    assert submit_main(["real smoke", "--repo", str(repo)]) == 0
    assert '"realtime_factor"' in capsys.readouterr().out
    assert _git(remote, "tag").split() == ["submission-real-smoke"]


def test_a_password_in_a_remote_added_by_hand_is_never_printed(project, quick_smoke, capsys):
    repo, _ = project
    secret = "glpat-" + "Zy9Xw8Vu7Ts6Rq5Po4Nm"
    # unreachable (port 9, discard): ls-remote fails, and its command line is in the error
    _git(repo, "remote", "set-url", "aicrowd", f"https://me:{secret}@127.0.0.1:9/me/kit.git")
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "git ls-remote" in captured.err and "me:***@127.0.0.1:9" in captured.err
    assert secret not in captured.out + captured.err


def test_ignored_weight_files_are_named_whole(project, quick_smoke, capsys):
    repo, _ = project
    weights = repo / "my_submission" / "weights"
    shutil.copy(weights / "vocals.safetensors", weights / "my vocals é.safetensors")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "my vocals*\n")
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 1
    assert "git-ignored and would not reach the grader: my_submission/weights/my vocals é.safetensors" in (
        capsys.readouterr().err)


def test_a_file_added_then_deleted_is_no_change(project, quick_smoke, capsys):
    repo, _ = project
    (repo / "gone.txt").write_text("staged, then deleted\n")
    _git(repo, "add", "gone.txt")
    (repo / "gone.txt").unlink()  # status AD: `git add -A` leaves the commit as it was
    (repo / "NOTES.md").write_text("new\n")
    assert submit_main(["x", "--repo", str(repo), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 files to add, change or delete:\n  A NOTES.md" in out and "gone.txt" not in out
