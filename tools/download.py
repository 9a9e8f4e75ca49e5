"""Download the challenge's data and lay it out where evaluation and training look for it.

    python -m tools.download DATASET [DATASET...] [--dest DIR] [--pattern GLOB...] [--archive FILE] [--force]
                             [--aicrowd-config PATH] [--aicrowd-cli PATH]

The SDX23 sets and the official 7-second evaluation set come from the challenge's dataset page through
aicrowd-cli (``aicrowd dataset download``; run ``aicrowd login`` once and accept the challenge rules on the
page first); the free MUSDB18 preview comes through the ``musdb`` package; full MUSDB18 and MUSDB18-HQ are on
Zenodo behind a request for access, so the command says where to get them, and ``--archive`` then unpacks and
checks the downloaded file. ``--archive`` does the same for any dataset downloaded by hand.

Everything that can fail without the network is checked first: aicrowd-cli installed and logged in, the
destination new (or ``--force``), writable and on a disk with free space. Archives (zip, tar) are unpacked
safely into a hidden staging folder next to the destination, every track is checked as the kit reads it, and
the folder is then renamed into place; an existing destination is never merged or overwritten (``--force``
replaces it once the new copy is complete). On any error or Ctrl-C nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from models.cli import USER_ERRORS, add_debug_flag, run_main

from .aicrowd_account import INSTALL_HINT, NotLoggedInError, read_account
from .unpack import (
    Layout,
    LayoutError,
    check_layout,
    extract,
    find_root,
    is_archive,
    place,
    staging_folder,
    unpacked_size,
)

CHALLENGE = "music-demixing-track-mdx-23"
CHALLENGE_PAGE = "https://www.aicrowd.com/challenges/sound-demixing-challenge-2023/problems/music-demixing-track-mdx-23"
RULES_HINT = f"accept the challenge rules on the dataset page ({CHALLENGE_PAGE}/dataset_files)"
LIST_HINT = f"run `aicrowd dataset list -c {CHALLENGE}` and pass the file's title with --pattern"
# an unknown download size still needs room for the archive and its unpacked copy; below this, refuse at once
MIN_FREE_BYTES = 10**9
# what aicrowd-cli prints when no title matches, and when a file could not be fetched (it then still exits 0)
NO_MATCH_MARK = "No valid dataset found"
FETCH_FAILED_MARK = "Error in downloading dataset"

AICROWD, MUSDB, MANUAL = "aicrowd-cli", "musdb", "manual"


class DownloadError(RuntimeError):
    """A download that failed or cannot start; the message says what to do."""


# what the command reports as one line (``--debug``: with the traceback)
ERRORS = (*USER_ERRORS, DownloadError, NotLoggedInError)


@dataclass(frozen=True)
class Dataset:
    """One dataset the command knows: where it comes from (``source``), where it goes, its layout there and how
    the kit reads it. ``patterns``: globs on the titles of the challenge's dataset page (matched without regard to
    case). ``manual``: where to get a dataset no tool can download."""

    name: str
    summary: str
    source: str
    destination: str
    layout: Layout
    use: str  # how the kit reads it; {dest} is the destination
    patterns: tuple[str, ...] = ()
    manual: str = ""


SDX23_LAYOUT = Layout(("",), require_mixture=False)
DATASETS = {d.name: d for d in (
    Dataset("musdb18-7-wav", "the official kit's local evaluation set (7-second MUSDB18 excerpts, WAV)", AICROWD,
            "public_dataset/MUSDB18-7-WAV", Layout(("test",), optional_splits=("train",)),
            "`python evaluate_locally.py` reads {dest}/test (its default data folder)", ("*musdb18*7*wav*",)),
    Dataset("labelnoise", "SDX23 label-noise training set (leaderboard A)", AICROWD,
            "data/moisesdb23_labelnoise_v1.0", SDX23_LAYOUT,
            "train with data.kind=sdx23 data.root={dest} data.valid_tracks=<your list> (leaderboard A: this set only)",
            ("*label*noise*",)),
    Dataset("bleeding", "SDX23 bleeding training set (leaderboard B)", AICROWD,
            "data/moisesdb23_bleeding_v1.0", SDX23_LAYOUT,
            "train with data.kind=sdx23 data.root={dest} data.valid_tracks=<your list> (leaderboard B: this set only)",
            ("*bleed*",)),
    Dataset("musdb18-7", "MUSDB18's free 7-second preview (.stem.mp4), fetched by the musdb package", MUSDB,
            "data/musdb18-7", Layout(("train", "test"), stem_files=True),
            "train with data.kind=musdb18 data.root={dest} (7-second excerpts: for trying the pipeline)"),
    Dataset("musdb18hq", "MUSDB18-HQ (WAV), from Zenodo after a request for access", MANUAL,
            "data/musdb18hq", Layout(("train", "test")),
            "train with data.kind=musdb18hq data.root={dest}; evaluate with --data {dest}/test",
            manual="request access and download musdb18hq.zip (over 20 GB; about 30 GB unpacked: 10 hours of "
                   "music, five 16-bit stereo WAV files per track) from https://zenodo.org/records/3338373"),
    Dataset("musdb18", "MUSDB18 (.stem.mp4), from Zenodo after a request for access", MANUAL,
            "data/musdb18", Layout(("train", "test"), stem_files=True),
            "train with data.kind=musdb18 data.root={dest}",
            manual="request access and download musdb18.zip from https://zenodo.org/records/1117372"),
)}


def case_insensitive(pattern: str) -> str:
    """``pattern`` as an fnmatch glob that matches letters of either case (``*ab*`` -> ``*[aA][bB]*``)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in pattern)


def build_parser() -> argparse.ArgumentParser:
    table = "\n".join(f"  {d.name:14} -> {d.destination:32} {d.summary}" for d in DATASETS.values())
    parser = argparse.ArgumentParser(prog="python -m tools.download", description=__doc__.split("\n\n")[0],
                                     epilog=f"datasets:\n{table}\n\n" + __doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", choices=list(DATASETS), metavar="DATASET",
                        help=f"one or more of: {', '.join(DATASETS)}")
    parser.add_argument("--dest", type=Path, metavar="DIR",
                        help="where the dataset folder goes (one dataset only; default: the table below)")
    parser.add_argument("--pattern", action="append", metavar="GLOB",
                        help="aicrowd-cli sets: a title to download from the dataset page, as `aicrowd dataset list` "
                             "shows it (a glob; repeatable; one dataset only; default: the table in tools/download.py)")
    parser.add_argument("--archive", type=Path, metavar="FILE",
                        help="unpack and check this already downloaded zip or tar file instead of downloading "
                             "(one dataset only; the file is left as it is)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing destination, once the new copy is complete and checked")
    parser.add_argument("--aicrowd-config", type=Path, metavar="PATH",
                        help="aicrowd-cli's config file, where `aicrowd login` stores the API key "
                             "(default: aicrowd-cli's own)")
    parser.add_argument("--aicrowd-cli", type=Path, metavar="PATH",
                        help="the aicrowd executable (default: the one next to this Python, else on PATH)")
    add_debug_flag(parser)
    return parser


@dataclass(frozen=True)
class Plan:
    dataset: Dataset
    destination: Path
    archive: Path | None
    patterns: tuple[str, ...]

    @property
    def needs_aicrowd(self) -> bool:
        return self.dataset.source == AICROWD and self.archive is None

    @property
    def is_manual(self) -> bool:
        return self.dataset.source == MANUAL and self.archive is None


def existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_destination(destination: Path, force: bool, needed: int, needed_known: bool) -> None:
    """``destination`` is new (or ``force``), its parent can be created and written, and its disk has ``needed``
    bytes free."""
    if destination.exists() or destination.is_symlink():
        if not destination.is_dir():
            raise ValueError(f"--dest {destination} is a file, not a folder")
        if not force:
            raise FileExistsError(f"{destination} exists; it is never merged or overwritten: move it away, or pass "
                                  "--force to replace it once the new copy is complete")
    ancestor = existing_ancestor(destination.parent)
    if not ancestor.is_dir():
        raise ValueError(f"--dest {destination}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"--dest {destination}: {ancestor} is not writable; choose another --dest")
    free = shutil.disk_usage(ancestor).free
    if free < needed:
        what = (f"about {needed / 1e9:.1f} GB to unpack" if needed_known else
                f"at least {needed / 1e9:.1f} GB (its size is known only after the download)")
        raise OSError(f"--dest {destination}: only {free / 1e9:.1f} GB free on its disk; the dataset needs {what}; "
                      "free some space or choose another --dest")


def make_plan(dataset: Dataset, args: argparse.Namespace) -> Plan:
    """The dataset's destination and source, checked as far as possible without the network."""
    destination = args.dest if args.dest is not None else Path(dataset.destination)
    if args.pattern and dataset.source != AICROWD:
        raise ValueError(f"--pattern: {dataset.name} does not come from the challenge's dataset page")
    patterns = tuple(args.pattern) if args.pattern else tuple(case_insensitive(p) for p in dataset.patterns)
    archive = args.archive
    if archive is not None:
        if not archive.is_file():
            raise FileNotFoundError(f"--archive {archive}: no such file")
        if not is_archive(archive):
            raise ValueError(f"--archive {archive}: not a zip or tar archive")
    if archive is not None or dataset.source != MANUAL:
        needed = unpacked_size(archive) if archive is not None else MIN_FREE_BYTES
        check_destination(destination, args.force, needed, needed_known=archive is not None)
    return Plan(dataset, destination, archive, patterns)


def find_aicrowd(explicit: Path | None) -> Path:
    """The aicrowd executable: ``explicit``, else the one installed next to this Python, else on PATH."""
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise FileNotFoundError(f"--aicrowd-cli {explicit}: no such executable file")
        return explicit
    beside = Path(sys.executable).parent / "aicrowd"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("aicrowd")
    if found is None:
        raise DownloadError(INSTALL_HINT)
    return Path(found)


def check_musdb() -> None:
    """The musdb package imports (it needs ffmpeg, through stempeg)."""
    try:
        import musdb  # noqa: F401
    except Exception as e:  # stempeg raises bare errors when ffmpeg is missing
        raise DownloadError(f"the musdb package cannot be imported ({type(e).__name__}: {e}); run "
                            "scripts/setup.sh (it installs musdb and ffmpeg)") from None


# aicrowd-cli's lines around an error that say nothing about it
BOILERPLATE = ("An unexpected error occured", "To get more information", "To increase level of verbosity")


def _last_line(text: str, limit: int = 300) -> str:
    """The last informative line of a command's output (colours, progress bars and boilerplate left out)."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r", "\n").splitlines()]
    line = next((line for line in reversed(lines) if line and not line.startswith(BOILERPLATE)), "no output")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_echoing(command: list[str], marks: Sequence[str]) -> tuple[int, set[str], str]:
    """Run ``command``, passing its output (progress bars included) through to stderr as it comes; returns its
    exit status, which of ``marks`` its output contained, and its last line. Interrupted, the command is stopped."""
    found, tail = set(), ""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while chunk := process.stdout.read1(1 << 16):
            text = chunk.decode(errors="replace")
            sys.stderr.write(text)
            sys.stderr.flush()
            tail = (tail + text)[-4096:]
            found |= {mark for mark in marks if mark in tail}
        return process.wait(), found, _last_line(tail)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


def aicrowd_download(executable: Path, config: Path | None, patterns: Sequence[str], into: Path,
                     dataset: str) -> list[Path]:
    """Run ``aicrowd dataset download`` for ``patterns`` into the existing folder ``into``; the files it wrote."""
    command = [str(executable), *(["--config-path", str(config)] if config else []),
               "dataset", "download", "-c", CHALLENGE, "-o", str(into), *patterns]
    print(f"{dataset}: {shlex.join(command)}", flush=True)
    code, found, last = run_echoing(command, (NO_MATCH_MARK, FETCH_FAILED_MARK))
    if NO_MATCH_MARK in found:
        raise DownloadError(f"{dataset}: no file on the challenge's dataset page matches {' '.join(patterns)}; "
                            f"{LIST_HINT}")
    if code != 0 or FETCH_FAILED_MARK in found:
        raise DownloadError(f"{dataset}: aicrowd-cli failed ({f'exit {code}: ' if code else ''}{last}): check the "
                            f"network connection and your login (`aicrowd login`), and {RULES_HINT}")
    files = sorted(p for p in into.iterdir() if p.is_file())
    if not files:
        raise DownloadError(f"{dataset}: aicrowd-cli downloaded nothing ({last}): {RULES_HINT}, check the network "
                            "connection, and run again")
    return files


def musdb_download(into: Path, dataset: str) -> Path:
    """MUSDB18's 7-second preview, fetched and unpacked by ``musdb.DB(download=True)`` into ``into``."""
    import musdb

    try:
        musdb.DB(root=str(into), download=True)
    except (OSError, zipfile.BadZipFile, RuntimeError) as e:  # urllib's URLError and HTTPError are OSErrors
        raise DownloadError(f"{dataset}: musdb could not download the preview ({type(e).__name__}: {e}): check the "
                            "network connection and run again") from None
    return into


def keep_downloads(files: Sequence[Path], folder: Path) -> list[Path]:
    """Move the downloaded ``files`` into ``folder`` where no file of that name exists; returns where they went."""
    kept = []
    for path in files:
        target = folder / path.name
        if not target.exists():
            os.rename(path, target)
            kept.append(target)
    return kept


def install(plan: Plan, aicrowd: Path | None, config: Path | None, force: bool) -> str:
    """Fetch (or take ``plan.archive``), unpack, check and place one dataset; returns a summary of what it holds."""
    name, layout = plan.dataset.name, plan.dataset.layout
    with staging_folder(plan.destination) as staging:
        downloads: list[Path] = []
        if plan.dataset.source == MUSDB and plan.archive is None:
            unpacked = musdb_download(staging / "unpacked", name)
            archives = []
        else:
            unpacked = staging / "unpacked"
            if plan.archive is not None:
                archives = [plan.archive]
            else:
                (staging / "download").mkdir()
                downloads = aicrowd_download(aicrowd, config, plan.patterns, staging / "download", name)
                archives = [p for p in downloads if is_archive(p)]
                for other in sorted(set(downloads) - set(archives)):
                    print(f"{name}: ignoring {other.name} (not a zip or tar archive)")
                if not archives:
                    raise DownloadError(f"{name}: aicrowd-cli downloaded {', '.join(p.name for p in downloads)}, no "
                                        f"zip or tar archive; {LIST_HINT}")
            for archive in archives:
                check_destination(plan.destination, force, unpacked_size(archive), needed_known=True)
                extract(archive, unpacked)
        try:
            root = find_root(unpacked, layout)
            summary = check_layout(root, layout)
        except LayoutError as e:
            kept = keep_downloads(archives if downloads else [], plan.destination.parent)
            note = (f" (the download is kept: {', '.join(map(str, kept))}; unpack it by hand into "
                    f"{plan.destination}, or rerun with --archive)") if kept else ""
            raise LayoutError(f"{name}: {e}{note}") from None
        place(root, plan.destination, staging, force)
    return summary


@contextmanager
def stops_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt while inside, so that a killed download cleans up as Ctrl-C does.
    SIGINT too: a process started with it ignored (a background job of a shell script) gets no Ctrl-C handler from
    Python."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(args.datasets))
    if len(names) > 1 and (args.dest or args.pattern or args.archive):
        parser.error("--dest, --pattern and --archive apply to one dataset; name just one")
    plans = [make_plan(DATASETS[name], args) for name in names]
    aicrowd = None
    if any(plan.needs_aicrowd for plan in plans):
        aicrowd = find_aicrowd(args.aicrowd_cli)
        read_account(args.aicrowd_config, need_gitlab=False)
    if any(plan.dataset.source == MUSDB and plan.archive is None for plan in plans):
        check_musdb()
    manual = [plan for plan in plans if plan.is_manual]
    for plan in manual:
        print(f"{plan.dataset.name}: cannot be downloaded by a tool: {plan.dataset.manual}, then run\n"
              f"  python -m tools.download {plan.dataset.name} --archive <the downloaded file>\n"
              f"which unpacks and checks it into {plan.destination} ({plan.dataset.layout.describe()}); then "
              f"{plan.dataset.use.format(dest=plan.destination)}")
    with stops_as_interrupt():
        for plan in plans:
            if plan.is_manual:
                continue
            summary = install(plan, aicrowd, args.aicrowd_config, args.force)
            print(f"{plan.dataset.name}: {summary} in {plan.destination}; "
                  f"{plan.dataset.use.format(dest=plan.destination)}")
    if manual:
        print(f"download: not downloaded: {', '.join(plan.dataset.name for plan in manual)} (see above)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main("download", main, errors=ERRORS))
