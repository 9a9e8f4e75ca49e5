"""Recorded drum kits: a small sampler that plays a drum part's General MIDI keys with the multi-velocity samples
of Hydrogen's kits (Debian ``hydrogen-drumkits``, installed by ``scripts/setup.sh``).

A kit is read from its ``drumkit.xml``: each instrument's name says which drum it is (kick, snare, closed hi-hat,
...), and its layers give one recording per velocity range. Keys a kit lacks fall back to a related drum (a shaker to
the closed hi-hat, a clap to the snare, a missing tom to another tom). An open hi-hat is cut by the next closed or
pedal hi-hat, as on a real stand.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from render import score
from render.instruments import MissingSoundError
from render.score import Note

KIT_DIR = Path("/usr/share/hydrogen/data/drumkits")
APT_PACKAGE = "hydrogen-drumkits"
# Drum kits for pop, rock, funk and electronic parts. Left out: the package's hand-percussion and djembe kits, Audiophob
# (a collage whose "kick" is a tom) and The Black Pearl (the recordings of avldrums' Black Pearl, which
# render.instruments plays already).
KITS = ("BJA_Pacific", "ColomboAcousticDrumkit", "ElectricEmpireKit", "ForzeeStereo", "HardElectro1",
        "Millo-Drums_v.1", "Millo_MultiLayered2", "Millo_MultiLayered3", "VariBreaks", "rumpf_kit_z01_h2")

_HAT = r"(hh|hi-?hat|hat)"
_TOM_HIGH, _TOM_MID, _TOM_LOW = score.TOMS[:2], score.TOMS[2:4], score.TOMS[4:]
# Which instrument names play a key: the first instrument of the kit whose lower-cased name matches, and does not
# match the exclusion.
_NAMES: dict[int, tuple[str, str | None]] = {
    score.KICK: (r"kick|bass ?drum|\bbd\b", None),
    score.SNARE: (r"snare", r"rim|roll|flam"),
    score.SIDE_STICK: (r"stick|rim ?click", None),
    score.CLAP: (r"clap", None),
    score.HAT: (rf"{_HAT}.*\b(closed|cl)\b|\bclosed\b.*{_HAT}", None),
    score.PEDAL_HAT: (rf"{_HAT}.*\b(pedal|pd)\b|\bpedal\b.*{_HAT}", None),
    score.OPEN_HAT: (rf"{_HAT}.*\b(open|opened|op)\b|\bopen\b.*{_HAT}", r"semi"),
    score.CRASH: (r"crash", None),
    score.RIDE: (r"ride", r"bell|cup"),
    score.SHAKER: (r"shaker|maraca", None),
    score.TAMBOURINE: (r"tambourine", None),
}
_TOM_WORDS = {_TOM_HIGH: r"\bhi(gh)?\b|tomhi", _TOM_MID: r"\bmid", _TOM_LOW: r"\b(low|lo|floor)\b"}
# What plays a key the kit has no instrument for, in order of preference.
_FALLBACK = {
    score.SIDE_STICK: (score.SNARE,), score.CLAP: (score.SNARE,), score.PEDAL_HAT: (score.HAT,),
    score.OPEN_HAT: (score.HAT,), score.HAT: (score.PEDAL_HAT, score.RIDE), score.CRASH: (score.RIDE, score.OPEN_HAT),
    score.RIDE: (score.HAT, score.CRASH), score.SHAKER: (score.TAMBOURINE, score.HAT),
    score.TAMBOURINE: (score.SHAKER, score.HAT),
    **{tom: (*_TOM_MID, *_TOM_LOW, *_TOM_HIGH, score.SNARE) for tom in score.TOMS}}
_CHOKED_BY = {score.OPEN_HAT: (score.HAT, score.PEDAL_HAT)}
_CHOKE_SECONDS = 0.01


class MissingKitError(MissingSoundError):
    """Hydrogen's drum kits are not installed, or a kit cannot be read."""


@dataclass(frozen=True)
class Layer:
    """One recording of an instrument, played for velocities (0-1) in [low, high]."""

    path: Path
    low: float
    high: float
    gain: float


@dataclass(frozen=True)
class Kit:
    """A kit's recordings per General MIDI key (keys the kit lacks already resolved to a related drum)."""

    name: str
    keys: dict[int, tuple[Layer, ...]]


def _tag(element: ElementTree.Element) -> str:
    """The tag without its XML namespace (newer kits declare one)."""
    return element.tag.rsplit("}", 1)[-1]


def _text(element: ElementTree.Element, tag: str, default: str = "") -> str:
    found = next((child for child in element if _tag(child) == tag), None)
    return found.text.strip() if found is not None and found.text else default


def _layers(instrument: ElementTree.Element, folder: Path) -> tuple[Layer, ...]:
    layers = [element for element in instrument.iter() if _tag(element) == "layer"]
    gain = float(_text(instrument, "volume", "1")) * float(_text(instrument, "gain", "1"))
    if not layers and _text(instrument, "filename"):  # the older format: one sample, straight in the instrument
        return (Layer(folder / _text(instrument, "filename"), 0.0, 1.0, gain),)
    found = []
    for layer in layers:
        name = _text(layer, "filename")
        if name and (folder / name).is_file():
            found.append(Layer(folder / name, float(_text(layer, "min", "0")), float(_text(layer, "max", "1")),
                               gain * float(_text(layer, "gain", "1"))))
    return tuple(found)


def _match(names: list[str], pattern: str, exclude: str | None) -> int | None:
    return next((i for i, name in enumerate(names)
                 if re.search(pattern, name) and not (exclude and re.search(exclude, name))), None)


@functools.cache
def load_kit(name: str) -> Kit:
    """Read the kit ``name`` (one of ``KITS``) from ``KIT_DIR``."""
    path = KIT_DIR / name / "drumkit.xml"
    if not path.is_file():
        raise MissingKitError(f"drum kit {path} is not installed; run scripts/setup.sh (apt package {APT_PACKAGE})")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        raise MissingKitError(f"drum kit {path} is not readable XML ({e})") from None
    instruments = [(_text(e, "name").lower(), _layers(e, path.parent)) for e in root.iter()
                   if _tag(e) == "instrument"]
    instruments = [(n, layers) for n, layers in instruments if layers]
    names = [n for n, _ in instruments]
    found: dict[int, tuple[Layer, ...]] = {}
    for key, (pattern, exclude) in _NAMES.items():
        index = _match(names, pattern, exclude)
        if index is not None:
            found[key] = instruments[index][1]
    toms = [i for i, n in enumerate(names) if re.search(r"tom", n) and not re.search(r"bottom|custom", n)]
    unnamed = [i for i in toms if not any(re.search(words, names[i]) for words in _TOM_WORDS.values())]
    for keys, words in _TOM_WORDS.items():  # a tom named by its height, else the next one without a height
        index = next((i for i in toms if re.search(words, names[i])), None)
        if index is None and unnamed:
            index = unnamed.pop(0)
        if index is not None:
            found.update(dict.fromkeys(keys, instruments[index][1]))
    if score.KICK not in found or score.SNARE not in found:
        raise MissingKitError(f"drum kit {path}: no kick or no snare among its instruments {names}")
    keys = dict(found)
    for key, options in _FALLBACK.items():
        if key not in keys:
            keys[key] = next(found[o] for o in (*options, score.SNARE) if o in found)
    return Kit(name, keys)


@functools.lru_cache(maxsize=512)
def _sample(path: Path, sample_rate: int) -> np.ndarray:
    """A recording as float32 ``(2, samples)`` at ``sample_rate`` (mono doubled), read once per process."""
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise MissingKitError(f"drum sample {path} is not readable ({e})") from None
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate)
    audio = audio[:, :2] if audio.shape[1] > 1 else np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio.T, dtype=np.float32)


def _layer(layers: tuple[Layer, ...], velocity: float) -> Layer:
    inside = [layer for layer in layers if layer.low <= velocity <= layer.high]
    return inside[0] if inside else min(layers, key=lambda la: min(abs(la.low - velocity), abs(la.high - velocity)))


def play(notes: list[Note], kit: Kit, n_samples: int, sample_rate: int = 44100) -> np.ndarray:
    """``notes`` (General MIDI drum keys) played on ``kit``: float32 ``(2, n_samples)``."""
    out = np.zeros((2, n_samples), dtype=np.float32)
    ordered = sorted(notes, key=lambda note: note.start)
    fade = max(1, round(_CHOKE_SECONDS * sample_rate))
    for i, note in enumerate(ordered):
        layers = kit.keys.get(note.pitch)
        start = round(note.start * sample_rate)
        if layers is None or start >= n_samples:
            continue
        velocity = note.velocity / 127
        layer = _layer(layers, velocity)
        sound = _sample(layer.path, sample_rate)
        end = min(n_samples, start + sound.shape[1])
        chokers = _CHOKED_BY.get(note.pitch)
        cut = next((round(later.start * sample_rate) for later in ordered[i + 1:] if later.pitch in chokers),
                   None) if chokers else None
        piece = sound[:, :end - start] * (velocity * layer.gain)
        if cut is not None and cut < end:
            piece = piece[:, :cut - start + fade]  # a view of the scaled copy: faded in place
            tail = piece[:, cut - start:]
            tail *= np.linspace(1.0, 0.0, tail.shape[1], dtype=np.float32)
            end = start + piece.shape[1]
        out[:, start:end] += piece
    return out
