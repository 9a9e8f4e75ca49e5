"""The kit's one cache root (``.cache/`` in the repository) and the folders made inside it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CACHE_ROOT = Path(__file__).resolve().parents[1] / ".cache"


def cache_dir(*parts: str) -> Path:
    """A folder below the cache root: ``cache_dir("synthetic")`` is ``.cache/synthetic``."""
    return CACHE_ROOT.joinpath(*parts)


def sad_index_file(kind: str, root: str | os.PathLike) -> Path:
    """Where the source-activity index of the dataset in ``root`` is cached: ``.cache/sad/<kind>-<hash>.json``."""
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:12]
    return cache_dir("sad") / f"{kind}-{digest}.json"
