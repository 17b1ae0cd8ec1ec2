"""Training a model from the dataset: its settings (`config`) and the run itself (`train`:
patient-grouped split, epoch loop with early stopping, then the validation-fitted operating
point and out-of-distribution statistics written beside the weights)."""

__all__ = ["config", "train"]
