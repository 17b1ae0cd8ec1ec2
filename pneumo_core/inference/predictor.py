"""Scoring radiographs with a shipped model: calibrated probability, label at a named or
numeric threshold, and warnings (input quality, out of distribution).

Every film passes the input gate first (`gate.decide`, one rule for the CLI, the app, the CSV
and the PDF):
- *not assessed*: a plain-picture check fired (`ood.IMAGE_CHECKS`: colour, posterised), the
  features are far outside the training radiographs' (`gate.far_out_of_distribution`), or the
  orientation head could not tell which way up the film is (`orientation.assess_batch`). The
  film was read, so `error` stays null, but `probability` and `label` are null and a warning
  starting "not assessed:" says why;
- a film turned by 90, 180 or 270 degrees, or saved as a negative, is corrected before it is
  scored, with a warning that says what was done;
- *unusual*: the features are unlike the training features (`OODModel.flags`: either term
  above its validation 99.5th percentile); scored, with `OOD_WARNING`.
`Predictor(gate=False)` scores every film as given (evaluation measures the model itself;
the gate is measured in `benchmarks/input_gate.py`).

With a site profile (`calibration.site`), the probability and the named thresholds are the
site's: a labelled profile recalibrates the same logit, so the ranking does not change; an
adapted one (`adaptation`) also brings its own normalisation moments, so the logit is the
adapted model's.

One `Predictor` is meant to be shared by every caller in a process (the app caches one
per model): forward passes and Grad-CAM calls on its model take `self.lock`, because
a CAM call hooks the model and a concurrent forward pass would feed those hooks.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import torch

from ..errors import PneumoError
from ..adaptation.profile import adapted_model
from ..calibration import calibrated
from ..data.preprocess import preprocess_batch, resize_square
from ..io.ingest import IngestError, Radiograph
from ..io.sandbox import load_untrusted
from ..models.bundle import ModelBundle, load_bundle
from ..models.fusion import fuse_for_inference
from ..stats.decision import call_label
from .gate import GateDecision, Tier, decide, far_ood_limits, far_out_of_distribution
from .ood import IMAGE_CHECKS, ImageCheck, OODModel, image_check_reasons
from .orientation import OrientationHead, assess_batch
from .prediction import Prediction

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["Prediction", "Predictor", "ThresholdError", "OOD_WARNING"]

# Images per forward pass. Small batches stay in the CPU's caches: on 2 cores EfficientNet-Lite0
# scores about twice as many images per second in batches of 4 as in batches of 32.
FORWARD_BATCH = 4

OOD_WARNING = "out of distribution: unlike the training radiographs; treat the probability with caution"


class ThresholdError(PneumoError, ValueError):
    pass


@dataclass
class _Prepared:
    resized: np.ndarray       # uint8 at the model's input size
    warnings: list[str]       # from decoding
    check_reasons: list[str]  # from ood.IMAGE_CHECKS, measured on the full image


class Predictor:
    def __init__(self, bundle: ModelBundle | str | Path | None = None, device: str = "cpu",
                 site: SiteProfile | None = None, gate: bool = True) -> None:
        self.bundle = bundle if isinstance(bundle, ModelBundle) else load_bundle(bundle)
        if site is not None:
            site.check_model(self.bundle.name, self.bundle.meta.model_sha256)
        self.site = site
        self.device = torch.device(device)
        # the input gate and the OOD score read the source network (they were fitted on its
        # features; whether a film can be read does not depend on the site); an adapted profile
        # scores with its own normalisation moments (adaptation.profile), a second network
        self.source_model = fuse_for_inference(self.bundle.model).to(self.device)
        adapted = site is not None and bool(site.adaptation_digest)
        self.model = (fuse_for_inference(adapted_model(self.bundle.model, site)).to(self.device) if adapted
                      else self.source_model)
        for p in self.model.parameters():
            p.requires_grad_(False)  # inference and Grad-CAM never need parameter gradients
        ood_path = self.bundle.directory / "ood.npz"
        self.ood = OODModel.load(ood_path) if ood_path.is_file() else None
        self.ood_checks: tuple[ImageCheck, ...] = IMAGE_CHECKS
        # the input gate (`gate`): withhold the call on what cannot be read, correct a turned or
        # inverted film; evaluation turns it off to measure the model on every film as given
        self.gate = gate
        self.orientation = OrientationHead.load(self.bundle.directory) if gate else None
        self.far_limits = far_ood_limits(self.bundle.directory) if gate else None
        self.lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def _site_name(self) -> str | None:
        return self.site.name if self.site is not None else None

    @property
    def spec(self):
        return self.bundle.spec

    @property
    def thresholds(self) -> dict[str, float]:
        """The named thresholds in force: the site profile's, else the model's own."""
        return dict(self.site.thresholds) if self.site is not None else self.bundle.thresholds

    def threshold(self, value: str | float | None = None) -> float:
        """'balanced' (default), 'screening', or a number in [0, 1]."""
        if value is None:
            value = (self.site.default_threshold if self.site is not None
                     else self.bundle.meta.default_threshold)
        if isinstance(value, str) and value in self.thresholds:
            return self.thresholds[value]
        try:
            t = float(value)
        except (TypeError, ValueError):
            raise ThresholdError(f"threshold must be {', '.join(self.thresholds)} or a number in [0, 1], not {value!r}") from None
        if not 0.0 <= t <= 1.0:
            raise ThresholdError(f"threshold must be within [0, 1], not {t}")
        return t

    def label(self, probability: float, threshold: float) -> str:
        return call_label(probability, threshold)

    @torch.inference_mode()
    def features(self, images_u8: np.ndarray, source: bool = False) -> np.ndarray:
        """Penultimate features (B, D) of already-resized uint8 images (B, S, S): the scoring
        network's, or with `source` the source network's (the same one without an adapted profile)."""
        model = self.source_model if source else self.model
        x = preprocess_batch(images_u8, self.spec).to(self.device).contiguous(memory_format=torch.channels_last)
        out = []
        for i in range(0, len(x), FORWARD_BATCH):
            with self.lock:
                out.append(model.features(x[i:i + FORWARD_BATCH]).float().cpu().numpy())
        return np.concatenate(out)

    def _source_features(self, images_u8: np.ndarray) -> np.ndarray:
        return self.features(images_u8, source=True)

    def probabilities(self, raw_logits: np.ndarray) -> np.ndarray:
        """Raw model logits -> the probabilities this predictor reports: the source
        calibration (temperature), then the site profile's recalibration when one is set."""
        x = np.asarray(raw_logits, dtype=np.float64) / self.bundle.temperature
        return calibrated(x, 1.0) if self.site is None else self.site.probability(x)

    @torch.inference_mode()
    def _from_features(self, f: np.ndarray, gate_features: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """Features (B, D) -> (probabilities, source-calibrated logits, OOD scores, OOD flags);
        probabilities are the site's when a profile is set. The OOD terms are measured on
        `gate_features` (the source network's), when they differ from `f`."""
        g = f if gate_features is None else gate_features
        with self.lock:
            logits = self.model.classify(torch.from_numpy(np.ascontiguousarray(f)).to(self.device)).squeeze(1)
        raw = logits.double().cpu().numpy()
        x, probs = raw / self.bundle.temperature, self.probabilities(raw)
        if self.ood is None:
            return probs, x, None, np.zeros(len(probs), dtype=bool)
        return probs, x, self.ood.score(g), self.ood.flags(g)

    def _score(self, images_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """Already-resized uint8 images (B,S,S) -> (probabilities, source-calibrated logits,
        features, OOD scores, OOD flags)."""
        f = self.features(images_u8)
        gate = f if self.model is self.source_model else self._source_features(images_u8)
        probs, x, score, flags = self._from_features(f, gate)
        return probs, x, f, score, flags

    def predict_radiographs(self, images: list[Radiograph], names: list[str], threshold: str | float | None = None) -> list[Prediction]:
        return self._predict_prepared([self._prepare(r) for r in images], names, self.threshold(threshold))

    def _prepare(self, r: Radiograph) -> _Prepared:
        """All a prediction needs from a decoded image, so the full-resolution pixels can go
        right after decoding: a batch then holds small images, however large the files."""
        return _Prepared(resize_square(r.pixels, self.spec.size), list(r.warnings), image_check_reasons(r, self.ood_checks))

    def _predict_prepared(self, prepared: list[_Prepared], names: list[str], t: float) -> list[Prediction]:
        if not prepared:
            return []
        images = np.stack([p.resized for p in prepared])
        gate = self._source_features(images)
        assessments = (assess_batch(self.orientation, images, self._source_features, gate)
                       if self.orientation is not None else [None] * len(prepared))
        for i, a in enumerate(assessments):  # a corrected film is scored upright
            if a is not None and a.status == "corrected":
                gate[i] = a.corrected_features
                images[i] = a.corrected_pixels
        feats = gate if self.model is self.source_model else self.features(images)
        probs, x, ood, flags = self._from_features(feats, gate)
        far = far_out_of_distribution(self.ood, gate, self.far_limits)
        site = self._site_name
        out = []
        for i, (prep, name) in enumerate(zip(prepared, names)):
            a = assessments[i]
            scored = a.corrected_pixels if a is not None and a.status == "corrected" else prep.resized
            score = float(ood[i]) if ood is not None else None
            if not self.gate:  # evaluation: every film scored as given; plain-picture checks only warn
                decision = GateDecision(Tier.UNUSUAL if flags[i] or prep.check_reasons else Tier.OK)
            else:
                decision = decide(prep.check_reasons, bool(far[i]), assessments[i], bool(flags[i]))
            warnings = prep.warnings + list(decision.warnings)
            if decision.withheld:  # read, but not a film we can call: no probability, no label
                out.append(Prediction(name, None, None, t, self.name, warnings, None, score, site, model_input=scored,
                                      reasons=decision.reasons))
                continue
            unusual = decision.tier is Tier.UNUSUAL
            if unusual:  # the warning, plus check reasons not already said
                warnings += [OOD_WARNING] + [w for w in prep.check_reasons if w not in warnings]
            p = float(probs[i])
            out.append(Prediction(name, p, self.label(p, t), t, self.name, warnings, None, score, site, float(x[i]),
                                  feats[i], scored, correction=decision.correction, out_of_distribution=unusual))
        return out

    def predict_bytes(self, data: bytes, name: str, threshold: str | float | None = None) -> Prediction:
        """One uploaded file; never raises for a bad file, reports it in `error`."""
        return next(self.predict_sources([(data, name)], threshold))

    def predict_sources(self, sources: Iterable[tuple[bytes | str | Path, str]], threshold: str | float | None = None,
                        batch_size: int = 32) -> Iterator[Prediction]:
        """(source, display name) pairs -> predictions in input order, in bounded batches. Each
        file is decoded in a worker process (`io.sandbox`), so one hostile file is one error
        line and the rest of the batch is scored."""
        t = self.threshold(threshold)
        chunk: list[tuple[bytes | str | Path, str]] = []
        for src in sources:
            chunk.append(src)
            if len(chunk) == batch_size:
                yield from self._predict_chunk(chunk, t)
                chunk = []
        if chunk:
            yield from self._predict_chunk(chunk, t)

    def _predict_chunk(self, chunk: list[tuple[bytes | str | Path, str]], t: float) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(chunk)
        good, good_idx = [], []
        for i, (src, name) in enumerate(chunk):
            try:
                good.append(self._prepare(load_untrusted(src, name=name)))  # a worker process: hostile files
                good_idx.append(i)
            except IngestError as exc:
                results[i] = Prediction(name, None, None, t, self.name, [], str(exc), site=self._site_name)
            except OSError as exc:  # missing or unreadable path
                results[i] = Prediction(name, None, None, t, self.name, [], f"cannot open file: {exc.strerror or exc}",
                                        site=self._site_name)
        for i, pred in zip(good_idx, self._predict_prepared(good, [chunk[i][1] for i in good_idx], t)):
            results[i] = pred
        return results  # type: ignore[return-value]
