"""``tools.download``: everything up to the network, for real. aicrowd-cli is replaced by a small executable that
behaves like it (matches titles with fnmatch, writes files into ``-o``, fails the way it fails); the musdb
package's download runs with its one network call (``urlopen``) answered from memory."""

from __future__ import annotations

import email.message
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest
import yaml

from evaluator.tracks import find_tracks
from models.cli import run_main
from tests.conftest import noise_stems
from tools import download
from tools.aicrowd_account import INSTALL_HINT
from tools.unpack import Layout, LayoutError, check_layout, find_root
from train.datasets import sdx23_tracks

REPO = Path(__file__).resolve().parents[1]
UUIDS = ("0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002")

FAKE_AICROWD = '''#!{python}
"""aicrowd-cli's `dataset download`, as far as the kit sees it: titles chosen by fnmatch, files written into -o."""
import fnmatch, json, os, shutil, sys, time
from pathlib import Path

settings = json.loads(Path({settings!r}).read_text())
Path(settings["log"]).write_text(json.dumps(sys.argv[1:]))
args = sys.argv[1:]
if args[:1] == ["--config-path"]:
    args = args[2:]
if args[:4] != ["dataset", "download", "-c", "music-demixing-track-mdx-23"] or args[4] != "-o":
    sys.exit("unexpected arguments")
out, patterns = Path(args[5]), args[6:]
behaviour = settings["behaviour"]
if behaviour == "offline":  # what aicrowd-cli 0.1.18 prints without a network (exit 7)
    print("An unexpected error occured!", file=sys.stderr)
    print("HTTPSConnectionPool(host='www.aicrowd.com', port=443): Max retries exceeded with url: /api/v1/api_user",
          file=sys.stderr)
    print("To get more information, you can run this command with -v.", file=sys.stderr)
    print("To increase level of verbosity, you can go upto -vvvvv", file=sys.stderr)
    sys.exit(7)
chosen = [title for title in settings["files"] if any(fnmatch.fnmatch(title, p) for p in patterns)]
if not chosen:
    print("Dataset Not Found Error: No valid dataset found", file=sys.stderr)
    print("Run `aicrowd dataset list`", file=sys.stderr)
    sys.exit(5)
for title in chosen:
    source = Path(settings["files"][title])
    if behaviour == "unauthorized":  # an HTTP error: reported, yet exit 0
        print(f"Error in downloading dataset https://datasets.aicrowd.com/{{source.name}}")
        print("Please make sure that you are registered for the challenge")
        continue
    if behaviour == "hang":
        (out / source.name).write_bytes(source.read_bytes()[:100])
        Path(settings["log"] + ".pid").write_text(str(os.getpid()))
        time.sleep(60)
    shutil.copy(source, out / source.name)
'''


@pytest.fixture
def fake_aicrowd(tmp_path):
    """``make(files, behaviour="ok") -> (executable, log)``: a fake aicrowd serving ``files`` ({title: path});
    ``log`` receives its arguments when it runs."""
    def make(files: dict[str, Path], behaviour: str = "ok") -> tuple[Path, Path]:
        folder = tmp_path / "fake-aicrowd"
        folder.mkdir(exist_ok=True)
        log = folder / "argv.json"
        settings = folder / "settings.json"
        settings.write_text(json.dumps({"files": {t: str(p) for t, p in files.items()}, "behaviour": behaviour,
                                        "log": str(log)}))
        executable = folder / "aicrowd"
        executable.write_text(FAKE_AICROWD.format(python=sys.executable, settings=str(settings)))
        executable.chmod(0o755)
        return executable, log

    return make


@pytest.fixture
def login(tmp_path) -> Path:
    """An aicrowd-cli config file with an API key (what `aicrowd login` leaves)."""
    path = tmp_path / "aicrowd-config.toml"
    path.write_text('aicrowd_api_key = "0123456789abcdef"\n')
    return path


def write_tracks(root: Path, names, make_track_folder, mixture: bool = True, seed: int = 0) -> None:
    for i, name in enumerate(names):
        make_track_folder(root / name, noise_stems(1000, seed=seed + i), 44100, mixture=mixture)


def make_zip(path: Path, folder: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            archive.write(file, prefix + file.relative_to(folder).as_posix())
    return path


def make_tar(path: Path, folder: Path, prefix: str = "") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for file in sorted(folder.rglob("*")):
            archive.add(file, prefix + file.relative_to(folder).as_posix(), recursive=False)
    return path


@pytest.fixture
def labelnoise_zip(tmp_path, make_track_folder) -> Path:
    """A label-noise set as the dataset page might serve it: a zip with a top folder of UUID track folders."""
    source = tmp_path / "source-labelnoise"
    write_tracks(source, UUIDS, make_track_folder)
    return make_zip(tmp_path / "moisesdb23_labelnoise_v1.0.zip", source, "moisesdb23_labelnoise_v1.0/")


def cli(argv: list[str]) -> int:
    return run_main("download", download.main, argv, errors=download.ERRORS)


def leftovers(folder: Path) -> list[str]:
    """Hidden entries (staging folders) in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_labelnoise_arrives_in_place_through_aicrowd_cli(tmp_path, fake_aicrowd, login, labelnoise_zip, capsys):
    bleeding = make_zip(tmp_path / "moisesdb23_bleeding_v1.0.zip", tmp_path / "source-labelnoise")
    executable, log = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip,
                                    "moisesdb23_bleeding_v1.0.zip": bleeding})
    dest = tmp_path / "data" / "moisesdb23_labelnoise_v1.0"
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 0
    argv = json.loads(log.read_text())
    assert argv[:7] == ["--config-path", str(login), "dataset", "download", "-c", download.CHALLENGE, "-o"]
    assert Path(argv[7]).parent.parent == dest.parent  # downloaded into the staging folder next to dest
    assert argv[8:] == [download.case_insensitive("*label*noise*")]
    assert sorted(p.name for p in dest.iterdir()) == list(UUIDS)
    for uuid in UUIDS:
        for name in ("mixture", "bass", "drums", "other", "vocals"):
            assert (dest / uuid / f"{name}.wav").read_bytes() == \
                (tmp_path / "source-labelnoise" / uuid / f"{name}.wav").read_bytes()
    assert [t.name for t in sdx23_tracks(dest)] == list(UUIDS)  # as training reads it
    assert leftovers(dest.parent) == []
    out = capsys.readouterr().out
    assert f"labelnoise: 2 tracks in {dest}" in out and f"data.kind=sdx23 data.root={dest}" in out


def test_the_evaluation_set_arrives_from_a_tar_gz(tmp_path, fake_aicrowd, login, make_track_folder):
    source = tmp_path / "source"
    write_tracks(source / "test", ["Song A - Title", "Song B - Title"], make_track_folder)
    write_tracks(source / "train", ["Song C - Title"], make_track_folder)
    archive = make_tar(tmp_path / "MUSDB18-7-WAV.tar.gz", source, "MUSDB18-7-WAV/")
    executable, log = fake_aicrowd({"MUSDB18-7-WAV.tar.gz": archive, "musdb18hq.zip": tmp_path / "none"})
    dest = tmp_path / "public_dataset" / "MUSDB18-7-WAV"
    assert cli(["musdb18-7-wav", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 0
    assert [t.name for t in find_tracks(dest / "test")] == ["Song A - Title", "Song B - Title"]
    assert [t.name for t in find_tracks(dest / "train")] == ["Song C - Title"]
    assert leftovers(dest.parent) == []


def test_an_existing_destination_is_refused_before_any_download_and_replaced_only_with_force(
        tmp_path, fake_aicrowd, login, labelnoise_zip, make_track_folder, capsys):
    executable, log = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip})
    dest = tmp_path / "data" / "labelnoise"
    write_tracks(dest, ["old-track"], make_track_folder)
    args = ["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable), "--aicrowd-config", str(login)]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{dest} exists" in err and "--force" in err
    assert not log.exists()  # refused before the network
    assert sorted(p.name for p in dest.iterdir()) == ["old-track"]
    assert cli([*args, "--force"]) == 0
    assert sorted(p.name for p in dest.iterdir()) == list(UUIDS)
    assert leftovers(dest.parent) == []


def test_a_bad_layout_keeps_the_old_copy_and_the_download(tmp_path, fake_aicrowd, login, make_track_folder, capsys):
    source = tmp_path / "source"
    write_tracks(source, UUIDS, make_track_folder)
    (source / UUIDS[1] / "drums.wav").unlink()
    archive = make_zip(tmp_path / "moisesdb23_labelnoise_v1.0.zip", source)
    executable, _ = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": archive})
    dest = tmp_path / "data" / "labelnoise"
    write_tracks(dest, ["old-track"], make_track_folder)
    assert cli(["labelnoise", "--dest", str(dest), "--force", "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("download: labelnoise: track folder") and "lacks drums.wav" in err
    assert "the download is kept" in err
    assert sorted(p.name for p in dest.iterdir()) == ["old-track"]
    assert (dest.parent / archive.name).read_bytes() == archive.read_bytes()
    assert leftovers(dest.parent) == []


def test_no_matching_title_says_to_list_and_pass_a_pattern(tmp_path, fake_aicrowd, login, labelnoise_zip, capsys):
    executable, log = fake_aicrowd({"SDX23 noisy labels part.zip": labelnoise_zip})
    dest = tmp_path / "data" / "labelnoise"
    args = ["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable), "--aicrowd-config", str(login)]
    assert cli(args) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no file on the challenge's dataset page matches" in err
    assert f"aicrowd dataset list -c {download.CHALLENGE}" in err and "--pattern" in err
    assert not dest.parent.exists()  # nor the folder made for it
    assert cli([*args, "--pattern", "SDX23 noisy*"]) == 0
    assert json.loads(log.read_text())[-1] == "SDX23 noisy*"
    assert sorted(p.name for p in dest.iterdir()) == list(UUIDS)


@pytest.mark.parametrize("behaviour", ["offline", "unauthorized"])
def test_a_failing_aicrowd_cli_says_what_to_do(tmp_path, fake_aicrowd, login, labelnoise_zip, capsys, behaviour):
    executable, _ = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip}, behaviour)
    dest = tmp_path / "data" / "labelnoise"
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("download: labelnoise: aicrowd-cli failed")
    assert "check the network connection" in err and "`aicrowd login`" in err
    assert f"accept the challenge rules on the dataset page ({download.CHALLENGE_PAGE}/dataset_files)" in err
    if behaviour == "offline":
        assert "exit 7: HTTPSConnectionPool" in err
    assert not dest.parent.exists()  # nor the folder made for it


def test_not_logged_in_is_reported_before_anything_runs(tmp_path, fake_aicrowd, labelnoise_zip, capsys):
    executable, log = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip})
    dest = tmp_path / "data" / "labelnoise"
    missing = tmp_path / "no-config.toml"
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(missing)]) == 1
    assert capsys.readouterr().err == f"download: not logged in to AIcrowd (no {missing}): run `aicrowd login` " \
                                      "(aicrowd-cli is installed by scripts/setup.sh)\n"
    no_key = tmp_path / "empty.toml"
    no_key.write_text('[gitlab]\nusername = "someone"\n')
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(no_key)]) == 1
    assert "lacks api_key: run `aicrowd login`" in capsys.readouterr().err
    assert not log.exists() and not dest.parent.exists()


def test_aicrowd_cli_not_installed_says_what_to_install(tmp_path, monkeypatch, login, capsys):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli(["bleeding", "--dest", str(tmp_path / "data" / "b"), "--aicrowd-config", str(login)]) == 1
    assert capsys.readouterr().err == f"download: {INSTALL_HINT}\n"
    assert "pip install -r requirements-dev.txt" in INSTALL_HINT and "scripts/setup.sh" in INSTALL_HINT


def test_too_little_disk_space_is_refused_before_the_download(tmp_path, fake_aicrowd, login, labelnoise_zip,
                                                                monkeypatch, capsys):
    executable, log = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 10**8, 10**8))
    dest = tmp_path / "data" / "labelnoise"
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 1
    err = capsys.readouterr().err
    assert f"--dest {dest}: only 0.1 GB free on its disk" in err and "at least 1.0 GB" in err
    assert not log.exists()


def test_an_unwritable_destination_is_refused(tmp_path, login, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anyway; os.access is what the check asks
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    try:
        assert cli(["labelnoise", "--dest", str(locked / "sub" / "set"), "--aicrowd-config", str(login)]) == 1
    finally:
        locked.chmod(0o755)
    assert capsys.readouterr().err == f"download: --dest {locked / 'sub' / 'set'}: {locked} is not writable; " \
                                      "choose another --dest\n"
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("kind", ["zip", "tar"])
@pytest.mark.parametrize("member", ["../../../../outside.wav", "{tmp}/outside.wav"])
def test_an_archive_writing_outside_its_folder_is_refused(tmp_path, kind, member, capsys):
    # unpacked in tmp/deep/data/.set.tmp-*/unpacked: four levels up, or the absolute path, is tmp/outside.wav
    member = member.format(tmp=tmp_path)
    archive = tmp_path / f"evil.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(zipfile.ZipInfo(member), b"x")
    else:
        with tarfile.open(archive, "w") as tf:
            info = tarfile.TarInfo(member)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    dest = tmp_path / "deep" / "data" / "set"
    assert cli(["labelnoise", "--archive", str(archive), "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    if kind == "zip" or member.startswith(".."):
        assert "refusing to unpack it" in err
    else:  # tar's data filter strips the leading slash: the file stays inside, and the layout check refuses it
        assert "holds no folder with" in err
    assert not (tmp_path / "outside.wav").exists()
    assert not (tmp_path / "deep").exists()  # the folders made for it are gone too
    assert archive.exists()  # the user's file is never removed


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_tar_with_links_is_refused(tmp_path, link, capsys):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("set/track/mixture.wav")
        info.type = tarfile.SYMTYPE if link == "symbolic" else tarfile.LNKTYPE
        info.linkname = "other.wav"  # inside the folder: the data filter alone would let it through
        tf.addfile(info)
    dest = tmp_path / "data" / "set"
    assert cli(["labelnoise", "--archive", str(archive), "--dest", str(dest)]) == 1
    assert "holds a link, 'set/track/mixture.wav'; refusing to unpack it" in capsys.readouterr().err
    assert not dest.exists()


@pytest.mark.parametrize("cut", ["tail lost", "middle lost"])
def test_a_truncated_archive_is_reported_as_incomplete(tmp_path, labelnoise_zip, fake_aicrowd, login, capsys, cut):
    data = labelnoise_zip.read_bytes()
    truncated = tmp_path / "download" / "moisesdb23_labelnoise_v1.0.zip"
    truncated.parent.mkdir()
    # an interrupted download; or one that lost data but kept the zip's end record
    truncated.write_bytes(data[: len(data) // 2] + (data[-22:] if cut == "middle lost" else b""))
    dest = tmp_path / "data" / "set"
    assert cli(["labelnoise", "--archive", str(truncated), "--dest", str(dest)]) == 1
    assert "moisesdb23_labelnoise_v1.0.zip is damaged or incomplete" in capsys.readouterr().err
    executable, _ = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": truncated})
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert "moisesdb23_labelnoise_v1.0.zip is damaged or incomplete" in err and "download it again" in err
    assert truncated.exists() and not dest.parent.exists()  # nor the folder made for it


def test_two_archives_holding_the_same_files_are_not_merged(tmp_path, fake_aicrowd, login, labelnoise_zip, capsys):
    same_tar = make_tar(tmp_path / "moisesdb23_labelnoise_v1.0.tar.gz", tmp_path / "source-labelnoise",
                        "moisesdb23_labelnoise_v1.0/")
    executable, _ = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip,
                                  "moisesdb23_labelnoise_v1.0.tar.gz": same_tar})
    dest = tmp_path / "data" / "labelnoise"
    assert cli(["labelnoise", "--dest", str(dest), "--aicrowd-cli", str(executable),
                "--aicrowd-config", str(login)]) == 1
    assert "which another archive of the download holds too; pass --pattern" in capsys.readouterr().err
    assert not dest.parent.exists()  # nor the folder made for it


@pytest.mark.parametrize("sig, ignored_at_start", [(signal.SIGINT, False), (signal.SIGTERM, False),
                                                   (signal.SIGINT, True)])  # as in a shell script's background job
def test_an_interrupted_download_leaves_nothing(tmp_path, fake_aicrowd, login, labelnoise_zip, sig,
                                                ignored_at_start):
    executable, log = fake_aicrowd({"moisesdb23_labelnoise_v1.0.zip": labelnoise_zip}, "hang")
    dest = tmp_path / "data" / "labelnoise"
    start = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored_at_start else None
    process = subprocess.Popen([sys.executable, "-m", "tools.download", "labelnoise", "--dest", str(dest),
                                "--aicrowd-cli", str(executable), "--aicrowd-config", str(login)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=start)
    pid_file = Path(f"{log}.pid")
    deadline = time.monotonic() + 60
    while not pid_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.exists(), process.communicate()
    assert any(dest.parent.glob(".labelnoise.tmp-*/download/*.zip"))  # a partial download exists now
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and err.endswith("download: interrupted\n"), err
    with pytest.raises(ProcessLookupError):  # aicrowd-cli was stopped too
        os.kill(int(pid_file.read_text()), 0)
    assert not dest.parent.exists()  # nor the folder made for it


def test_a_staging_folder_of_a_killed_run_is_removed(tmp_path, labelnoise_zip):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dest = tmp_path / "data" / "set"
    stale = dest.parent / f".set.tmp-{finished.stdout.strip()}-abc123"
    (stale / "unpacked").mkdir(parents=True)
    mine = dest.parent / f".set.tmp-{os.getpid()}-xyz"  # a running process's: kept
    mine.mkdir()
    assert cli(["labelnoise", "--archive", str(labelnoise_zip), "--dest", str(dest)]) == 0
    assert leftovers(dest.parent) == [mine.name]


def test_musdb_preview_through_the_musdb_package(tmp_path, monkeypatch, capsys):
    musdb = pytest.importorskip("musdb")
    import stempeg

    clip = Path(stempeg.example_stem_path())
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as zf:
        zf.write(clip, "train/A - Song.stem.mp4")
        zf.write(clip, "test/B - Song.stem.mp4")
    requested = []

    class Response:
        def __init__(self, data: bytes):
            self.stream = io.BytesIO(data)
            self.headers = email.message.Message()
            self.headers["Content-Length"] = str(len(data))

        def info(self):
            return self.headers

        def read(self, size: int = -1) -> bytes:
            return self.stream.read(size)

    def urlopen(request):
        requested.append(request.full_url)
        return Response(payload.getvalue())

    monkeypatch.setattr(musdb, "urlopen", urlopen)
    dest = tmp_path / "data" / "musdb18-7"
    assert cli(["musdb18-7", "--dest", str(dest)]) == 0
    setup = download.DATASETS["musdb18-7"]
    config = yaml.safe_load((Path(musdb.__file__).parent / "configs" / "mus.yaml").read_text())
    assert requested == [config["sample-url"]]
    assert (dest / "train" / "A - Song.stem.mp4").read_bytes() == clip.read_bytes()
    assert check_layout(dest, setup.layout) == "train: 1 track, test: 1 track"
    assert "data.kind=musdb18" in capsys.readouterr().out
    assert leftovers(dest.parent) == []

    def offline(request):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(musdb, "urlopen", offline)
    other = tmp_path / "data" / "other"
    assert cli(["musdb18-7", "--dest", str(other)]) == 1
    assert "check the network connection" in capsys.readouterr().err
    assert not other.exists() and leftovers(other.parent) == []


def test_musdb18hq_says_where_to_get_it_and_unpacks_the_zip(tmp_path, make_track_folder, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["musdb18hq"]) == 1
    captured = capsys.readouterr()
    assert "https://zenodo.org/records/3338373" in captured.out and "data/musdb18hq" in captured.out
    assert "python -m tools.download musdb18hq --archive" in captured.out
    assert "data.kind=musdb18hq data.root=data/musdb18hq" in captured.out
    assert captured.err == "download: not downloaded: musdb18hq (see above)\n"
    assert list(tmp_path.iterdir()) == []
    source = tmp_path / "unzipped"
    write_tracks(source / "train", ["Track 1"], make_track_folder)
    write_tracks(source / "test", ["Track 2"], make_track_folder)
    archive = make_zip(tmp_path / "musdb18hq.zip", source)
    assert cli(["musdb18hq", "--archive", str(archive)]) == 0
    assert [t.name for t in find_tracks("data/musdb18hq/test")] == ["Track 2"]
    assert "train: 1 track, test: 1 track in data/musdb18hq" in capsys.readouterr().out


def test_find_root_takes_the_one_folder_with_the_layout(tmp_path, make_track_folder):
    layout = Layout(("test",))
    write_tracks(tmp_path / "wrap" / "MUSDB18-7-WAV" / "test", ["a"], make_track_folder)
    (tmp_path / "__MACOSX").mkdir()
    assert find_root(tmp_path, layout) == tmp_path / "wrap" / "MUSDB18-7-WAV"
    write_tracks(tmp_path / "wrap" / "copy" / "test", ["a"], make_track_folder)
    with pytest.raises(LayoutError, match="several datasets"):
        find_root(tmp_path, layout)


def test_table_patterns_are_plain_globs_matched_in_either_case():
    import fnmatch

    for dataset in download.DATASETS.values():
        assert all("[" not in p for p in dataset.patterns)
        assert dataset.source != download.AICROWD or dataset.patterns
    assert fnmatch.fnmatchcase("MoisesDB23_LabelNoise_v1.0.tar.gz", download.case_insensitive("*label*noise*"))
    assert fnmatch.fnmatchcase("MUSDB18-7-WAV.zip", download.case_insensitive("*musdb18*7*wav*"))
    assert not fnmatch.fnmatchcase("musdb18hq.zip", download.case_insensitive("*musdb18*7*wav*"))


def test_argument_mistakes_are_one_line_before_anything_runs(tmp_path, labelnoise_zip, capsys):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    assert cli(["labelnoise", "--archive", str(labelnoise_zip), "--dest", str(blocker / "set")]) == 1
    assert capsys.readouterr().err == f"download: --dest {blocker / 'set'}: {blocker} is a file, not a folder\n"
    assert cli(["labelnoise", "--archive", str(tmp_path / "missing.zip")]) == 1
    assert capsys.readouterr().err == f"download: --archive {tmp_path / 'missing.zip'}: no such file\n"
    assert cli(["musdb18-7", "--pattern", "*x*", "--dest", str(tmp_path / "x")]) == 1
    assert "--pattern: musdb18-7 does not come from the challenge's dataset page" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        download.main(["labelnoise", "bleeding", "--dest", str(tmp_path / "x")])
    assert "apply to one dataset" in capsys.readouterr().err
