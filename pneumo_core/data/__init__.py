"""The dataset and what the model is fed: the Kaggle folder layout, patient ids and
patient-grouped splits (`dataset`), training augmentation (`augment`), and the one
preprocessing contract every model, caller and heatmap shares (`preprocess`)."""

__all__ = ["dataset", "augment", "preprocess"]
