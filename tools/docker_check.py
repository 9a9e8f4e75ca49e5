"""Build the grader's image offline from what would be committed, and run the submission in it with the
grader's limits.

    python -m tools.docker_check [--cpus N] [--memory 16g]          (or ./submit.sh NAME --dry-run --docker)

Steps: start the Docker engine when it is installed but not running; make the local Debian bookworm base
image once (debootstrap + docker import, cached by tag); download the pinned requirements into a wheelhouse
once per requirements.txt (PyPI is not reachable from inside a container) and serve it to the build over
HTTP; build the repository's Dockerfile from a ``git archive`` of the tree ``git add -A`` would commit, LFS
files included (so an uncommitted or git-ignored weight file is missing here as it would be on the grader);
then, each in a fresh container with ``--network none --user 1001 --memory 16g --cpus N``: check that the
image holds exactly the committed files, owned by 1001; run the smoke separation; run ``evaluate_locally.py``
on its embedded default data. The time limit (1.57 x the track's duration on the grader's 4 vCPU) is scaled
by 4 / N for N CPUs here, on the assumption that separation time is inversely proportional to the cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

from models.contract import TIME_FACTOR

GRADER_CPUS = 4
GRADER_MEMORY = "16g"
USER = "1001:1001"
HOME = "/home/aicrowd"
IMAGE = "bsrnn-sdx:local"
BASE_IMAGE = "bsrnn-sdx-base:bookworm-minbase"
SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
IMAGE_PYTHON = (3, 11)  # Debian bookworm's python3: the wheelhouse is downloaded for it
SMOKE_MODULE = "tools.smoke"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
INSTALL_HINT = "install it: apt-get install -y docker.io debootstrap (or ./scripts/setup.sh --docker)"
TAIL_LINES = 25


class DockerCheckError(RuntimeError):
    """A step failed; ``step`` names it and the message ends with the last lines of its output."""

    def __init__(self, step: str, message: str, output: str = ""):
        tail = "\n".join(output.strip().splitlines()[-TAIL_LINES:])
        super().__init__(f"{step}: {message}" + (f"\n--- last lines of {step} ---\n{tail}" if tail else ""))
        self.step = step


@dataclasses.dataclass
class StepResult:
    name: str
    seconds: float
    peak_memory_mb: float | None = None
    detail: str = ""


# ---- pieces that need no engine -------------------------------------------------------------------------------

def default_cpus() -> int:
    """The grader's 4 vCPU, or every core this machine has when it has fewer."""
    return max(1, min(GRADER_CPUS, os.cpu_count() or 1))


def scaled_time_factor(cpus: float, grader_cpus: int = GRADER_CPUS, factor: float = TIME_FACTOR) -> float:
    """The grader's real-time limit scaled to ``cpus`` cores: ``factor * grader_cpus / cpus``, never below
    ``factor`` (more cores than the grader's do not loosen the limit)."""
    if cpus <= 0:
        raise ValueError(f"cpus must be > 0, got {cpus}")
    return factor * max(1.0, grader_cpus / cpus)


def base_image_recipe(root: Path, tag: str = BASE_IMAGE, suite: str = SUITE,
                      mirror: str = DEBIAN_MIRROR) -> tuple[list[str], list[str], list[str]]:
    """The commands that make the local base image: ``debootstrap`` a minimal Debian into ``root``, then
    ``tar -C root -c . | docker import - tag`` (returned as the two sides of the pipe)."""
    return (["debootstrap", "--variant=minbase", suite, str(root), mirror],
            ["tar", "-C", str(root), "-c", "."],
            ["docker", "import", "-", tag])


def _git(repo: Path, *args: str, env: dict | None = None, text: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=text, env=env)
    if result.returncode != 0:
        stderr = result.stderr if text else result.stderr.decode(errors="replace")
        raise DockerCheckError("archive", f"git {' '.join(args)} failed", stderr)
    return result


def commit_tree(repo: Path) -> str:
    """The id of the tree ``git add -A`` followed by a commit would record, made in a scratch index (the
    repository's own index and working tree are left as they are)."""
    index = Path(_git(repo, "rev-parse", "--absolute-git-dir").stdout.strip()) / "index"
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if index.is_file():
            shutil.copyfile(index, env["GIT_INDEX_FILE"])
        _git(repo, "add", "-A", env=env)
        return _git(repo, "write-tree", env=env).stdout.strip()


def _lfs_content(repo: Path, path: str, pointer: bytes) -> bytes:
    result = subprocess.run(["git", "lfs", "smudge", "--", path], cwd=repo, input=pointer, capture_output=True)
    if result.returncode != 0 or result.stdout.startswith(LFS_POINTER):
        raise DockerCheckError("archive", f"{path} is a git-lfs pointer whose object is not here (the grader "
                               "would get it from the LFS store; fetch it first: git lfs pull)",
                               result.stderr.decode(errors="replace"))
    return result.stdout


def write_context(repo: Path, tree: str, dest: Path) -> list[str]:
    """Unpack ``git archive tree`` into ``dest`` with every git-lfs pointer replaced by its object (as the
    grader's clone has them); returns the files written, relative to ``dest``, sorted."""
    archive = _git(repo, "archive", "--format=tar", tree, text=False).stdout
    files = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            target = dest / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                target.symlink_to(member.linkname)
            else:
                data = tar.extractfile(member).read()
                if data.startswith(LFS_POINTER) and len(data) < 1024:
                    data = _lfs_content(repo, member.name, data)
                target.write_bytes(data)
                target.chmod(member.mode & 0o777)
            files.append(member.name)
    return sorted(files)


def wheelhouse_dir(repo: Path) -> Path:
    """Where the wheels for this requirements.txt are kept: ``.cache/docker/wheelhouse-<hash>``."""
    digest = hashlib.sha256((repo / "requirements.txt").read_bytes()).hexdigest()[:12]
    return repo / ".cache" / "docker" / f"wheelhouse-{digest}"


def stable_port(key: str) -> int:
    """A port derived from ``key``: the wheelhouse URL is a build argument, so it must not change between runs
    (a changed argument would re-run the pip layer)."""
    return 20000 + zlib.crc32(key.encode()) % 20000


def run_arguments(image: str, cpus: float, memory: str, name: str,
                  mounts: Sequence[tuple[Path, str]] = ()) -> list[str]:
    """``docker run`` with the grader's limits: no network, user 1001, ``memory`` without swap, ``cpus``; each of
    ``mounts`` (host folder, container folder) read-only."""
    volumes = [arg for host, inside in mounts for arg in ("--volume", f"{Path(host).resolve()}:{inside}:ro")]
    return ["docker", "run", "--name", name, "--network", "none", "--user", USER, "--memory", memory,
            "--memory-swap", memory, "--cpus", f"{cpus:g}", *volumes, image]


# ---- engine, base image, wheelhouse, build -------------------------------------------------------------------

def _run(step: str, command: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, **kwargs)
    except FileNotFoundError as e:
        raise DockerCheckError(step, f"{command[0]} is not installed; {INSTALL_HINT}") from e
    if result.returncode != 0:
        raise DockerCheckError(step, f"{' '.join(command[:3])} ... exited with {result.returncode}",
                               result.stdout + result.stderr)
    return result


def _engine_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def ensure_engine(log: Path, wait: float = 60.0) -> str:
    """Start ``dockerd`` when Docker is installed and the engine is not running; says how when it cannot."""
    if shutil.which("docker") is None:
        raise DockerCheckError("engine", f"Docker is not installed; {INSTALL_HINT}")
    if _engine_up():
        return "running"
    if shutil.which("dockerd") is None:
        raise DockerCheckError("engine", f"the Docker engine (dockerd) is not installed; {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise DockerCheckError("engine", "the Docker engine is not running; start it: sudo systemctl start docker "
                               "(or sudo dockerd &), and let this user use it: sudo usermod -aG docker $USER")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        subprocess.Popen(["dockerd"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _engine_up():
            return f"started dockerd (log: {log})"
        time.sleep(1)
    raise DockerCheckError("engine", f"dockerd did not answer within {wait:g} s", log.read_text(errors="replace"))


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def ensure_base_image(tag: str = BASE_IMAGE) -> str:
    """Make the local Debian base image once (about a minute); later runs find it by its tag."""
    if image_exists(tag):
        return f"{tag} (cached)"
    if shutil.which("debootstrap") is None:
        raise DockerCheckError("base image", f"debootstrap is not installed; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="bsrnn-base-") as root:
        bootstrap, pack, load = base_image_recipe(Path(root), tag)
        _run("base image", bootstrap)
        tar = subprocess.Popen(pack, stdout=subprocess.PIPE)
        imported = subprocess.run(load, stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise DockerCheckError("base image", "tar | docker import failed", imported.stderr)
    return f"{tag} (made with debootstrap)"


def ensure_wheelhouse(repo: Path) -> Path:
    """Download every pinned requirement (and its dependencies) as wheels for the image's Python, once."""
    folder = wheelhouse_dir(repo)
    if (folder / ".complete").is_file():
        return folder
    if sys.version_info[:2] != IMAGE_PYTHON:
        raise DockerCheckError("wheelhouse", f"run this with Python {'.'.join(map(str, IMAGE_PYTHON))} (the "
                               f"image's, Debian {SUITE}); this is {sys.version.split()[0]}")
    folder.mkdir(parents=True, exist_ok=True)
    _run("wheelhouse", [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--only-binary=:all:", "-r", str(repo / "requirements.txt"), "-d", str(folder)])
    (folder / ".complete").write_text("")
    return folder


class WheelServer:
    """``python -m http.server`` on 127.0.0.1 serving the wheelhouse to ``docker build --network host``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = self._free_port(stable_port(folder.name))  # the same in every clone: one shared layer cache
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def _free_port(port: int) -> int:
        for candidate in range(port, port + 50):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                    return candidate
                except OSError:
                    continue
        raise DockerCheckError("wheelhouse", f"no free port in {port}..{port + 49} to serve the wheels on")

    def __enter__(self) -> WheelServer:
        self.process = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                         "--directory", str(self.folder), str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.__exit__()
        raise DockerCheckError("wheelhouse", f"the wheel server did not start on port {self.port}")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()


def rebuilt_steps(build_output: str) -> tuple[int, list[str]]:
    """From the classic builder's output: the number of steps and the instructions that were not taken from the
    cache (``FROM`` and the ``ARG`` before it excluded: they make no layer)."""
    steps, rebuilt, current, cached, layered = 0, [], None, False, False
    for line in [*build_output.splitlines(), "Step end"]:
        if line.startswith("Step "):
            if current is not None and layered and not cached and not current.startswith("FROM"):
                rebuilt.append(current)
            steps += 1
            current, cached = line.split(" : ", 1)[-1].strip(), False
            layered = layered or current.startswith("FROM")
        elif "Using cache" in line:
            cached = True
    return steps - 1, rebuilt


def build_image(context: Path, base: str, wheel_url: str, tag: str, log: Path) -> tuple[int, list[str]]:
    """``docker build`` the context's Dockerfile with the classic builder (its cache reuses a layer when the
    instruction, its build arguments and the copied files' contents are unchanged); returns (steps, the
    instructions that were not taken from the cache)."""
    command = ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
               "--build-arg", f"WHEELHOUSE_URL={wheel_url}", "-t", tag, str(context)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise DockerCheckError("build", f"docker build failed (full log: {log})", result.stdout + result.stderr)
    return rebuilt_steps(result.stdout)


def image_size_mb(tag: str) -> float:
    return int(_run("build", ["docker", "image", "inspect", "-f", "{{.Size}}", tag]).stdout) / 1e6


# ---- steps inside the container ------------------------------------------------------------------------------

# Appended to every step: the container's peak memory as the cgroup counts it (v1, else v2), on stderr.
PEAK_PROBE = ('rc=$?; p=$(cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes 2>/dev/null '
              '|| cat /sys/fs/cgroup/memory.peak 2>/dev/null); echo "peak-memory-bytes ${p:-unknown}" >&2; exit $rc')


def run_in_container(step: str, image: str, command: str, cpus: float, memory: str, timeout: float,
                     copy_out: tuple[str, Path] | None = None,
                     mounts: Sequence[tuple[Path, str]] = ()) -> tuple[str, float, float | None]:
    """Run the shell ``command`` in a fresh container with the grader's limits; returns (output, seconds, peak
    memory in MB). Raises naming ``step`` on a non-zero exit, the memory limit or ``timeout``."""
    name = f"bsrnn-sdx-check-{step.replace(' ', '-')}-{os.getpid()}"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    start = time.perf_counter()
    try:
        result = subprocess.run([*run_arguments(image, cpus, memory, name, mounts), "sh", "-c",
                                 f"{command}; {PEAK_PROBE}"],
                                capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        output = result.stdout + result.stderr
        oom = subprocess.run(["docker", "inspect", "-f", "{{.State.OOMKilled}}", name],
                             capture_output=True, text=True).stdout.strip() == "true"
        if oom:
            raise DockerCheckError(step, f"killed: over the memory limit of {memory}", output)
        if result.returncode != 0:
            raise DockerCheckError(step, f"exited with {result.returncode}", output)
        if copy_out is not None:
            copy_out[1].mkdir(parents=True, exist_ok=True)
            _run(step, ["docker", "cp", f"{name}:{copy_out[0]}", str(copy_out[1])])
    except subprocess.TimeoutExpired as e:
        raise DockerCheckError(step, f"did not finish within {timeout:g} s",
                               (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes)
                               else (e.stdout or "")) from e
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    peak = None
    for line in output.splitlines():
        if line.startswith("peak-memory-bytes ") and line.split()[1].isdigit():
            peak = int(line.split()[1]) / 2**20
    return output, seconds, peak


def check_contents(image: str, files: list[str], cpus: float, memory: str) -> StepResult:
    """The image's home folder holds exactly the committed files, every file and folder owned by 1001."""
    listing = f"cd {HOME} && find . -mindepth 1 \\( ! -user 1001 -o ! -group 1001 \\) -printf 'not-1001 %p\\n'" \
              " && find . -type f -o -type l | sed 's|^\\./||' | sort"
    output, seconds, _ = run_in_container("contents", image, listing, cpus, memory, timeout=120)
    lines = [line for line in output.splitlines() if not line.startswith("peak-memory-bytes ")]
    wrong_owner = [line.split(" ", 1)[1] for line in lines if line.startswith("not-1001 ")]
    in_image = {line for line in lines if not line.startswith("not-1001 ")}
    # useradd's skeleton files belong to the aicrowd user, not to the repository
    extra = sorted(in_image - set(files) - {".bashrc", ".profile", ".bash_logout"})
    missing = sorted(set(files) - in_image)
    problems = ([f"not owned by 1001: {', '.join(wrong_owner[:10])}"] if wrong_owner else []) + \
               ([f"in the image but not committed: {', '.join(extra[:10])}"] if extra else []) + \
               ([f"committed but not in the image: {', '.join(missing[:10])}"] if missing else [])
    if problems:
        raise DockerCheckError("contents", "; ".join(problems))
    return StepResult("contents", seconds, detail=f"{len(files)} committed files, all owned by 1001")


def smoke_step(image: str, cpus: float, memory: str, factor: float, seconds: float = 5.0) -> StepResult:
    command = f"python -m {SMOKE_MODULE} --seconds {seconds:g} --time-factor {factor:.4f}"
    output, took, peak = run_in_container("smoke", image, command, cpus, memory, timeout=600)
    report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    return StepResult("smoke", took, peak, f"load {report['load_seconds']:.1f} s, {seconds:g} s of audio in "
                      f"{report['separate_seconds']:.2f} s (real-time factor {report['realtime_factor']:.2f})")


def evaluate_step(image: str, cpus: float, memory: str, factor: float, outputs: Path,
                  timeout: float = 1800) -> tuple[StepResult, list[dict]]:
    """``evaluate_locally.py`` on the embedded default data; returns the step and each track's scores file.

    The songs are rendered here (the grader's image has no renderer: FluidSynth, SoundFonts and voices are
    development tools) and mounted read-only into the container."""
    from evaluator.cache import cache_dir
    from render import DEFAULT_TEST_SET, ensure_dataset

    data = ensure_dataset(cache_dir("default-testset"), **DEFAULT_TEST_SET)
    command = f"python evaluate_locally.py --data /data/testset --time-factor {factor:.4f}"
    shutil.rmtree(outputs, ignore_errors=True)
    output, took, peak = run_in_container("evaluate", image, command, cpus, memory, timeout,
                                          copy_out=(f"{HOME}/evaluator_outputs/scores", outputs),
                                          mounts=[(data, "/data/testset")])
    tracks = [json.loads(p.read_text()) for p in sorted((outputs / "scores").glob("*.json"))]
    if not tracks:
        raise DockerCheckError("evaluate", "evaluate_locally.py wrote no scores", output)
    mean = next((line for line in output.splitlines() if line.startswith("mean_sdr")), "")
    return StepResult("evaluate", took, peak, f"{len(tracks)} tracks; {mean}".rstrip("; ")), tracks


# ---- the whole check -----------------------------------------------------------------------------------------

@dataclasses.dataclass
class CheckReport:
    cpus: float
    memory: str
    time_factor: float
    image_size_mb: float
    build_seconds: float
    build_steps: int
    rebuilt: list[str]
    steps: list[StepResult]
    tracks: list[dict]
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def slowest(self) -> float:
        return max(t["realtime_factor"] for t in self.tracks)

    @property
    def passed(self) -> bool:
        return self.slowest <= self.time_factor

    def lines(self) -> list[str]:
        """The report: image, build, limits, each step, each track against the limit, peak memory, verdict."""
        peaks = [s.peak_memory_mb for s in self.steps if s.peak_memory_mb is not None]
        out = [f"image {IMAGE}: {self.image_size_mb:.0f} MB; build {self.build_seconds:.1f} s, "
               + (f"{len(self.rebuilt)} of {self.build_steps} steps rebuilt" if self.rebuilt
                  else f"nothing rebuilt ({self.build_steps} steps from the cache)"),
               f"limits: --network none --user {USER} --memory {self.memory} --cpus {self.cpus:g}; time limit "
               f"{TIME_FACTOR} x duration on the grader's {GRADER_CPUS} vCPU, scaled by {GRADER_CPUS}/{self.cpus:g} "
               f"to {self.time_factor:.2f} x here",
               f"machine: {os.cpu_count()} cores; load average {self.load[0]:.1f} at the start, {self.load[1]:.1f} at "
               "the end (above the core count, other processes slowed the timings)"]
        out += [f"step {s.name}: {s.seconds:.1f} s" + (f", peak memory {s.peak_memory_mb:.0f} MB"
                                                       if s.peak_memory_mb is not None else "")
                + (f"; {s.detail}" if s.detail else "") for s in self.steps]
        out += [f"  track {t['track']}: {t['seconds']:.1f} s for {t['duration']:.1f} s, real-time factor "
                f"{t['realtime_factor']:.2f} (limit {self.time_factor:.2f} here, {TIME_FACTOR} on the grader)"
                for t in self.tracks]
        out.append(f"peak memory: {max(peaks):.0f} MB of {self.memory}" if peaks else "peak memory: unknown")
        note = "" if self.slowest <= TIME_FACTOR else (
            f" (over {TIME_FACTOR} x unscaled: it passes on the grader only if its {GRADER_CPUS} vCPU separate "
            f"{self.slowest / TIME_FACTOR:.2f} x faster than {self.cpus:g} CPUs here)")
        out.append(f"verdict: {'PASS' if self.passed else 'FAIL'}: slowest track at {self.slowest:.2f} x real "
                   f"time, limit {self.time_factor:.2f} x" + note)
        return out


def run_check(repo: Path, cpus: float | None = None, memory: str = GRADER_MEMORY, echo=print) -> CheckReport:
    """The whole pre-flight in Docker, printing each step as it ends; raises ``DockerCheckError`` naming the
    step that failed."""
    repo = Path(_git(Path(repo), "rev-parse", "--show-toplevel").stdout.strip())
    cpus = cpus or default_cpus()
    factor = scaled_time_factor(cpus)
    work = repo / ".cache" / "docker"
    steps: list[StepResult] = []
    load_at_start = os.getloadavg()[0]

    def record(step: StepResult) -> None:
        steps.append(step)
        echo(f"{step.name}: {step.detail} ({step.seconds:.1f} s)")

    def timed(name: str, action, describe=str):
        start = time.perf_counter()
        value = action()
        record(StepResult(name, time.perf_counter() - start, detail=describe(value)))
        return value

    timed("engine", lambda: ensure_engine(work / "dockerd.log"))
    timed("base image", ensure_base_image)
    wheels = timed("wheelhouse", lambda: ensure_wheelhouse(repo), lambda f: f"{f.relative_to(repo)}")
    with tempfile.TemporaryDirectory(prefix="bsrnn-context-") as context:
        tree = commit_tree(repo)
        files = timed("archive", lambda: write_context(repo, tree, Path(context)),
                      lambda f: f"{len(f)} files of the tree git add -A would commit ({tree[:12]})")
        echo(f"build: docker build -t {IMAGE} (log: {work / 'build.log'}) ...")
        with WheelServer(wheels) as server:
            start = time.perf_counter()
            total, rebuilt = build_image(Path(context), BASE_IMAGE, server.url, IMAGE, work / "build.log")
            build_seconds = time.perf_counter() - start
    size = image_size_mb(IMAGE)
    record(StepResult("build", build_seconds, detail=f"image {size:.0f} MB; " + (
        f"{len(rebuilt)} of {total} steps rebuilt, from {rebuilt[0][:50]!r}" if rebuilt
        else f"nothing rebuilt, all {total} steps from the cache")))
    record(check_contents(IMAGE, files, cpus, memory))
    record(smoke_step(IMAGE, cpus, memory, factor))
    step, tracks = evaluate_step(IMAGE, cpus, memory, factor, work / "evaluator_outputs")
    record(step)
    return CheckReport(cpus, memory, factor, size, build_seconds, total, rebuilt, steps, tracks,
                       (load_at_start, os.getloadavg()[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docker_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository to check (default: here)")
    parser.add_argument("--cpus", type=float, help=f"CPUs for the container (default: min({GRADER_CPUS}, cores))")
    parser.add_argument("--memory", default=GRADER_MEMORY, help=f"memory limit (default: {GRADER_MEMORY})")
    args = parser.parse_args(argv)
    if args.cpus is not None and args.cpus <= 0:
        parser.error(f"--cpus must be > 0, got {args.cpus}")
    try:
        report = run_check(args.repo, args.cpus, args.memory)
    except DockerCheckError as e:
        print(f"docker check failed at {e}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
