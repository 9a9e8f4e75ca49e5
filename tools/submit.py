"""Submit to the challenge: pre-flight checks, then commit, tag ``submission-<name>`` and push.

    ./submit.sh <name> [--dry-run] [--docker] [--remote aicrowd] [--force]   (or python -m tools.submit ...)

Pre-flight, cheapest first: ``aicrowd.json`` is valid; the tag is new (locally and on the remote);
the remote exists; every file to commit that is over 5 MB is routed through git-lfs (and git-lfs is
installed); no weight file is git-ignored; and, in a fresh process (as on the server),
``MySeparationModel`` loads the bundled weights and separates 5 s of audio within
1.57 x 5 s. Then everything is committed (``git add -A``, then ``git add --renormalize .`` so that files
committed before git-lfs was installed become LFS objects), tagged, and the branch and the tag are
pushed to the remote (``--force`` force-pushes the branch, as the official helper does). A tag push
is a submission; ``--dry-run`` stops after the checks. ``--docker`` adds the slowest check: the grader's
image built offline from what would be committed and the submission run in it with the grader's limits
(``tools/docker_check.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from models.cli import add_debug_flag
from models.contract import TIME_FACTOR

from .check_config import load_and_check

LFS_THRESHOLD = 5 * 1024 * 1024
WEIGHTS_FOLDER = "my_submission/weights"
REMOTE_HINT = "git remote add aicrowd git@gitlab.aicrowd.com:<username>/sdx-2023-music-demixing-track-starter-kit.git"


class SubmitError(RuntimeError):
    """A pre-flight check or a git step failed; the message says which and what to do."""


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SubmitError(f"git {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def tag_name(name: str) -> str:
    """``submission-<name>`` with runs of whitespace turned into dashes; refused when git would refuse it."""
    tag = "submission-" + re.sub(r"\s+", "-", name.strip())
    if not name.strip() or subprocess.run(["git", "check-ref-format", f"refs/tags/{tag}"]).returncode != 0:
        raise SubmitError(f"{name!r} does not make a valid tag name ({tag!r})")
    return tag


def files_to_commit(repo: Path) -> list[str]:
    """Tracked and untracked, not ignored, files (what ``git add -A`` commits), relative to ``repo``."""
    out = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    return sorted({p for p in out.split("\0") if p and (repo / p).is_file()})


DATA_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".mp4", ".ogg", ".aiff", ".zip", ".tar", ".gz", ".tgz", ".7z")


def looks_like_data(path: str) -> bool:
    """An audio file or an archive (what a dataset is made of), never something to submit through git-lfs."""
    return path.lower().endswith(DATA_SUFFIXES)


def check_lfs(repo: Path, files: list[str]) -> None:
    big = [f for f in files if (repo / f).stat().st_size > LFS_THRESHOLD]
    if not big:
        return
    attrs = git(repo, "check-attr", "-z", "filter", "--", *big).stdout.split("\0")
    not_lfs = [path for path, value in zip(attrs[0::3], attrs[2::3]) if value != "lfs"]
    data = [path for path in not_lfs if looks_like_data(path)]
    if data:
        raise SubmitError("these large files look like a dataset or audio, which the grader neither needs nor gets: "
                          + ", ".join(data) + " (keep data outside the repository, or add its folder to .gitignore; "
                          "data/ and public_dataset/ are ignored already)")
    if not_lfs:
        raise SubmitError("files over 5 MB must go through git-lfs, these do not: " + ", ".join(not_lfs)
                          + ' (add a pattern to .gitattributes, e.g. git lfs track "*.ext")')
    if git(repo, "lfs", "version", check=False).returncode != 0:
        raise SubmitError(f"git-lfs is not installed but {', '.join(big)} must be pushed as LFS objects "
                          "(install it: apt-get install git-lfs && git lfs install)")


def check_weights_not_ignored(repo: Path) -> None:
    folder = repo / WEIGHTS_FOLDER
    if not folder.is_dir():
        return
    paths = [str(p.relative_to(repo)) for p in folder.rglob("*") if p.is_file()]
    ignored = git(repo, "check-ignore", "--", *paths, check=False).stdout.split() if paths else []
    if ignored:
        raise SubmitError(f"weight files are git-ignored and would not reach the grader: {', '.join(ignored)}")


def smoke(repo: Path, seconds: float = 5.0) -> str:
    """Run ``tools.smoke`` in a fresh process from ``repo``."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run([sys.executable, "-m", "tools.smoke", "--seconds", str(seconds),
                             "--time-factor", str(TIME_FACTOR)], cwd=repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout or "no output").strip().splitlines()
        raise SubmitError(lines[-1] if lines[-1].startswith("smoke test failed") else "smoke test failed: " + lines[-1])
    return result.stdout.strip()


def preflight(repo: Path, tag: str, remote: str) -> list[str]:
    """Run every check (raises ``SubmitError`` at the first failure); returns what passed, for the log."""
    passed = []
    config, problems = load_and_check(repo / "aicrowd.json")
    if problems:
        raise SubmitError("aicrowd.json is not valid:\n  " + "\n  ".join(problems))
    passed.append("aicrowd.json is valid")
    if git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0:
        raise SubmitError(f"tag {tag} already exists locally; choose another name (a new tag on the same commit "
                          "does not trigger a new evaluation anyway)")
    if git(repo, "remote", "get-url", remote, check=False).returncode != 0:
        raise SubmitError(f"no git remote named {remote!r}; add it: {REMOTE_HINT}")
    if git(repo, "ls-remote", "--tags", remote, f"refs/tags/{tag}").stdout.strip():
        raise SubmitError(f"tag {tag} already exists on {remote}; choose another name")
    passed.append(f"tag {tag} is new, remote {remote} reachable")
    files = files_to_commit(repo)
    check_lfs(repo, files)
    check_weights_not_ignored(repo)
    passed.append(f"{len(files)} files to commit; every file over 5 MB goes through git-lfs")
    passed.append(f"smoke separation: {smoke(repo)}")
    return passed


def docker_preflight(repo: Path) -> str:
    """The check in the grader's image (``tools.docker_check``); its report, or ``SubmitError`` naming the step."""
    from tools.docker_check import DockerCheckError, run_check

    try:
        report = run_check(repo)
    except DockerCheckError as e:
        raise SubmitError(f"docker check failed at {e}") from e
    if not report.passed:
        raise SubmitError("docker check failed:\n  " + "\n  ".join(report.lines()))
    return "docker check:\n  " + "\n  ".join(report.lines())


def submit(repo: Path, name: str, remote: str = "aicrowd", dry_run: bool = False, force: bool = False,
           docker: bool = False) -> str:
    """Check, commit, tag and push; returns the tag. Nothing is committed, tagged or pushed on ``dry_run``."""
    repo = Path(git(Path(repo), "rev-parse", "--show-toplevel").stdout.strip())
    tag = tag_name(name)
    branch = git(repo, "symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    if not branch:
        raise SubmitError("HEAD is detached; check out a branch to submit from")
    for line in preflight(repo, tag, remote):
        print(f"ok: {line}")
    if docker:
        print(f"ok: {docker_preflight(repo)}")
    # --renormalize: a weight file committed before git-lfs was set up (the kit's own bundled file is one) is
    # stored as a plain blob; this re-adds it through the LFS filter so it reaches the remote as an LFS object.
    steps = [["add", "-A"], ["add", "--renormalize", "."], ["commit", "-m", f"Submission {name}"],
             ["tag", "-a", tag, "-m", f"Submission {name}"],
             ["push", *(["--force"] if force else []), remote, f"refs/heads/{branch}:refs/heads/{branch}"],
             ["push", remote, f"refs/tags/{tag}"]]
    if dry_run:
        print("dry run: would now run\n" + "\n".join("  git " + " ".join(step) for step in steps))
        return tag
    for step in steps:
        if step[0] == "commit" and git(repo, "diff", "--cached", "--quiet", check=False).returncode == 0:
            continue  # nothing new to commit: tag the current commit
        git(repo, *step)
        print(f"done: git {' '.join(step)}")
    print(f"submitted {tag}: follow the evaluation on the issues page of your repository at gitlab.aicrowd.com")
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./submit.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="submission name; the tag is submission-<name> (spaces become dashes)")
    parser.add_argument("--remote", default="aicrowd", help="git remote to push to (default: aicrowd)")
    parser.add_argument("--dry-run", action="store_true", help="run the checks only")
    parser.add_argument("--force", action="store_true", help="force-push the branch")
    parser.add_argument("--docker", action="store_true",
                        help="also build the grader's image and run the submission in it (minutes)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository to submit (default: here)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    try:
        submit(args.repo, args.name, args.remote, args.dry_run, args.force, args.docker)
    except (SubmitError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"submit: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
