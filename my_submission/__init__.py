"""The submission the grader runs (``user_config.MySeparationModel``), its glue, and the tools around it."""
