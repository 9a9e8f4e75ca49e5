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
# FluidSynth renders whole blocks of this many samples, ahead of what a call asks for, and starts a note at the
# next block: every call here asks for whole blocks and events sit on block starts (1.5 ms at 44.1 kHz), so a part
# sounds the same whatever the synth rendered before
_BLOCK = 64


class MissingSoundError(OSError):
    """A sound source (a SoundFont bank, a drum kit) or FluidSynth itself is not installed."""


@dataclass(frozen=True)
class Sound:
    """Which bank and preset plays a part."""

    bank_file: str
    bank: int
    program: int
    drums: bool = False


def _find(name: str) -> Path | None:
    return next((d / name for d in SOUNDFONT_DIRS if (d / name).is_file()), None)


def _fluidsynth():
    try:
        import fluidsynth
    except (ImportError, OSError) as e:  # pyfluidsynth missing, or libfluidsynth not installed
        raise MissingSoundError(f"FluidSynth is not available ({e}); run scripts/setup.sh, which installs "
                                f"{', '.join(APT_PACKAGES)} and pyfluidsynth") from e
    return fluidsynth


class Banks:
    """A fresh FluidSynth for one song, loading each bank when a part first needs it.

    FluidSynth keeps state that its reset does not clear (a note's exact start and attack depend on what the
    synth played before), so each song gets its own synth: a song's audio then depends on its seed alone.
    """

    def __init__(self, sample_rate: int = 44100):
        fluidsynth = _fluidsynth()
        self.sample_rate = sample_rate
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate), **{
            "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": 512, "synth.cpu-cores": 1})
        self.ids: dict[str, int] = {}
        self._write = fluidsynth.cfunc(
            "fluid_synth_write_float", ctypes.c_int, ("synth", ctypes.c_void_p, 1), ("len", ctypes.c_int, 1),
            ("lout", ctypes.c_void_p, 1), ("loff", ctypes.c_int, 1), ("lincr", ctypes.c_int, 1),
            ("rout", ctypes.c_void_p, 1), ("roff", ctypes.c_int, 1), ("rincr", ctypes.c_int, 1))

    def __enter__(self) -> Banks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.synth.delete()

    def _bank(self, name: str) -> int:
        if name not in self.ids:
            path = _find(name)
            if path is None:
                raise MissingSoundError(f"SoundFont {name} is not installed; run scripts/setup.sh")
            self.ids[name] = self.synth.sfload(str(path))
        return self.ids[name]

    def play(self, notes: list[Note], sound: Sound, n_samples: int) -> np.ndarray:
        """``notes`` played by ``sound``: float32 ``(2, n_samples)`` (the synth's stereo image of the preset)."""
        synth, rate = self.synth, self.sample_rate
        synth.system_reset()
        channel = 9 if sound.drums else 0
        if synth.program_select(channel, self._bank(sound.bank_file), sound.bank, sound.program) != 0:
            raise MissingSoundError(f"{sound.bank_file} has no preset {sound.bank}:{sound.program}")

        def block(seconds: float) -> int:
            return round(seconds * rate / _BLOCK) * _BLOCK

        events = sorted([(block(n.start), 1, n.pitch, n.velocity) for n in notes]
                        + [(block(n.start + n.length), 0, n.pitch, 0) for n in notes])
        length = -(-n_samples // _BLOCK) * _BLOCK
        total = min(length, (events[-1][0] if events else 0) + block(_RELEASE_TAIL))
        out = np.zeros((2, length), dtype=np.float32)
        position = 0
        for time, on, pitch, velocity in [*events, (total, -1, 0, 0)]:
            time = min(time, total)
            if time > position:
                left, right = out[0, position:time], out[1, position:time]
                self._write(synth.synth, time - position, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
                position = time
            if on == 1:
                synth.noteon(channel, pitch, velocity)
            elif on == 0 and not sound.drums:
                synth.noteoff(channel, pitch)
        synth.system_reset()
        return out[:, :n_samples]


@functools.lru_cache(maxsize=1)
def _presets() -> frozenset[tuple[str, int, int]]:
    """Every (bank file, bank, program) installed, read once per process."""
    synth = _fluidsynth().Synth()
    found = set()
    try:
        for name in GM_BANKS + ACOUSTIC_KITS:
            path = _find(name)
            if path is None:
                continue
            sfid = synth.sfload(str(path))
            found |= {(name, bank, program) for bank in (0, 128) for program in range(128)
                      if synth.sfpreset_name(sfid, bank, program)}
    finally:
        synth.delete()
    if not any(name in GM_BANKS for name, _, _ in found):
        raise MissingSoundError(f"no General MIDI SoundFont found in {', '.join(map(str, SOUNDFONT_DIRS))}; run "
                                f"scripts/setup.sh (apt packages {', '.join(APT_PACKAGES)})")
    return frozenset(found)


def available_sounds(role: str) -> list[Sound]:
    """Every installed (bank, preset) that can play ``role`` ("drums" or a key of ``PROGRAMS``)."""
    presets = _presets()
    if role == "drums":
        kits = [Sound(name, 128, kit, drums=True) for name in GM_BANKS for kit in DRUM_KITS
                if (name, 128, kit) in presets]
        return kits + [Sound(name, 0, 0) for name in ACOUSTIC_KITS if (name, 0, 0) in presets]
    return [Sound(name, 0, program) for name in GM_BANKS for program in PROGRAMS[role]
            if (name, 0, program) in presets]


def choose_sound(role: str, rng: np.random.Generator) -> Sound:
    sounds = available_sounds(role)
    return sounds[rng.integers(len(sounds))]
