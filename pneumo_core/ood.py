"""Out-of-distribution score: Mahalanobis distance of the model's penultimate features
to the training features (Lee et al. 2018), in a PCA subspace so the stored statistics
stay small. The flag threshold is the 99th percentile of validation scores, so about
1% of in-distribution images are flagged by construction."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["OODModel", "fit_ood"]


@dataclass
class OODModel:
    mean: np.ndarray        # (D,)
    components: np.ndarray  # (K, D): PCA basis
    inv_var: np.ndarray     # (K,): 1 / variance along each component
    residual_scale: float   # mean squared norm of the training residual outside the subspace
    threshold: float        # flag when score > threshold

    def score(self, features: np.ndarray) -> np.ndarray:
        """Root-mean Mahalanobis term inside the subspace plus the residual outside it,
        so features that leave the training subspace altogether are caught too."""
        x = np.asarray(features, dtype=np.float64) - self.mean
        z = x @ self.components.T
        residual = ((x - z @ self.components) ** 2).sum(axis=1) / self.residual_scale
        return np.sqrt(((z * z * self.inv_var).sum(axis=1) + residual) / (len(self.inv_var) + 1))

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, mean=self.mean.astype(np.float32), components=self.components.astype(np.float32),
                            inv_var=self.inv_var.astype(np.float32),
                            residual_scale=np.float64(self.residual_scale), threshold=np.float64(self.threshold))

    @classmethod
    def load(cls, path: str | Path) -> "OODModel":
        with np.load(path) as z:
            return cls(z["mean"].astype(np.float64), z["components"].astype(np.float64),
                       z["inv_var"].astype(np.float64), float(z["residual_scale"]), float(z["threshold"]))


def fit_ood(train_features: np.ndarray, val_features: np.ndarray, n_components: int = 64,
            quantile: float = 0.99) -> OODModel:
    x = np.asarray(train_features, dtype=np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    var = (s[:k] ** 2) / max(len(x) - 1, 1) + 1e-6 * (s[0] ** 2) / max(len(x) - 1, 1)
    resid = (x - mean) - ((x - mean) @ vt[:k].T) @ vt[:k]
    residual_scale = float((resid ** 2).sum(axis=1).mean()) + 1e-12
    model = OODModel(mean, vt[:k], 1.0 / var, residual_scale, threshold=np.inf)
    model.threshold = float(np.quantile(model.score(val_features), quantile))
    return model
