"""Training a model from the dataset: its settings (`config`), the loop's moving parts
(`loop`: resumable run state, one epoch, early stopping) and the run itself (`train`:
patient-grouped split, then the validation-fitted operating point and out-of-distribution
statistics written beside the weights); `maintenance` rewrites part of a finished model's
files, `orientation` fits the input gate's orientation head, `run_summary` reads what a finished
run measured."""

__all__ = ["config", "loop", "train", "maintenance", "orientation", "run_summary"]
