"""Render a dataset of songs: ``python -m render OUT_DIR [--tracks N] [--duration S] [--seed N] [--jobs N]``
(defaults: the embedded test set's 8 songs of 10 s, seed 2023; see ``render.store.main``)."""

import sys

from render.store import main

sys.exit(main())
