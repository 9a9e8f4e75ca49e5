"""Reading any audio file ffmpeg can decode, and writing stems as WAV (int16 / int24 / float32), FLAC or MP3.

libsndfile (through soundfile) reads WAV, FLAC, OGG and, in recent versions, MP3 directly; anything else
(M4A/AAC, Opus, video containers...) is decoded by ``ffmpeg`` to 32-bit float. MP3 is written by ffmpeg's
``libmp3lame`` at a chosen bitrate.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.atomic import atomic_path

# what a folder given to ``separate`` is searched for
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".wma", ".mp4")
WAV_SUBTYPES = {"int16": "PCM_16", "int24": "PCM_24", "float32": "FLOAT"}


class AudioError(ValueError):
    """A file that cannot be read or written as audio; the message names it."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds: sample rate, channels and duration in seconds; ``ffmpeg``: whether ffmpeg decodes it."""

    sample_rate: int
    channels: int
    duration: float
    ffmpeg: bool


@dataclass(frozen=True)
class OutputFormat:
    """How stems are written: ``kind`` wav / flac / mp3, ``sample_format`` int16 / int24 / float32 (WAV, FLAC),
    ``bitrate`` in kbit/s (MP3)."""

    kind: str = "wav"
    sample_format: str = "int16"
    bitrate: int = 320

    def __post_init__(self) -> None:
        if self.kind not in ("wav", "flac", "mp3"):
            raise ValueError(f"output format must be wav, flac or mp3, got {self.kind!r}")
        if self.sample_format not in WAV_SUBTYPES:
            raise ValueError(f"sample format must be one of {list(WAV_SUBTYPES)}, got {self.sample_format!r}")
        if self.kind == "flac" and self.sample_format == "float32":
            raise ValueError("FLAC holds integers only: use --int24 (or the default int16) with --flac")
        if self.kind == "mp3" and not 8 <= self.bitrate <= 320:
            raise ValueError(f"--mp3-bitrate must be between 8 and 320 kbit/s, got {self.bitrate}")
        if self.kind == "mp3" and not ffmpeg_available():
            raise ValueError("--mp3 needs ffmpeg (apt-get install ffmpeg, or bash scripts/setup.sh)")

    @property
    def extension(self) -> str:
        return self.kind


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def probe(path: str | Path) -> AudioInfo:
    """Describe ``path`` without decoding it: soundfile when libsndfile reads it, else ``ffprobe``."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        info = sf.info(path)
        return AudioInfo(info.samplerate, info.channels, info.frames / info.samplerate, False)
    except (sf.LibsndfileError, RuntimeError):
        pass
    if not ffmpeg_available():
        raise AudioError(f"{path}: libsndfile cannot read it and ffmpeg is not installed to decode it "
                         "(apt-get install ffmpeg)")
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=sample_rate,channels:format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True)
    try:
        found = json.loads(done.stdout or "{}")
        stream = found["streams"][0]
        return AudioInfo(int(stream["sample_rate"]), int(stream["channels"]), float(found["format"]["duration"]),
                         True)
    except (KeyError, IndexError, ValueError, TypeError):
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no audio stream"
        raise AudioError(f"{path}: not an audio file ffmpeg can decode ({detail})") from None


def read_audio(path: str | Path, offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """``duration`` seconds (default: all) of ``path`` from ``offset``: float32 ``(frames, channels)``, and the rate."""
    info = probe(path)
    if not info.ffmpeg:
        start = round(offset * info.sample_rate)
        frames = -1 if duration is None else round(duration * info.sample_rate)
        audio, rate = sf.read(path, start=start, frames=frames, dtype="float32", always_2d=True)
        return audio, rate
    command = ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{offset:.6f}", "-i", str(path)]
    if duration is not None:
        command += ["-t", f"{duration:.6f}"]
    command += ["-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    done = subprocess.run(command, capture_output=True)
    if done.returncode != 0:
        raise AudioError(f"{path}: ffmpeg could not decode it ({done.stderr.decode(errors='replace').strip()})")
    audio = np.frombuffer(done.stdout, dtype="<f4").reshape(-1, info.channels)
    return audio.copy(), info.sample_rate


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, fmt: OutputFormat = OutputFormat()) -> Path:
    """Write ``audio`` (``(frames, channels)``, [-1, 1]) to ``path`` in ``fmt``, atomically."""
    path = Path(path)
    audio = np.asarray(audio, dtype=np.float32)
    audio = audio[:, None] if audio.ndim == 1 else audio
    with atomic_path(path) as tmp:
        if fmt.kind == "mp3":
            command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", str(sample_rate),
                       "-ac", str(audio.shape[1]), "-i", "-", "-c:a", "libmp3lame", "-b:a", f"{fmt.bitrate}k",
                       "-f", "mp3", str(tmp)]
            done = subprocess.run(command, input=np.ascontiguousarray(audio).astype("<f4").tobytes(),
                                  capture_output=True)
            if done.returncode != 0:
                raise AudioError(f"{path}: ffmpeg could not encode MP3 ({done.stderr.decode(errors='replace')})")
        else:
            sf.write(tmp, audio, sample_rate, subtype=WAV_SUBTYPES[fmt.sample_format], format=fmt.kind.upper())
    return path
