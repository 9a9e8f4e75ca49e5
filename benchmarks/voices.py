"""Which speech voice sounds most like singing once ``render.voice`` sings with it: objective descriptors
(``benchmarks.singing``) of every installed voice's dry sung lines, beside real singing and beside speech.

Every voice sings the same lines: the first phrase of the lead melody of songs composed from seeds 0, 1, ...
(rapped leads skipped), an octave up or down into the voice's register when the song's singer is of the other
sex, with the same generator seed, so the same lyrics, formant shift and melody for each voice; the lead take
only (no doubles, harmony, effects or reverb). The references: the vocals stem of the real clip that ships with
stempeg (``evaluator.real_music``; one 6-s excerpt of one male singer, with its reverb and AAC coding: a weak
reference), and speech: every voice speaking the same lyrics, unprocessed (the row is the median over voices).

Each voice's value is the median over lines of the per-line value. Its distance to the real singing is the mean
of four terms. For the voiced run, the F0 stability and the aperiodicity: how far the voice stays on the speech
side of the real singer, as a share of the speech-to-singer gap, (voice - real) / (speech - real), and 0 once at
or beyond the singer (one clip says on which side singing lies, not where it ends; and the reference's reverb
raises its aperiodicity: the renderer's own vocal production adds about 4-5 dB to the voices'). Plus the pitch
error against the score's melody notes / 100 cents (a voice a semitone off the melody scores 1, as far as
speech). Terms that cannot be measured (no note long enough) are left out. The rank's spread comes from
resampling the lines (bootstrap, the references held fixed).

    python -m benchmarks.voices --lines 20
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from benchmarks import singing
from benchmarks.machine import describe_machine
from evaluator.real_music import ensure_real_clip
from render import score, voice
from render.score import Note, Part, Song

SAMPLE_RATE = 44100
SUNG_GENRES = ("pop", "ballad", "rock", "electronic", "metal", "funk")
LEAD_IN = 0.3  # seconds kept before a line's first note
DISTANCE_TERMS = ("voiced_run", "f0_stability", "aperiodicity")
PITCH_SCALE = 100.0  # cents of pitch error that count as much as speech's distance on one descriptor
COLUMNS = {  # descriptor: (table heading, format)
    "pitch_error": ("pitch error vs melody (cents)", "{:.0f}"),
    "target_error": ("pitch error vs sung targets (cents)", "{:.0f}"),
    "syllables_per_note": ("syllables per melody note", "{:.2f}"),
    "voiced_in_notes": ("voiced in notes", "{:.2f}"),
    "voiced_fraction": ("voiced (active frames)", "{:.2f}"),
    "voiced_run": ("voiced run (s)", "{:.2f}"),
    "f0_stability": ("F0 std in notes (cents)", "{:.1f}"),
    "aperiodicity": ("aperiodicity 0-4 kHz (dB)", "{:.1f}"),
}


@dataclass(frozen=True)
class Line:
    seed: int
    song: Song
    part: Part  # the lead vocal restricted to its first phrase

    def for_voice(self, singer: str) -> Part:
        """The line moved by an octave into ``singer``'s register if the song's singer is of the other sex."""
        shift = 0 if singer == self.part.singer else 12 if singer == "female" else -12
        notes = [Note(n.start, n.length, n.pitch + shift, n.velocity) for n in self.part.notes]
        return Part("vocals", "sung", notes, phrases=self.part.phrases, singer=singer)


def sung_lines(count: int, duration: float = 10.0) -> list[Line]:
    """The first phrase of the sung lead of the songs composed from seeds 0, 1, ... (genres in turn)."""
    lines, seed = [], 0
    while len(lines) < count:
        song = score.compose(np.random.default_rng(seed), duration, SUNG_GENRES[seed % len(SUNG_GENRES)])
        lead = next(p for p in song.parts if p.stem == "vocals" and p.role != "choir")
        if lead.role == "sung" and lead.phrases:
            start, end = lead.phrases[0]
            notes = [n for n in lead.notes if start - 0.05 <= n.start < end]
            lines.append(Line(seed, song, Part("vocals", "sung", notes, phrases=[(start, end)],
                                               singer=lead.singer)))
        seed += 1
    return lines


def descriptors(analysis: singing.Analysis) -> dict[str, float]:
    """The descriptors that need no score (those measured on the references too)."""
    return {"voiced_fraction": singing.voiced_fraction(analysis), "voiced_run": singing.voiced_run(analysis),
            "f0_stability": singing.f0_stability(analysis), "aperiodicity": singing.aperiodicity(analysis)}


def measure_voice(chosen: voice.Voice, lines: list[Line]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per line: the descriptors of ``chosen`` singing it (plus the pitch error against the melody notes and against
    the pitches the syllables were given, syllables per note, the voiced share inside the notes), and of ``chosen``
    speaking its lyrics."""
    sung: dict[str, list[float]] = {}
    spoken: dict[str, list[float]] = {}
    for line in lines:
        part = line.for_voice(chosen.singer)
        start, end = part.phrases[0]
        audio, performed = voice.perform(line.song, part, np.random.default_rng(line.seed),
                                         int((end + 0.5) * SAMPLE_RATE), SAMPLE_RATE, voice=chosen)
        offset = max(0.0, start - LEAD_IN)
        analysis = singing.analyse(audio[:, int(offset * SAMPLE_RATE):], SAMPLE_RATE)
        notes = [(analysis.frame(n.start - offset), analysis.frame(n.start + n.length - offset), float(n.pitch))
                 for n in part.notes]
        values = descriptors(analysis)
        syllables = [(analysis.frame(onset - offset), analysis.frame(stop - offset), pitch)
                     for onset, stop, pitch in performed[0].syllables]
        values["pitch_error"] = singing.pitch_error(analysis, notes)
        values["target_error"] = singing.pitch_error(analysis, syllables)
        values["syllables_per_note"] = len(syllables) / len(notes)
        values["voiced_in_notes"] = singing.voiced_fraction(analysis, [n[:2] for n in notes])
        for name, value in values.items():
            sung.setdefault(name, []).append(value)
        for name, value in descriptors(singing.analyse(*voice.speak(chosen, performed[0].text))).items():
            spoken.setdefault(name, []).append(value)
    return ({k: np.asarray(v) for k, v in sung.items()}, {k: np.asarray(v) for k, v in spoken.items()})


def median(values: np.ndarray) -> float:
    """The median of the finite values (nan when there is none)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def distance(values: dict[str, float], real: dict[str, float], speech: dict[str, float]) -> float:
    """The mean of the normalised distances to the real singing and of the pitch term (see the module docstring)."""
    terms = [max(0.0, (values[k] - real[k]) / (speech[k] - real[k])) for k in DISTANCE_TERMS]
    terms = [t for t in [*terms, values["pitch_error"] / PITCH_SCALE] if np.isfinite(t)]
    return float(np.mean(terms)) if terms else float("inf")


def bootstrap_ranks(per_line: dict[str, dict[str, np.ndarray]], count: int, real: dict[str, float],
                    speech: dict[str, float], rounds: int = 500) -> dict[str, tuple[int, int]]:
    """Each voice's 5th-95th percentile rank when its ``count`` lines are resampled with replacement."""
    rng = np.random.default_rng(0)
    names = list(per_line)
    ranks = np.empty((rounds, len(names)), dtype=int)
    for r in range(rounds):
        pick = rng.integers(count, size=count)
        scores = [distance({k: median(v[pick]) for k, v in per_line[n].items()}, real, speech) for n in names]
        ranks[r] = np.argsort(np.argsort(scores)) + 1
    return {n: (int(np.percentile(ranks[:, i], 5)), int(np.percentile(ranks[:, i], 95)))
            for i, n in enumerate(names)}


def row(name: str, values: dict[str, float], columns: Iterable[str], *extra: str) -> str:
    """A markdown table row: ``name``, the formatted ``values`` of ``columns`` (blank where absent), ``extra``."""
    cells = [COLUMNS[k][1].format(values[k]) if k in values else "" for k in columns]
    return "| " + " | ".join([name, *cells, *extra]) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20, help="sung lines per voice (medians over these)")
    args = parser.parse_args()
    if args.lines < 2:
        parser.error(f"--lines must be at least 2, got {args.lines}")
    voices = voice.installed_voices()
    if not voices:
        parser.error("no speech synthesiser installed (scripts/setup.sh installs them)")
    print(describe_machine())
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        clip = ensure_real_clip(folder)
        real = descriptors(singing.analyse(clip.read("vocals").T, clip.sample_rate))
    lines = sung_lines(args.lines)
    sung, spoken = {}, {}
    for chosen in voices:
        sung[chosen.name], spoken[chosen.name] = measure_voice(chosen, lines)
    medians = {n: {k: median(v) for k, v in values.items()} for n, values in sung.items()}
    speech_medians = {n: {k: median(v) for k, v in values.items()} for n, values in spoken.items()}
    speech = {k: float(np.median([m[k] for m in speech_medians.values()])) for k in real}
    scores = {n: distance(m, real, speech) for n, m in medians.items()}
    spread = bootstrap_ranks(sung, len(lines), real, speech)
    weights = {v.name: v.weight for v in voices}
    print(f"{len(lines)} sung lines per voice (song seeds {lines[0].seed}-{lines[-1].seed}), "
          f"{time.perf_counter() - began:.0f} s")
    print("| sung by | " + " | ".join(h for h, _ in COLUMNS.values())
          + " | distance | rank (5-95%) | choose_voice weight |")
    print("|---|" + "---|" * (len(COLUMNS) + 3))
    print(row("real singing (stempeg vocals)", real, COLUMNS, "0", "", ""))
    print(row("speech (median of the voices)", speech, COLUMNS, "1", "", ""))
    for rank, name in enumerate(sorted(scores, key=scores.get), start=1):
        low, high = spread[name]
        print(row(name, medians[name], COLUMNS, f"{scores[name]:.2f}", f"{rank} ({low}-{high})",
                  f"{weights[name]:g}"))
    print()
    print("| spoken by | " + " | ".join(COLUMNS[k][0] for k in real) + " |")
    print("|---|" + "---|" * len(real))
    for name, values in speech_medians.items():
        print(row(name, values, real))


if __name__ == "__main__":
    main()
