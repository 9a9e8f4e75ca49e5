"""The model the grader runs: ``MySeparationModel`` is constructed once, with no arguments."""

from my_submission.bsrnn_model import BSRNNModel

MySeparationModel = BSRNNModel
