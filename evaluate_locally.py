"""Local evaluation (placeholder until the evaluation harness lands; see issue 3)."""

import sys

sys.exit("evaluate_locally.py: the evaluation harness (evaluator/) is not built yet; "
         "the models package is: run `python -m pytest` to check it.")
