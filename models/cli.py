"""How the kit's commands report a user's mistake: one line naming the file or argument, no traceback
(``--debug`` shows it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# what bad input raises: a missing or unreadable file, a wrong value (also omegaconf's and soundfile's errors,
# which subclass these)
USER_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def run_main(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None,
             errors: tuple[type[BaseException], ...] = USER_ERRORS) -> int:
    """``main(argv)``, with ``errors`` printed as ``prog: message`` (exit 1) unless ``--debug`` is in ``argv``."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return main(args)
    except errors as e:
        if "--debug" in args:
            raise
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
