"""Putting a downloaded dataset in place: archives unpacked safely into a staging folder next to the destination,
the dataset's layout found and checked there, then one rename into place.

- Unpacking refuses what could write outside the staging folder: zip members with absolute paths, ``..`` or
  links are refused one by one, tar archives go through ``tarfile``'s ``"data"`` filter. Two archives that hold
  the same file are refused rather than merged.
- The staging folder (``.<destination name>.tmp-<pid>-<random>``, hidden, next to the destination, so the final
  rename stays on one disk) is removed on success, on error and on Ctrl-C; one left by a killed process is removed
  by the next run for the same destination.
- An existing destination is never merged or overwritten: it is refused, or, with ``force``, moved aside only once
  the new copy is complete and checked, and deleted after the new copy took its place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from evaluator.tracks import STEMS, TrackError, find_tracks
from models.atomic import process_is_gone
from train.datasets import STEM_FILE_SUFFIX, stem_file_tracks

TRACK_FILES = ("mixture", *STEMS)
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class ArchiveError(ValueError):
    """An archive that is not one, is damaged or incomplete, or would write outside its folder."""


class LayoutError(ValueError):
    """The unpacked files do not hold the dataset in the layout the kit reads."""


@dataclass(frozen=True)
class Layout:
    """What a dataset folder holds: in each split folder (``""``: the dataset folder itself), one folder per track
    with ``mixture.wav`` and the four stems (``require_mixture=False``: the stems suffice), or, with
    ``stem_files``, MUSDB18 ``<track>.stem.mp4`` files. ``optional_splits`` are checked when present."""

    splits: tuple[str, ...]
    optional_splits: tuple[str, ...] = ()
    stem_files: bool = False
    require_mixture: bool = True

    def describe(self) -> str:
        names = TRACK_FILES if self.require_mixture else STEMS
        track = f"<track>{STEM_FILE_SUFFIX}" if self.stem_files else f"<track>/{{{','.join(names)}}}.wav"
        return ", ".join(f"{split}/{track}" if split else track for split in self.splits)


def _kind(path: Path) -> str | None:
    return "zip" if zipfile.is_zipfile(path) else "tar" if tarfile.is_tarfile(path) else None


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a zip or tar archive (tar compressed with gzip, bzip2 or xz included), by content, or
    named like one (an incomplete download reads as none; unpacking it says so)."""
    return path.is_file() and (path.name.lower().endswith(ARCHIVE_SUFFIXES) or _kind(path) is not None)


def unpacked_size(path: Path) -> int:
    """Bytes ``path`` unpacks to: exact for zip; for tar, the archive's own size (a lower bound, known without
    reading it all)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError) as e:
            raise ArchiveError(f"{path} is damaged or incomplete ({e}); download it again") from None
    return path.stat().st_size


def _safe_member_name(archive: Path, info: zipfile.ZipInfo) -> PurePosixPath:
    name = PurePosixPath(info.filename.replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
        raise ArchiveError(f"{archive} holds {info.filename!r}, which would be written outside the dataset folder; "
                           "refusing to unpack it")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(f"{archive} holds a symbolic link, {info.filename!r}; refusing to unpack it")
    return name


def _refuse_existing(archive: Path, target: Path, name: str) -> None:
    if target.exists() or target.is_symlink():
        raise ArchiveError(f"{archive} holds {name}, which another archive of the download holds too; pass "
                           "--pattern to choose one file of the dataset page")


def _extract_zip(archive: Path, into: Path, progress: tqdm) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = [(info, _safe_member_name(archive, info)) for info in zf.infolist()]
        progress.reset(total=sum(info.file_size for info, _ in members))
        for info, name in members:
            target = into.joinpath(*name.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            _refuse_existing(archive, target, info.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            progress.update(info.file_size)


def _extract_tar(archive: Path, into: Path, progress: tqdm) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise ArchiveError(f"{archive}: this Python's tarfile has no 'data' extraction filter (Python 3.10.12, "
                           "3.11.4 or newer has it); unpacking a tar archive without it is unsafe")
    with tarfile.open(archive) as tf:
        for member in tf:
            if member.issym() or member.islnk():  # datasets hold none; links are how the filter's known bypasses work
                raise ArchiveError(f"{archive} holds a link, {member.name!r}; refusing to unpack it")
            try:
                safe = tarfile.data_filter(member, str(into))
            except tarfile.FilterError as e:
                raise ArchiveError(f"{archive} holds {member.name!r}, which the safe 'data' filter refuses ({e}); "
                                   "refusing to unpack it") from None
            if not safe.isdir():
                _refuse_existing(archive, into / safe.name, member.name)
            tf.extract(member, into, filter="data")
            progress.update(member.size)


def extract(archive: Path, into: Path, progress: bool = True) -> None:
    """Unpack the zip or tar ``archive`` into the folder ``into`` (created), refusing unsafe members and files
    already there. A damaged or incomplete archive raises ``ArchiveError``; a full disk says so."""
    into.mkdir(parents=True, exist_ok=True)
    kind = _kind(archive)
    if kind is None:
        raise ArchiveError(f"{archive} is damaged or incomplete (it does not read as a zip or tar archive); "
                           "download it again" if is_archive(archive) else f"{archive} is not a zip or tar archive")
    with tqdm(desc=f"unpacking {archive.name}", unit="B", unit_scale=True, disable=not progress) as bar:
        try:
            (_extract_zip if kind == "zip" else _extract_tar)(archive, into, bar)
        except (zipfile.BadZipFile, tarfile.ReadError, zlib.error, EOFError) as e:
            raise ArchiveError(f"{archive} is damaged or incomplete ({e}); download it again") from None
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise OSError(errno.ENOSPC, f"the disk of {into} is full (unpacking {archive.name}); free some "
                                            "space or choose another --dest") from None
            raise


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX")


def _looks_like(folder: Path, layout: Layout) -> bool:
    if any(layout.splits):
        return all((folder / split).is_dir() for split in layout.splits)
    return any((track / f"{name}.wav").is_file() for track in _visible_dirs(folder) for name in TRACK_FILES)


def find_root(folder: Path, layout: Layout, max_depth: int = 4) -> Path:
    """The one folder in ``folder`` (itself, or below, at most ``max_depth`` levels) that looks like the dataset's
    top (holds its split folders, or track folders); the shallowest wins, two at the same depth are an error."""
    levels, found = [folder], []
    for _ in range(max_depth + 1):
        found = [d for d in levels if _looks_like(d, layout)]
        if found:
            break
        levels = [child for d in levels for child in _visible_dirs(d)]
    if not found:
        held = ", ".join(p.name for p in sorted(folder.iterdir())[:8]) or "nothing"
        raise LayoutError(f"the download holds no folder with {layout.describe()} (its top level: {held})")
    if len(found) > 1:
        raise LayoutError(f"the download holds several datasets ({', '.join(str(p.relative_to(folder)) for p in found)}"
                          "); pass --pattern to choose one file of the dataset page")
    return found[0]


def check_layout(root: Path, layout: Layout) -> str:
    """Check every track of the dataset folder ``root`` as the kit will read it (file names, and each file's
    header: rates, lengths and channels agree); returns a summary such as ``"test: 50 tracks"``."""
    splits = list(layout.splits) + [s for s in layout.optional_splits if (root / s).is_dir()]
    counts = []
    for split in splits:
        folder = root / split if split else root
        if not folder.is_dir():
            raise LayoutError(f"{root} has no {split}/ folder (expected {layout.describe()})")
        try:
            # stem files are probed with ffprobe through stempeg, as training opens them
            tracks = stem_file_tracks(folder) if layout.stem_files else find_tracks(folder, layout.require_mixture)
        except TrackError as e:
            raise LayoutError(f"{e} (expected {layout.describe()})") from None
        count = f"{len(tracks)} track{'s' * (len(tracks) != 1)}"
        counts.append(f"{split}: {count}" if split else count)
    return ", ".join(counts)


def _staging_pid(name: str, destination: Path) -> int | None:
    match = re.match(rf"^\.{re.escape(destination.name)}\.tmp-(\d+)-[a-z0-9_]+$", name)
    return int(match[1]) if match else None


def remove_stale_staging(destination: Path) -> list[Path]:
    """Delete the staging folders of ``destination`` left by processes that no longer run; returns them."""
    if not destination.parent.is_dir():
        return []
    removed = []
    for path in destination.parent.iterdir():
        pid = _staging_pid(path.name, destination)
        if pid is not None and path.is_dir() and not path.is_symlink() and process_is_gone(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def staging_folder(destination: Path) -> Iterator[Path]:
    """A new empty folder next to ``destination``, deleted with all it holds on exit. The parent folders it had to
    create are removed again when they stay empty (``destination`` did not arrive)."""
    created = [p for p in [destination.parent, *destination.parent.parents] if not p.exists()]
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(destination)
    path = Path(tempfile.mkdtemp(prefix=f".{destination.name}.tmp-{os.getpid()}-", dir=destination.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def place(root: Path, destination: Path, staging: Path, force: bool = False) -> None:
    """Rename the checked dataset folder ``root`` (inside ``staging``) to ``destination``. An existing
    ``destination`` is refused unless ``force``; then it is moved into ``staging`` (deleted with it) just before
    the rename, and moved back if the rename fails."""
    if destination.exists() or destination.is_symlink():
        if not force:
            raise FileExistsError(f"{destination} exists; it is never merged or overwritten: move it away, or pass "
                                  "--force to replace it")
        previous = staging / "previous"
        os.rename(destination, previous)
        try:
            os.rename(root, destination)
        except BaseException:
            os.rename(previous, destination)
            raise
    else:
        os.rename(root, destination)
