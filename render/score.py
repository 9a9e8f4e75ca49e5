"""The score of one song: genre, tempo, key, chords, sections and every part's notes (no audio here).

A song is drawn from a genre style (tempo range, swing, drum grooves, bass feel, which instruments play the
"other" stem, how the voice delivers). Sections of 4 or 8 bars (intro, verse, chorus, bridge) decide who plays;
notes carry humanised timing and velocity. Times are in seconds from the start of the song.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = {  # scale degrees (0 = tonic), one per bar or half bar
    MAJOR: [(0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 3, 0, 4), (0, 2, 3, 4), (3, 4, 0, 0),
            (0, 4, 3, 4), (1, 4, 0, 5)],
    MINOR: [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2), (0, 0, 5, 6), (0, 6, 3, 4)],
}

# General MIDI percussion keys.
KICK, SIDE_STICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51
TOMS = (50, 48, 47, 45, 43, 41)
SHAKER, TAMBOURINE = 70, 54


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    length: float  # seconds
    pitch: int  # MIDI key
    velocity: int  # 1..127


@dataclass
class Part:
    """One instrument's notes, rendered into ``stem`` with a sound of ``role`` (see ``render.instruments``)."""

    stem: str  # bass, drums, other, vocals
    role: str  # e.g. "piano", "distorted guitar", "sung"
    notes: list[Note] = field(default_factory=list)
    pan: float = 0.0  # -1 (left) .. 1 (right)
    phrases: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each vocal phrase
    singer: str = ""  # vocal parts: "female" or "male"


# Drum grooves: 16 steps per bar; 'X' accent, 'x' hit, 'o' ghost, '.' rest.
_GROOVES = {
    "rock": [dict(kick="X.....x.X.x.....", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
             dict(kick="X......xX.......", snare="....X.......X..o", hat="x.x.x.x.x.x.x.x."),
             dict(kick="X.x.....X.x..x..", snare="....X.......X...", ride="x.x.x.x.x.x.x.x.")],
    "pop": [dict(kick="X.......X.......", snare="....X.......X...", hat="x.x.x.x.x.x.x.x.", shaker="xxxxxxxxxxxxxxxx"),
            dict(kick="X.....x...x.....", snare="....X.......X...", hat="..x...x...x...x.", clap="....x.......x...")],
    "hiphop": [dict(kick="X.....x...X..x..", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
               dict(kick="X..x......X.....", snare="....X..o....X...", hat="xxx.xxx.xxx.xxxx"),
               dict(kick="X.........X.x...", clap="....X.......X...", hat="x.xxx.x.x.xxx.x.")],
    "electronic": [dict(kick="X...X...X...X...", clap="....X.......X...", open_hat="..x...x...x...x.",
                        hat="x.x.x.x.x.x.x.x."),
                   dict(kick="X...X...X...X...", snare="....X.......X...", hat="xxxxxxxxxxxxxxxx"),
                   dict(kick="X..x..x...X.....", clap="....X.......X...", hat="x.xxx.xxx.xxx.xx")],
    "ballad": [dict(kick="X.......x.......", side_stick="....x.......x...", hat="x...x...x...x..."),
               dict(kick="X.........x.....", snare="....x.......x...", ride="x..x..x.x..x..x."),
               dict(kick="X.......X.......", snare="........X.......", shaker="x.x.x.x.x.x.x.x.")],
    "funk": [dict(kick="X..x..x...X..x..", snare="....X..o.o..X..o", hat="xxxxxxxxxxxxxxxx"),
             dict(kick="X.x...x..xX.....", snare="....X.o.....X.o.", hat="x.xox.xox.xox.xo",
                  open_hat="......x.......x.")],
    "metal": [dict(kick="XxXxXxXxXxXxXxXx", snare="....X.......X...", ride="x.x.x.x.x.x.x.x."),
              dict(kick="X.x.X.x.X.x.X.x.", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
              dict(kick="XxxxXxxxXxxxXxxx", snare="X...X...X...X...", crash="x...x...x...x...")],
}
_DRUM_KEYS = dict(kick=KICK, snare=SNARE, hat=HAT, open_hat=OPEN_HAT, ride=RIDE, clap=CLAP, side_stick=SIDE_STICK,
                  shaker=SHAKER, crash=CRASH)

# What each genre plays. "other" lists (role, weight); the song draws 2-4 distinct ones.
STYLES = {
    "rock": dict(tempo=(95, 150), swing=(0.0,), bass=("eighths", "roots", "follow"),
                 voice=(("sung", 0.9), ("rap", 0.1)),
                 other=[("crunch guitar", 3), ("distorted guitar", 3), ("clean guitar", 2), ("piano", 1), ("organ", 1),
                        ("lead guitar", 1)]),
    "pop": dict(tempo=(90, 128), swing=(0.0, 0.1), bass=("roots", "eighths", "octaves", "follow"),
                voice=(("sung", 0.9), ("rap", 0.1)),
                other=[("piano", 3), ("electric piano", 2), ("clean guitar", 2), ("acoustic guitar", 2), ("strings", 2),
                       ("pad", 2), ("synth pluck", 2), ("bells", 1)]),
    "hiphop": dict(tempo=(80, 100), swing=(0.1, 0.25), bass=("sustained", "follow"),
                   voice=(("rap", 0.7), ("sung", 0.3)),
                   other=[("electric piano", 3), ("pad", 2), ("strings", 2), ("synth pluck", 2), ("piano", 2),
                          ("brass", 1), ("bells", 1)]),
    "electronic": dict(tempo=(118, 132), swing=(0.0,), bass=("octaves", "offbeat", "sustained"),
                       voice=(("sung", 0.8), ("rap", 0.2)),
                       other=[("pad", 3), ("synth lead", 2), ("synth pluck", 3), ("supersaw", 2), ("bells", 1),
                              ("piano", 1)]),
    "ballad": dict(tempo=(60, 84), swing=(0.0,), bass=("sustained", "roots"), voice=(("sung", 1.0),),
                   other=[("piano", 4), ("acoustic guitar", 3), ("strings", 3), ("pad", 2), ("nylon guitar", 2),
                          ("electric piano", 1)]),
    "funk": dict(tempo=(96, 118), swing=(0.0, 0.1), bass=("funk", "follow"), voice=(("sung", 0.7), ("rap", 0.3)),
                 other=[("muted guitar", 3), ("clean guitar", 3), ("clavinet", 2), ("brass", 3), ("organ", 2),
                        ("electric piano", 2)]),
    "metal": dict(tempo=(110, 170), swing=(0.0,), bass=("eighths", "follow"), voice=(("sung", 1.0),),
                  other=[("distorted guitar", 5), ("lead guitar", 2), ("crunch guitar", 2), ("strings", 1),
                         ("organ", 1)]),
}
GENRES = tuple(STYLES)
SINGER_RANGES = {"female": (55, 76), "male": (43, 64)}  # MIDI

# Register (MIDI) and how each "other" role plays.
_OTHER_PLAY = {
    "piano": ("comp", 52, 76), "electric piano": ("comp", 50, 74), "organ": ("sustain", 50, 74),
    "clavinet": ("comp16", 52, 74), "clean guitar": ("strum", 50, 72), "acoustic guitar": ("strum", 48, 72),
    "nylon guitar": ("arpeggio", 48, 72), "muted guitar": ("comp16", 55, 72), "crunch guitar": ("power", 40, 64),
    "distorted guitar": ("power", 38, 62), "lead guitar": ("lead", 62, 86), "strings": ("sustain", 55, 79),
    "pad": ("sustain", 50, 76), "brass": ("stabs", 55, 77), "synth lead": ("lead", 64, 86),
    "synth pluck": ("arpeggio", 60, 84), "supersaw": ("sustain", 55, 79), "bells": ("arpeggio", 72, 91),
}


@dataclass
class Song:
    """A song's plan and parts; ``bars`` and ``beat`` give its grid."""

    genre: str
    tempo: float
    key: int  # tonic pitch class
    scale: tuple[int, ...]
    progression: tuple[int, ...]
    beat: float  # seconds per beat
    swing: float
    duration: float
    sections: list[tuple[str, int, int]]  # (name, first bar, bars)
    parts: list[Part] = field(default_factory=list)

    def chord_at(self, bar: int) -> int:
        """Scale degree of the chord at ``bar`` (chords change every bar)."""
        return self.progression[bar % len(self.progression)]

    def chord_pitch_classes(self, degree: int, size: int = 3) -> list[int]:
        return [(self.key + self.scale[(degree + 2 * i) % 7]) % 12 for i in range(size)]

    def scale_pitch_classes(self) -> set[int]:
        return {(self.key + s) % 12 for s in self.scale}

    def step_time(self, bar: int, step: float) -> float:
        """Start (s) of sixteenth ``step`` of ``bar``, odd sixteenths delayed by the swing."""
        swing = self.swing * (int(step) % 2 == 1)
        return (bar * 16 + step + swing) * self.beat / 4


def _nearest(pitch_class: int, target: float) -> int:
    return int(pitch_class + 12 * round((target - pitch_class) / 12))


def _weighted(rng: np.random.Generator, pairs) -> str:
    names, weights = zip(*pairs)
    p = np.asarray(weights, dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


class _Writer:
    """Collects humanised notes for one part."""

    def __init__(self, song: Song, rng: np.random.Generator, timing: float, dynamics: float):
        self.song, self.rng, self.timing, self.dynamics = song, rng, timing, dynamics
        self.notes: list[Note] = []

    def add(self, start: float, length: float, pitch: int, velocity: float) -> None:
        start = max(0.0, start + self.rng.normal(0, self.timing))
        if start >= self.song.duration or length <= 0.01:
            return
        velocity = float(np.clip(velocity * (1 + self.rng.normal(0, self.dynamics)), 1, 127))
        self.notes.append(Note(start, min(length, self.song.duration + 1 - start), int(pitch), int(velocity)))


def _sections(rng: np.random.Generator, n_bars: int, genre: str) -> list[tuple[str, int, int]]:
    order = ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus"]
    start = int(rng.choice([0, 0, 1, 2, 3]))  # excerpts may start anywhere in the song's form
    sections, bar = [], 0
    for name in order[start:] + ["chorus"] * n_bars:
        if bar >= n_bars:
            break
        length = int(rng.choice([2, 4]) if name in ("intro", "bridge") else rng.choice([4, 8]))
        sections.append((name, bar, length))
        bar += length
    return sections


def _playing(song: Song, rng: np.random.Generator, stem: str, density: float) -> list[tuple[int, int]]:
    """The (first bar, bars) spans in which a part plays: by section, with some sections left out."""
    spans = []
    for name, first, bars in song.sections:
        chance = density * {"intro": 0.5, "verse": 0.8, "chorus": 1.0, "bridge": 0.6}[name]
        if stem == "drums":
            chance = 0.3 if name == "intro" else 0.95
        if stem == "bass":
            chance = 0.4 if name == "intro" else 0.92
        if stem == "vocals":
            chance = 0.0 if name == "intro" else 0.92
        if rng.random() < chance:
            spans.append((first, bars))
    return spans or [song.sections[-1][1:]]


def _drums(song: Song, rng: np.random.Generator) -> Part:
    part = _Writer(song, rng, timing=0.004, dynamics=0.08)
    grooves = _GROOVES[song.genre]
    for first, bars in _playing(song, rng, "drums", 1.0):
        groove = grooves[rng.integers(len(grooves))]
        for bar in range(first, first + bars):
            fill = bar == first + bars - 1 and rng.random() < 0.6
            for name, pattern in groove.items():
                for step, mark in enumerate(pattern):
                    if mark == "." or (fill and step >= 12) or (mark == "o" and rng.random() < 0.3):
                        continue
                    velocity = {"X": 112, "x": 92, "o": 45}[mark] * (0.8 if name in ("hat", "shaker") else 1.0)
                    part.add(song.step_time(bar, step), song.beat / 4, _DRUM_KEYS[name], velocity)
            if bar == first:
                part.add(song.step_time(bar, 0), song.beat * 2, CRASH, 105)
            if fill:
                toms = TOMS[rng.integers(0, 3):][:4]
                for i, step in enumerate(range(12, 16)):
                    key = SNARE if rng.random() < 0.4 else toms[min(i, len(toms) - 1)]
                    part.add(song.step_time(bar, step), song.beat / 4, key, 95 + 5 * i)
    return Part("drums", "drums", part.notes)


def _bass(song: Song, rng: np.random.Generator) -> Part:
    part = _Writer(song, rng, timing=0.006, dynamics=0.1)
    feel = str(rng.choice(STYLES[song.genre]["bass"]))
    centre = rng.uniform(36, 44)
    kick_steps = [s for s, m in enumerate(_GROOVES[song.genre][0]["kick"]) if m != "."]
    step = song.beat / 4
    for first, bars in _playing(song, rng, "bass", 1.0):
        for bar in range(first, first + bars):
            pcs = song.chord_pitch_classes(song.chord_at(bar))
            root = _nearest(pcs[0], centre)
            fifth = _nearest(pcs[2], root + 7)
            if feel == "roots":
                for beat in range(0, 16, 4):
                    part.add(song.step_time(bar, beat), 3.5 * step, root, 95 if beat == 0 else 82)
            elif feel == "eighths":
                for s in range(0, 16, 2):
                    part.add(song.step_time(bar, s), 1.8 * step, root if s < 12 or rng.random() < 0.7 else fifth, 88)
            elif feel == "octaves":
                for s in range(0, 16, 2):
                    part.add(song.step_time(bar, s), 1.6 * step, root + 12 * (s % 4 == 2), 90)
            elif feel == "offbeat":
                for s in range(2, 16, 4):
                    part.add(song.step_time(bar, s), 1.8 * step, root, 95)
            elif feel == "sustained":
                part.add(song.step_time(bar, 0), 15 * step, root, 90)
            elif feel == "follow":
                for s in kick_steps:
                    part.add(song.step_time(bar, s), 2.5 * step, root if rng.random() < 0.8 else fifth, 92)
            else:  # funk: syncopated sixteenths with octave pops and passing notes
                for s in range(16):
                    if s in (0, 3, 6, 10) or rng.random() < 0.18:
                        pitch = root + 12 * (rng.random() < 0.25) + (rng.choice([-1, 2]) if rng.random() < 0.1 else 0)
                        part.add(song.step_time(bar, s), 0.9 * step, pitch, 100 if s == 0 else 80)
    return Part("bass", feel, part.notes)


def _other(song: Song, rng: np.random.Generator, role: str, density: float) -> Part:
    play, low, high = _OTHER_PLAY[role]
    part = _Writer(song, rng, timing=0.008, dynamics=0.12)
    step = song.beat / 4
    centre = rng.uniform(low + 6, high - 6)
    rhythm = rng.choice(["4", "8", "syncopated"])
    lead_phrase = [int(x) for x in rng.integers(-3, 4, size=8)]
    for first, bars in _playing(song, rng, "other", density):
        for bar in range(first, first + bars):
            pcs = song.chord_pitch_classes(song.chord_at(bar), size=4 if rng.random() < 0.3 else 3)
            chord = sorted(_nearest(pc, centre + i * 4 - 4) for i, pc in enumerate(pcs))
            if play == "sustain":
                for p in chord:
                    part.add(song.step_time(bar, 0), 16 * step, p, 70)
            elif play in ("comp", "strum", "comp16"):
                hits = {"4": [0, 4, 8, 12], "8": list(range(0, 16, 2)), "syncopated": [0, 3, 6, 10, 12]}[rhythm]
                if play == "comp16":
                    hits = [s for s in range(16) if rng.random() < 0.45]
                for s in hits:
                    length = (16 - s if rhythm == "4" and play == "comp" else 1.7) * step
                    down = rng.random() < 0.7
                    for i, p in enumerate(chord if down else chord[::-1]):
                        strum = i * rng.uniform(0.008, 0.02) if play == "strum" else 0.0
                        part.add(song.step_time(bar, s) + strum, length, p, 85 if s % 4 == 0 else 70)
            elif play == "power":
                root = _nearest(pcs[0], centre - 6)
                for s in range(0, 16, 2 if rng.random() < 0.7 else 1):
                    for p in (root, root + 7, root + 12):
                        part.add(song.step_time(bar, s), 1.8 * step, p, 100 if s % 4 == 0 else 85)
            elif play == "arpeggio":
                tones = chord + [chord[0] + 12]
                for s in range(0, 16, 2):
                    part.add(song.step_time(bar, s), 2.5 * step, tones[(s // 2) % len(tones)], 80)
            elif play == "stabs":
                for s in (0, 6, 10) if rng.random() < 0.5 else (3, 8, 14):
                    for p in chord:
                        part.add(song.step_time(bar, s), 1.5 * step, p, 100)
            else:  # lead: a motif on the scale that follows the chord root
                scale = sorted(p for p in range(low, high + 1) if p % 12 in song.scale_pitch_classes())
                anchor = int(np.argmin([abs(p - _nearest(pcs[0], centre)) for p in scale]))
                for i, s in enumerate(range(0, 16, 2)):
                    if rng.random() < 0.75:
                        index = int(np.clip(anchor + lead_phrase[i % 8], 0, len(scale) - 1))
                        part.add(song.step_time(bar, s), 2 * step, scale[index], 95)
    return Part("other", role, part.notes, pan=float(rng.uniform(-0.8, 0.8)))


def _melody(song: Song, rng: np.random.Generator, low: int, high: int, delivery: str) -> Part:
    """A vocal line: phrases of one or two bars, a syllable per note; notes land on chord tones on strong beats.

    The notes are a guide: ``render.voice`` fits the sung syllables to them.
    """
    part = _Writer(song, rng, timing=0.01, dynamics=0.06)
    scale = sorted(p for p in range(low, high + 1) if p % 12 in song.scale_pitch_classes())
    phrases = []
    current = len(scale) // 2
    for first, bars in _playing(song, rng, "vocals", 1.0):
        bar = first
        while bar < first + bars:
            length = 2 if rng.random() < 0.5 and bar + 1 < first + bars else 1
            start_step = int(rng.choice([0, 0, 2, 4]))
            end_step = length * 16 - int(rng.choice([2, 4, 6]))
            steps = [s for s in range(start_step, end_step, 2 if delivery == "sung" else 1)
                     if s == start_step or rng.random() < (0.55 if delivery == "sung" else 0.8)]
            notes = []
            for i, s in enumerate(steps):
                b, within = bar + s // 16, s % 16
                if within % 8 == 0:  # strong beat: the nearest chord tone
                    pcs = song.chord_pitch_classes(song.chord_at(b))
                    options = [k for k, p in enumerate(scale) if p % 12 in pcs]
                    current = min(options, key=lambda k: abs(k - current))
                else:
                    current = int(np.clip(current + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(scale) - 1))
                nxt = steps[i + 1] if i + 1 < len(steps) else end_step
                notes.append((song.step_time(b, within), (nxt - s) * song.beat / 4 * 0.95, scale[current]))
            for start, dur, pitch in notes:
                part.add(start, dur, pitch, 96)
            if notes:
                phrases.append((notes[0][0], notes[-1][0] + notes[-1][1]))
            bar += length + int(rng.random() < 0.3)
    part_ = Part("vocals", delivery, part.notes)
    part_.phrases = [(s, e) for s, e in phrases if s < song.duration]
    return part_


def _choir(song: Song, rng: np.random.Generator) -> Part:
    part = _Writer(song, rng, timing=0.01, dynamics=0.05)
    for name, first, bars in song.sections:
        if name != "chorus":
            continue
        for bar in range(first, first + bars):
            pcs = song.chord_pitch_classes(song.chord_at(bar))
            for i, pc in enumerate(pcs):
                part.add(song.step_time(bar, 0), 16 * song.beat / 4, _nearest(pc, 60 + 4 * i), 70)
    return Part("vocals", "choir", part.notes, pan=float(rng.uniform(-0.3, 0.3)))


def compose(rng: np.random.Generator, duration: float, genre: str | None = None) -> Song:
    """Draw a song of ``duration`` seconds: its plan and every part's notes."""
    genre = genre or str(rng.choice(GENRES))
    style = STYLES[genre]
    tempo = float(rng.uniform(*style["tempo"]))
    scale = MAJOR if rng.random() < 0.5 else MINOR
    progressions = PROGRESSIONS[scale]
    beat = 60.0 / tempo
    n_bars = math.ceil(duration / (4 * beat)) + 1
    song = Song(genre=genre, tempo=tempo, key=int(rng.integers(12)), scale=scale,
                progression=progressions[rng.integers(len(progressions))], beat=beat,
                swing=float(rng.choice(style["swing"])), duration=duration, sections=[])
    song.sections = _sections(rng, n_bars, genre)
    song.parts.append(_drums(song, rng))
    song.parts.append(_bass(song, rng))
    roles, weights = zip(*style["other"])
    count = min(len(roles), int(rng.integers(2, 5)))
    p = np.asarray(weights, dtype=float)
    for role in rng.choice(roles, size=count, replace=False, p=p / p.sum()):
        song.parts.append(_other(song, rng, str(role), density=float(rng.uniform(0.6, 1.0))))
    delivery = _weighted(rng, style["voice"])
    singer = "female" if rng.random() < 0.5 else "male"
    low, high = SINGER_RANGES[singer]
    lead = _melody(song, rng, low, high, delivery)
    lead.singer = singer
    song.parts.append(lead)
    if rng.random() < 0.25:
        song.parts.append(_choir(song, rng))
    return song
