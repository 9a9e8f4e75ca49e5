"""Developer tools around the submission: separate a file, smoke-test, check ``aicrowd.json``, submit."""
