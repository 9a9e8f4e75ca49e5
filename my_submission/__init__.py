"""What the grader runs, and nothing else: ``user_config.MySeparationModel``, its model classes and the grader's glue.

Developer tools (separate a file, smoke test, check ``aicrowd.json``, submit) live in ``tools/``.
"""
