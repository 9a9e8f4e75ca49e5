"""Recorded-sample instruments: a part's notes played through FluidSynth from the SoundFont banks on this machine.

Banks are the Debian packages ``fluid-soundfont-gm`` (FluidR3), ``musescore-general-soundfont-small``
(MuseScore General Lite), ``timgm6mb-soundfont`` and the acoustic kits of ``avldrums.lv2-soundfont``; each part
draws a bank and one of several General MIDI programs for its role, so no instrument has a single timbre.
FluidSynth's own reverb and chorus are off: ``render.production`` does the mixing.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.score import Note

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3"))
GM_BANKS = ("FluidR3_GM.sf2", "MuseScore_General_Lite.sf3", "TimGM6mb.sf2")
ACOUSTIC_KITS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")  # played as melodic presets with GM keys
APT_PACKAGES = ("fluidsynth", "fluid-soundfont-gm", "musescore-general-soundfont-small", "timgm6mb-soundfont",
                "avldrums.lv2-soundfont")

# General MIDI programs (0-based) for each role of the score.
PROGRAMS = {
    "piano": (0, 1, 2), "electric piano": (4, 5), "organ": (16, 17, 18), "clavinet": (7,),
    "clean guitar": (27, 26), "acoustic guitar": (25,), "nylon guitar": (24,), "muted guitar": (28,),
    "crunch guitar": (29, 27), "distorted guitar": (30, 29), "lead guitar": (29, 30),
    "strings": (48, 49, 50, 44), "pad": (88, 89, 90, 91, 92, 94, 95), "brass": (61, 62, 56, 57, 65, 66),
    "synth lead": (80, 81, 87), "synth pluck": (45, 46, 84, 6, 108), "supersaw": (81, 62, 63),
    "bells": (8, 9, 10, 11, 12, 13, 14, 108), "choir": (52, 53, 54),
    "acoustic bass": (32,), "finger bass": (33,), "pick bass": (34,), "fretless bass": (35,),
    "slap bass": (36, 37), "synth bass": (38, 39),
}
DRUM_KITS = (0, 1, 8, 16, 24, 25, 32, 40)  # GM kit presets (bank 128) tried in every GM bank
_RELEASE_TAIL = 1.5  # seconds rendered after the last note-off


class MissingSoundError(RuntimeError):
    """A SoundFont bank or FluidSynth itself is not installed."""


@dataclass(frozen=True)
class Sound:
    """Which bank and preset plays a part."""

    bank_file: str
    bank: int
    program: int
    drums: bool = False


def _find(name: str) -> Path | None:
    return next((d / name for d in SOUNDFONT_DIRS if (d / name).is_file()), None)


@functools.lru_cache(maxsize=1)
def _synth(sample_rate: int):
    """One FluidSynth instance per process with every bank loaded (MuseScore's takes ~3 s to decode)."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:  # pyfluidsynth missing, or libfluidsynth not installed
        raise MissingSoundError(f"FluidSynth is not available ({e}); run scripts/setup.sh, which installs "
                                f"{', '.join(APT_PACKAGES)} and pyfluidsynth") from e
    synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate), **{
        "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": 512, "synth.cpu-cores": 1})
    ids = {}
    for name in GM_BANKS + ACOUSTIC_KITS:
        path = _find(name)
        if path is not None:
            ids[name] = synth.sfload(str(path))
    if not any(name in ids for name in GM_BANKS):
        raise MissingSoundError(f"no General MIDI SoundFont found in {', '.join(map(str, SOUNDFONT_DIRS))}; run "
                                f"scripts/setup.sh (apt packages {', '.join(APT_PACKAGES)})")
    write = fluidsynth.cfunc("fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1),
                             ("len", ctypes.c_int, 1), ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1),
                             ("lincr", ctypes.c_int, 1), ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1),
                             ("rincr", ctypes.c_int, 1))
    return synth, ids, write


def available_sounds(role: str, sample_rate: int = 44100) -> list[Sound]:
    """Every installed (bank, preset) that can play ``role`` ("drums" or a key of ``PROGRAMS``)."""
    synth, ids, _ = _synth(sample_rate)
    if role == "drums":
        sounds = [Sound(name, 128, kit, drums=True) for name in GM_BANKS if name in ids for kit in DRUM_KITS
                  if synth.sfpreset_name(ids[name], 128, kit)]
        return sounds + [Sound(name, 0, 0) for name in ACOUSTIC_KITS if name in ids]
    return [Sound(name, 0, program) for name in GM_BANKS if name in ids for program in PROGRAMS[role]
            if synth.sfpreset_name(ids[name], 0, program)]


def choose_sound(role: str, rng: np.random.Generator, sample_rate: int = 44100) -> Sound:
    sounds = available_sounds(role, sample_rate)
    return sounds[rng.integers(len(sounds))]


def play(notes: list[Note], sound: Sound, n_samples: int, sample_rate: int = 44100) -> np.ndarray:
    """``notes`` played by ``sound``: float32 ``(2, n_samples)`` (the synth's stereo image of the preset)."""
    synth, ids, write = _synth(sample_rate)
    synth.system_reset()
    channel = 9 if sound.drums else 0
    if synth.program_select(channel, ids[sound.bank_file], sound.bank, sound.program) != 0:
        raise MissingSoundError(f"{sound.bank_file} has no preset {sound.bank}:{sound.program}")
    events = sorted([(round(n.start * sample_rate), 1, n.pitch, n.velocity) for n in notes]
                    + [(round((n.start + n.length) * sample_rate), 0, n.pitch, 0) for n in notes])
    total = min(n_samples, (events[-1][0] if events else 0) + int(_RELEASE_TAIL * sample_rate))
    out = np.zeros((2, n_samples), dtype=np.float32)
    position = 0
    for time, on, pitch, velocity in [*events, (total, -1, 0, 0)]:
        time = min(time, total)
        if time > position:
            left, right = out[0, position:time], out[1, position:time]
            write(synth.synth, time - position, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
            position = time
        if on == 1:
            synth.noteon(channel, pitch, velocity)
        elif on == 0 and not sound.drums:
            synth.noteoff(channel, pitch)
    synth.system_reset()
    return out
