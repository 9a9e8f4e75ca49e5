"""Realistic multitrack songs made on this machine: the kit's data source when no real dataset is at hand.

- ``render.score``: the arrangement (genre, tempo, key, chords, sections, every part's notes);
- ``render.instruments``: recorded-sample instruments (FluidSynth + SoundFont banks);
- ``render.drumkits``: recorded drum kits (Hydrogen's multi-sampled kits, played by a small sampler);
- ``render.voice``: sung and rapped vocals from speech synthesis, pitched and timed with the WORLD vocoder;
- ``render.production``: effects, stem levels and a bus limiter that keeps mixture = sum of stems;
- ``render.song``: ``render_song(seed, duration)`` puts them together (pure: returns arrays);
- ``render.store``: datasets on disk in the MUSDB18-HQ layout (atomic, resumable, manifest), and the CLI
  ``python -m render OUT_DIR --tracks N --duration S --seed K --jobs J``.
"""

from render.song import render_song
from render.store import DEFAULT_TEST_SET, ensure_dataset, track_seed, write_dataset, write_track

__all__ = ["DEFAULT_TEST_SET", "ensure_dataset", "render_song", "track_seed", "write_dataset", "write_track"]
