"""The evaluation screens: the test split under the chosen calibration (`eval_views`,
cached in `evaluation_view`), its figures, the per-class galleries (`widgets`) and the model
card (`model_card`, `training_card`)."""

__all__ = ["eval_views", "evaluation_view", "figures", "widgets", "model_card", "training_card"]
