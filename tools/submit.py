"""Submit to the challenge the way the official kit's ``submit.sh`` does, with pre-flight checks first.

    ./submit.sh <name> [--dry-run] [--docker] [--remote aicrowd] [--force] [--allow-secret PATH]

1. ``aicrowd.json`` is valid and the tag ``submission-<name>`` is new (locally and on the remote).
2. The remote: an existing ``aicrowd`` remote (SSH or HTTPS, added by hand) is used as it is; otherwise the
   GitLab user and token that ``aicrowd login`` stored (aicrowd-cli) make
   ``https://oauth2:<token>@gitlab.aicrowd.com/<user>/sdx-2023-music-demixing-track-starter-kit.git``, added as
   the remote. The token is never printed. A repository without a git identity gets the AIcrowd user's.
3. Files: every file the submission adds, changes or deletes is listed; files that look like secrets (``.env``,
   keys, tokens, credentials) are refused unless ``--allow-secret PATH``; a file over 5 MB that looks like a
   dataset (audio, archives) is refused; any other file over 5 MB is LFS-tracked (a line in ``.gitattributes``),
   which needs git-lfs; ``lfs.locksverify`` is set for the remote, as the official helper does.
4. In a fresh process (as on the server), ``MySeparationModel`` loads the weights and separates 5 s of audio
   within 1.57 x 5 s. ``--docker`` adds the slowest check: the grader's image built offline from what would be
   committed, and the submission run in it with the grader's limits (``tools/docker_check.py``).
5. Commit (``git add -A``, then ``git add --renormalize .`` so that files committed before git-lfs was set up
   become LFS objects), tag, and push the branch and the tag (``--force`` force-pushes the branch, as the official
   helper does). A tag push is a submission. ``--dry-run`` changes nothing: it stops after the checks and prints
   what it would do; without an AIcrowd login (and no remote) it still runs every other check, then fails naming
   what it could not check.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from models.cli import add_debug_flag
from models.contract import TIME_FACTOR

from .aicrowd_account import Account, NotLoggedInError, mask_token, read_account
from .check_config import load_and_check

LFS_THRESHOLD = 5 * 1024 * 1024
WEIGHTS_FOLDER = "my_submission/weights"
GITLAB_PROJECT = "sdx-2023-music-demixing-track-starter-kit"
REMOTE_HINT = f"git remote add aicrowd git@gitlab.aicrowd.com:<username>/{GITLAB_PROJECT}.git"
LOGIN_URL = f"https://oauth2:<token>@gitlab.aicrowd.com/<username>/{GITLAB_PROJECT}.git"  # shown by a dry run


class SubmitError(RuntimeError):
    """A pre-flight check or a git step failed; the message says which and what to do."""


def git(repo: Path, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, input=stdin)
    if check and result.returncode != 0:
        message = f"git {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}"
        raise SubmitError(mask_token(message))
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


def changed_files(repo: Path) -> list[tuple[str, str]]:
    """``(status, path)`` for every file ``git add -A`` would add (A), change (M) or delete (D)."""
    # --no-optional-locks: a dry run must not even refresh the index's stat cache
    out = git(repo, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all",
              "--no-renames").stdout
    changes = []
    for entry in filter(None, out.split("\0")):
        code, path = entry[:2], entry[3:]
        if code == "AD":  # added to the index, then deleted: not in HEAD, not in the commit
            continue
        changes.append(("A" if code == "??" or "A" in code else "D" if "D" in code else "M", path))
    return sorted(changes, key=lambda change: change[1])


DATA_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".mp4", ".ogg", ".aiff", ".zip", ".tar", ".gz", ".tgz", ".7z")
# names of files that hold credentials (matched against the file name, case-insensitively; public keys pass)
SECRET_NAMES = (".env", ".env.*", "*.env", ".netrc", ".pypirc", ".git-credentials", "*.pem", "*.key", "*.p12",
                "*.pfx", "*.keystore", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*credential*",
                "*secret*", "*token*")
# source code is named after what it handles (tokenizer.py, secrets.md): its names pass, its content is scanned
CODE_SUFFIXES = (".py", ".ipynb", ".md", ".rst")
# what credentials look like inside a file: private keys, GitLab/GitHub tokens, AWS keys, a token in a git URL,
# the login aicrowd-cli stores (its config.toml: API key and GitLab token)
SECRET_CONTENT = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|glpat-[0-9A-Za-z_-]{20}|gh[opsu]_[0-9A-Za-z]{36}"
                            rb"|AKIA[0-9A-Z]{16}|oauth2:[0-9A-Za-z_-]{16,}@"
                            rb"|(?:aicrowd_api_key|oauth_token) *= *[\"'][0-9A-Za-z_-]{24,}")
SECRET_SCAN_BYTES = 1024 * 1024


def looks_like_data(path: str) -> bool:
    """An audio file or an archive (what a dataset is made of), never something to submit through git-lfs."""
    return path.lower().endswith(DATA_SUFFIXES)


def looks_like_secret(repo: Path, path: str) -> bool:
    """A credential file by its name, or a small file that contains a private key or an access token."""
    name = Path(path).name.lower()
    if not name.endswith((".pub", *CODE_SUFFIXES)) and any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_NAMES):
        return True
    file = repo / path
    return file.stat().st_size <= SECRET_SCAN_BYTES and SECRET_CONTENT.search(file.read_bytes()) is not None


def check_secrets(repo: Path, files: list[str], allowed: set[str]) -> None:
    secrets = [f for f in files if f not in allowed and looks_like_secret(repo, f)]
    if secrets:
        raise SubmitError("these files look like secrets and would be pushed to the grader's GitLab: "
                          + ", ".join(secrets) + " (add them to .gitignore, or pass --allow-secret PATH for "
                          "each one that is not a secret)")


def lfs_available(repo: Path) -> bool:
    return git(repo, "lfs", "version", check=False).returncode == 0


def lfs_plan(repo: Path, files: list[str]) -> tuple[list[str], list[str]]:
    """The files over 5 MB: ``(already LFS-routed, to track)``; raises for dataset-like files and, when any
    large file exists, for a missing git-lfs."""
    big = [f for f in files if (repo / f).stat().st_size > LFS_THRESHOLD]
    if not big:
        return [], []
    attrs = git(repo, "check-attr", "-z", "filter", "--", *big).stdout.split("\0")
    not_lfs = [path for path, value in zip(attrs[0::3], attrs[2::3]) if value != "lfs"]
    data = [path for path in not_lfs if looks_like_data(path)]
    if data:
        raise SubmitError("these large files look like a dataset or audio, which the grader neither needs nor gets: "
                          + ", ".join(data) + " (keep data outside the repository, or add its folder to .gitignore; "
                          "data/ and public_dataset/ are ignored already)")
    if not lfs_available(repo):
        raise SubmitError(f"git-lfs is not installed but {', '.join(big)} must be pushed as LFS objects "
                          "(install it: apt-get install git-lfs)")
    return [f for f in big if f not in not_lfs], not_lfs


def becomes_lfs_object(repo: Path, path: str) -> bool:
    """Committed as a plain blob although ``.gitattributes`` routes it through LFS (``--renormalize`` changes it)."""
    size = git(repo, "cat-file", "-s", f"HEAD:{path}", check=False).stdout.strip()
    return size.isdigit() and int(size) > 1024


@dataclass
class Plan:
    """What the checks found and what the submission will do."""
    tag: str
    branch: str
    remote: str
    remote_url: str
    add_remote: bool
    identity: Account | None  # set the repository's git identity from this AIcrowd account
    lfs_track: list[str]
    lfs_files: list[str]
    changes: list[tuple[str, str]]


def login(account_config: Path | None) -> Account:
    try:
        return read_account(account_config)
    except NotLoggedInError as e:
        raise SubmitError(f"{e}; or add the remote yourself: {REMOTE_HINT}") from e


def plan_remote(repo: Path, remote: str, account_config: Path | None) -> tuple[str, bool, Account | None]:
    """``(url, needs adding, account used)``: an existing remote as it is, else one made from the AIcrowd login."""
    existing = git(repo, "remote", "get-url", remote, check=False)
    if existing.returncode == 0:
        return existing.stdout.strip(), False, None
    account = login(account_config)
    return account.remote_url(GITLAB_PROJECT), True, account


def plan_identity(repo: Path, account: Account | None, account_config: Path | None) -> Account | None:
    """``None`` when git already has a user name and e-mail; else the AIcrowd account to take them from."""
    if all(git(repo, "config", key, check=False).stdout.strip() for key in ("user.name", "user.email")):
        return None
    try:
        return account or read_account(account_config)
    except NotLoggedInError as e:
        raise SubmitError(f"git has no user.name/user.email to commit with and {e}; or set them: "
                          "git config user.name NAME && git config user.email EMAIL") from e


def preflight(repo: Path, tag: str, remote: str, account_config: Path | None = None,
              allowed_secrets: set[str] | None = None, dry_run: bool = False
              ) -> tuple[Plan, list[str], list[str]]:
    """Run every check (raises ``SubmitError`` at the first failure); returns the plan, what passed, and what a
    ``dry_run`` could not check for want of an AIcrowd login (a real run raises there instead)."""
    passed, unchecked = [], []
    config, problems = load_and_check(repo / "aicrowd.json")
    if problems:
        raise SubmitError("aicrowd.json is not valid:\n  " + "\n  ".join(problems))
    passed.append("aicrowd.json is valid")
    if git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0:
        raise SubmitError(f"tag {tag} already exists locally; choose another name (a new tag on the same commit "
                          "does not trigger a new evaluation anyway)")
    branch = git(repo, "symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    if not branch:
        raise SubmitError("HEAD is detached; check out a branch to submit from")
    try:
        url, add_remote, account = plan_remote(repo, remote, account_config)
    except SubmitError as e:
        if not dry_run:
            raise
        unchecked.append(f"the remote and the tag on it: {e}")
        url, add_remote, account = LOGIN_URL, True, None
    if url != LOGIN_URL:
        if git(repo, "ls-remote", "--tags", url, f"refs/tags/{tag}").stdout.strip():
            raise SubmitError(f"tag {tag} already exists on {remote}; choose another name")
        passed.append(f"tag {tag} is new on {remote} ({mask_token(url)}{', to be added' if add_remote else ''})")
    try:
        identity = plan_identity(repo, account, account_config)
    except SubmitError as e:
        if not dry_run:
            raise
        unchecked.append(f"the git identity: {e}")
        identity = None
    if identity:
        passed.append(f"git identity to set in this repository: {identity.username} <{identity.noreply_email}>")
    files = files_to_commit(repo)
    check_secrets(repo, files, allowed_secrets or set())
    lfs_files, lfs_track = lfs_plan(repo, files)
    check_weights_not_ignored(repo)
    passed.append(f"{len(files)} files in the submission, none looks like a secret; "
                  f"{len(lfs_files) + len(lfs_track)} over 5 MB, all through git-lfs")
    passed.append(f"smoke separation: {smoke(repo)}")
    changes = changed_files(repo)
    if lfs_track and not any(path == ".gitattributes" for _, path in changes):
        changes = sorted([*changes, ("M" if (repo / ".gitattributes").exists() else "A", ".gitattributes")],
                         key=lambda change: change[1])
    plan = Plan(tag, branch, remote, url, add_remote, identity, lfs_track, lfs_files + lfs_track, changes)
    return plan, passed, unchecked


def human_size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


def describe_changes(repo: Path, plan: Plan) -> str:
    """One line per file the submission adds (A), changes (M) or deletes (D), with its size and LFS routing."""
    touched = {path for _, path in plan.changes}
    renormalized = [p for p in plan.lfs_files if p not in touched and becomes_lfs_object(repo, p)]
    rows = sorted([*plan.changes, *(("M", p) for p in renormalized)], key=lambda change: change[1])
    lines = []
    for code, path in rows:
        file = repo / path
        size = human_size(file.stat().st_size) if code != "D" and file.is_file() else ""
        notes = [size] if size else []
        if path in plan.lfs_track:
            notes.append("LFS-tracked now")
        elif path in plan.lfs_files:
            notes.append("LFS object" + (", re-added through LFS" if path in renormalized else ""))
        lines.append(f"  {code} {path}" + (f"  ({', '.join(notes)})" if notes else ""))
    return f"{len(rows)} files to add, change or delete:\n" + "\n".join(lines) if lines else "nothing to commit"


def git_steps(plan: Plan, name: str, force: bool) -> list[list[str]]:
    """The git commands of the submission, in order (the remote and identity ones only where needed)."""
    steps = []
    if plan.add_remote:
        steps.append(["remote", "add", plan.remote, plan.remote_url])
    if plan.identity:
        steps += [["config", "user.name", plan.identity.username],
                  ["config", "user.email", plan.identity.noreply_email]]
    if plan.lfs_files:
        steps.append(["lfs", "install", "--local"])
        if plan.remote_url.startswith("https://"):
            steps.append(["config", f"lfs.{plan.remote_url}/info/lfs.locksverify", "true"])
    if plan.lfs_track:
        steps.append(["lfs", "track", "--filename", "--", *plan.lfs_track])
    return steps + [["add", "-A"], ["add", "--renormalize", "."], ["commit", "-m", f"Submission {name}"],
                    ["tag", "-a", plan.tag, "-m", f"Submission {name}"],
                    ["push", *(["--force"] if force else []), plan.remote,
                     f"refs/heads/{plan.branch}:refs/heads/{plan.branch}"],
                    ["push", plan.remote, f"refs/tags/{plan.tag}"]]


def check_weights_not_ignored(repo: Path) -> None:
    folder = repo / WEIGHTS_FOLDER
    if not folder.is_dir():
        return
    paths = [str(p.relative_to(repo)) for p in folder.rglob("*") if p.is_file()]
    listed = git(repo, "check-ignore", "--stdin", "-z", check=False, stdin="\0".join(paths)).stdout if paths else ""
    ignored = [path for path in listed.split("\0") if path]  # -z: names unquoted (spaces, non-ASCII)
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
           docker: bool = False, account_config: Path | None = None,
           allowed_secrets: set[str] | None = None) -> str:
    """Check, commit, tag and push; returns the tag. Nothing is changed, committed, tagged or pushed on ``dry_run``."""
    repo = Path(git(Path(repo), "rev-parse", "--show-toplevel").stdout.strip())
    plan, passed, unchecked = preflight(repo, tag_name(name), remote, account_config, allowed_secrets, dry_run)
    for line in passed:
        print(f"ok: {line}")
    if docker:
        print(f"ok: {docker_preflight(repo)}")
    print(describe_changes(repo, plan))
    steps = git_steps(plan, name, force)
    if dry_run:
        print("dry run: would now run\n" + "\n".join("  git " + mask_token(" ".join(step)) for step in steps))
        if unchecked:
            raise SubmitError("dry run: every other check passed, but a real run would stop at "
                              + "; and at ".join(unchecked))
        return plan.tag
    for step in steps:
        if step[0] == "commit" and git(repo, "diff", "--cached", "--quiet", check=False).returncode == 0:
            continue  # nothing new to commit: tag the current commit
        git(repo, *step)
        print(f"done: git {mask_token(' '.join(step))}")
    print(f"submitted {plan.tag}: follow the evaluation on the issues page of your repository at gitlab.aicrowd.com")
    return plan.tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./submit.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="submission name; the tag is submission-<name> (spaces become dashes)")
    parser.add_argument("--remote", default="aicrowd",
                        help="git remote to push to (default: aicrowd; added from the AIcrowd login when missing)")
    parser.add_argument("--dry-run", action="store_true", help="run the checks and list the files; change nothing")
    parser.add_argument("--force", action="store_true", help="force-push the branch")
    parser.add_argument("--docker", action="store_true",
                        help="also build the grader's image and run the submission in it (minutes)")
    parser.add_argument("--allow-secret", action="append", default=[], metavar="PATH",
                        help="submit PATH although its name or content looks like a secret (repeatable)")
    parser.add_argument("--aicrowd-config", type=Path, default=None, metavar="PATH",
                        help="aicrowd-cli's config file with the login (default: the one `aicrowd login` writes)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository to submit (default: here)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    try:
        submit(args.repo, args.name, args.remote, args.dry_run, args.force, args.docker, args.aicrowd_config,
               set(args.allow_secret))
    except (SubmitError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"submit: {mask_token(str(e))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
