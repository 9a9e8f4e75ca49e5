"""Validate ``aicrowd.json``, the file that tells the grader who submits and for which leaderboard.

    python -m tools.check_config [path/to/aicrowd.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CHALLENGE_ID = "music-demixing-track-mdx-23"
PLACEHOLDER_AUTHOR = "your-aicrowd-username"
FIELDS = {"challenge_id": str, "authors": list, "description": str, "gpu": bool, "labelnoise": bool,
          "bleeding": bool, "external_dataset_used": bool}
# (labelnoise, bleeding, external_dataset_used) -> leaderboard
LEADERBOARDS = {
    (True, False, False): "A (trained only on the label-noise set)",
    (False, True, False): "B (trained only on the bleeding set)",
    (False, False, True): "C (any data)",
}
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "aicrowd.json"


def check_config(config: object) -> list[str]:
    """Every problem with a parsed ``aicrowd.json`` (empty when it is valid)."""
    if not isinstance(config, dict):
        return [f"expected a JSON object, got {type(config).__name__}"]
    problems = [f"unknown field {k!r} (known: {', '.join(FIELDS)})" for k in config if k not in FIELDS]
    for name, kind in FIELDS.items():
        if name not in config:
            problems.append(f"missing field {name!r}")
        elif type(config[name]) is not kind:
            problems.append(f"{name!r} must be a {kind.__name__} (JSON {_json_type(kind)}), got {config[name]!r}")
    if problems:
        return problems
    if config["challenge_id"] != CHALLENGE_ID:
        problems.append(f"challenge_id must be {CHALLENGE_ID!r}, got {config['challenge_id']!r}")
    authors = config["authors"]
    if not authors or not all(isinstance(a, str) and a.strip() for a in authors):
        problems.append(f"authors must be a non-empty list of AIcrowd usernames, got {authors!r}")
    elif PLACEHOLDER_AUTHOR in authors:
        problems.append(f"authors still holds the placeholder {PLACEHOLDER_AUTHOR!r}: put your AIcrowd username")
    if not config["description"].strip():
        problems.append("description must not be empty")
    combo = (config["labelnoise"], config["bleeding"], config["external_dataset_used"])
    if combo not in LEADERBOARDS:
        known = "; ".join(f"labelnoise={a}, bleeding={b}, external_dataset_used={c}: leaderboard {name}"
                          for (a, b, c), name in LEADERBOARDS.items())
        problems.append(f"labelnoise={combo[0]}, bleeding={combo[1]}, external_dataset_used={combo[2]} is not a "
                        f"leaderboard's combination; use one of: {known}")
    return problems


def _json_type(kind: type) -> str:
    return {str: "string", list: "array", bool: "true/false"}[kind]


def leaderboard(config: dict) -> str:
    """The leaderboard a valid config enters (every submission also appears on C)."""
    return LEADERBOARDS[(config["labelnoise"], config["bleeding"], config["external_dataset_used"])]


def load_and_check(path: str | Path) -> tuple[dict | None, list[str]]:
    """Parse ``path`` and check it; problems are prefixed with the file name."""
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [f"{path}: file not found (the grader needs aicrowd.json at the repository root)"]
    except OSError as e:  # a folder, no permission
        return None, [f"{path}: cannot read it ({e.strerror or e})"]
    except UnicodeDecodeError as e:
        return None, [f"{path}: not UTF-8 text ({e.reason} at byte {e.start})"]
    except json.JSONDecodeError as e:
        return None, [f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"]
    return config, [f"{path}: {p}" for p in check_config(config)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.check_config", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH,
                        help="the file to check (default: aicrowd.json at the repository root)")
    path = parser.parse_args(argv).path
    config, problems = load_and_check(path)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{path}: valid; leaderboard {leaderboard(config)}; gpu={config['gpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
