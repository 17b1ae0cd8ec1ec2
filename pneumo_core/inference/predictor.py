"""Scoring radiographs with a shipped model: calibrated probability, label at a named or
numeric threshold, and warnings (input quality, out of distribution).

Every film passes the input gate first (`gate.decide`, one rule for the CLI, the app, the CSV
and the PDF): *not assessed* (a plain-picture check fired, the features are far outside the
training radiographs', or the orientation head could not tell which way up the film is: read,
so `error` stays null, but no probability or label, and a warning starting "not assessed:"
says why); *corrected* (turned by 90, 180 or 270 degrees, or a negative: scored upright, with
a warning that says what was done); *unusual* (`OODModel.flags`: scored, with `OOD_WARNING`).
A film that fails at any step after decoding gets `error` set, starting `FAILED_PREFIX` and
naming the step (`scoring_steps`); its batch is scored again film by film.
`Predictor(gate=False)` scores every film as given (evaluation measures the model itself).

With a site profile (`calibration.site`), the probability and the named thresholds are the
site's (`calibrate`, the one rule; `on_site` for a score the model made without one); one that
re-estimated normalisation (`adaptation`) scores with its own moments.

One `Predictor` is meant to be shared by every caller in a process (the app caches one
per model): forward passes and Grad-CAM calls on its model take `self.lock`, because
a CAM call hooks the model and a concurrent forward pass would feed those hooks.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import torch

from ..errors import PneumoError
from ..adaptation.profile import adapted_model
from ..calibration import calibrated
from ..data.preprocess import preprocess_batch, resize_square
from ..io.ingest import IngestError, Radiograph, read_source
from ..io.sandbox import load_untrusted
from ..models.bundle import ModelBundle, load_bundle
from ..models.fusion import fuse_for_inference
from ..stats.decision import call_label
from .gate import far_ood_limits, far_out_of_distribution
from .ood import IMAGE_CHECKS, ImageCheck, OODModel, image_check_reasons
from .orientation import OrientationHead, assess_batch
from .prediction import Prediction
from .scoring_steps import FAILED_PREFIX, OOD_WARNING, Prepared, StepFailed, failed_prediction, gated_predictions, step

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["Prediction", "Predictor", "ThresholdError", "OOD_WARNING", "FAILED_PREFIX"]

# Images per forward pass. Small batches stay in the CPU's caches: on 2 cores EfficientNet-Lite0
# scores about twice as many images per second in batches of 4 as in batches of 32.
FORWARD_BATCH = 4


class ThresholdError(PneumoError, ValueError):
    pass


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

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path | None = None, *, site: SiteProfile | str | Path | None = None,
                        device: str = "cpu", gate: bool = True) -> Predictor:
        """The one door: a shipped model by name (or a bundle folder) with its site, a profile
        or a profile's shipped name or path, resolved against that model's bundle."""
        bundle = load_bundle(name_or_dir)
        if site is not None and not hasattr(site, "check_model"):
            from ..calibration.site import resolve_profile
            site = resolve_profile(site, bundle.directory)
        return cls(bundle, device, site, gate)

    name = property(lambda self: self.bundle.name)
    spec = property(lambda self: self.bundle.spec)
    _site_name = property(lambda self: self.site.name if self.site is not None else None)

    @property
    def thresholds(self) -> dict[str, float]:
        """The named thresholds in force: the site profile's, else the model's own."""
        return dict(self.site.thresholds) if self.site is not None else self.bundle.thresholds

    def threshold(self, value: str | float | None = None) -> float:
        """'balanced' (default), 'screening', or a number in [0, 1]."""
        if value is None:
            value = self.site.default_threshold if self.site is not None else self.bundle.meta.default_threshold
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
        """Raw model logits -> the probabilities this predictor reports (`calibrate` after the temperature)."""
        return self.calibrate(np.asarray(raw_logits, dtype=np.float64) / self.bundle.temperature)

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Source-calibrated logits (`Prediction.logit`) -> the probabilities this predictor
        reports: the one rule of a site profile (its recalibration), else the source calibration."""
        x = np.asarray(logits, dtype=np.float64)
        return calibrated(x, 1.0) if self.site is None else self.site.probability(x)

    def on_site(self, pred: Prediction, threshold: str | float | None = None) -> Prediction:
        """A prediction of this predictor's network made under no profile or another (a cached
        score) as this predictor reports it, with no second pass: its logit through `calibrate`,
        the call at `threshold`. An adapted profile's network is its own: `ValueError` for a
        prediction the source network made."""
        if pred.site is None and self.site is not None and self.site.adaptation_digest:
            raise ValueError(f"{pred.file} was scored without profile {self._site_name}'s network: score it again")
        t = self.threshold(threshold)
        if pred.probability is None:  # no call to recalibrate
            return replace(pred, threshold=t, site=self._site_name)
        if pred.logit is None:
            raise ValueError(f"{pred.file} kept no logit to recalibrate: score it again")
        p = float(self.calibrate([pred.logit])[0])
        return replace(pred, probability=p, label=call_label(p, t), threshold=t, site=self._site_name)

    @torch.inference_mode()
    def _calibrated(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features (B, D) -> (probabilities, source-calibrated logits); probabilities are the
        site's when a profile is set."""
        with self.lock:
            logits = self.model.classify(torch.from_numpy(np.ascontiguousarray(features)).to(self.device)).squeeze(1)
        raw = logits.double().cpu().numpy()
        return self.probabilities(raw), raw / self.bundle.temperature

    def _ood_terms(self, source_features: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Source-network features (B, D) -> (OOD scores, OOD flags)."""
        if self.ood is None:
            return None, np.zeros(len(source_features), dtype=bool)
        return self.ood.score(source_features), self.ood.flags(source_features)

    def _score(self, images_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """Already-resized uint8 images (B,S,S) -> (probabilities, source-calibrated logits,
        features, OOD scores, OOD flags), the OOD terms on the source network's features."""
        f = self.features(images_u8)
        probs, x = self._calibrated(f)
        return (probs, x, f, *self._ood_terms(f if self.model is self.source_model else self._source_features(images_u8)))

    def predict_radiographs(self, images: list[Radiograph], names: list[str], threshold: str | float | None = None) -> list[Prediction]:
        """Decoded films -> one prediction each, in order; a film that fails at any step gets
        its own `error`, and the others are scored."""
        t = self.threshold(threshold)
        results: list[Prediction | None] = [None] * len(images)
        prepared: list[tuple[int, Prepared]] = []
        for i, r in enumerate(images):
            self._prepare_into(prepared, results, i, r, names[i], t)
        self._score_into(results, prepared, names, t)
        return results  # type: ignore[return-value]

    def _prepare_into(self, prepared: list[tuple[int, Prepared]], results: list[Prediction | None], i: int,
                      radiograph: Radiograph, name: str, threshold: float) -> None:
        """Film i prepared (its full-resolution pixels can go), or its own error line."""
        try:
            prepared.append((i, self._prepare(radiograph)))
        except Exception as exc:  # noqa: BLE001 - one film must not take the batch down
            results[i] = self._failed(name, threshold, "preparation", exc, list(getattr(radiograph, "warnings", [])))

    def _score_into(self, results: list[Prediction | None], prepared: list[tuple[int, Prepared]], names: list[str],
                    threshold: float) -> None:
        preds = self._predict_prepared([p for _, p in prepared], [names[i] for i, _ in prepared], threshold)
        for (i, _), pred in zip(prepared, preds):
            results[i] = pred

    def _prepare(self, radiograph: Radiograph) -> Prepared:
        """All a prediction needs from a decoded image, so the full-resolution pixels can go
        right after decoding: a batch then holds small images, however large the files."""
        return Prepared(resize_square(radiograph.pixels, self.spec.size), list(radiograph.warnings),
                        image_check_reasons(radiograph, self.ood_checks))

    def _predict_prepared(self, prepared: list[Prepared], names: list[str], threshold: float) -> list[Prediction]:
        """The batch in one pass; if any step fails, each film alone, so the one that fails
        gets its own `error` line (naming the step) and the others are scored."""
        if not prepared:
            return []
        try:
            return self._predict_batch(prepared, names, threshold)
        except StepFailed as failed:
            if len(prepared) == 1:
                return [self._failed(names[0], threshold, failed.step, failed.__cause__, prepared[0].warnings)]
        return [pred for i in range(len(prepared)) for pred in self._predict_prepared(prepared[i:i + 1], names[i:i + 1], threshold)]

    def _failed(self, name: str, threshold: float, step: str, exc: BaseException | None, warnings: list[str]) -> Prediction:
        return failed_prediction(name, threshold, step, exc, warnings, model=self.name, site=self._site_name)

    def _predict_batch(self, prepared: list[Prepared], names: list[str], threshold: float) -> list[Prediction]:
        with step("model"):
            images = np.stack([p.resized for p in prepared])
            gate = self._source_features(images)
        with step("orientation check"):
            assessments = (assess_batch(self.orientation, images, self._source_features, gate)
                           if self.orientation is not None else [None] * len(prepared))
            for i, a in enumerate(assessments):  # a corrected film is scored upright
                if a is not None and a.status == "corrected":
                    gate[i] = a.corrected_features
                    images[i] = a.corrected_pixels
        with step("model"):
            feats = gate if self.model is self.source_model else self.features(images)
            probs, x = self._calibrated(feats)
            if not (np.isfinite(probs).all() and np.isfinite(x).all()):
                raise FloatingPointError("a probability is not a number")
        with step("out-of-distribution check"):
            ood, flags = self._ood_terms(gate)
            far = far_out_of_distribution(self.ood, gate, self.far_limits)
        with step("input gate"):
            return gated_predictions(prepared, names, threshold, assessments, probs, x, feats, ood, flags, far,
                                     gate=self.gate, model=self.name, site=self._site_name)

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

    def _predict_chunk(self, chunk: list[tuple[bytes | str | Path, str]], threshold: float) -> list[Prediction]:
        results: list[Prediction | None] = [None] * len(chunk)
        prepared: list[tuple[int, Prepared]] = []
        digests: list[str | None] = [None] * len(chunk)
        for i, (src, name) in enumerate(chunk):
            try:
                data = read_source(src)  # read once, never past the size limit; hashed from memory
                digests[i] = hashlib.sha256(data).hexdigest()
                rad = load_untrusted(data, name=name)  # a worker process: hostile files
            except IngestError as exc:
                results[i] = Prediction(file=name, probability=None, label=None, threshold=threshold, model=self.name,
                                        error=str(exc), site=self._site_name)
                continue
            except Exception as exc:  # noqa: BLE001 - a failure to start or talk to a worker is this film's line
                results[i] = self._failed(name, threshold, "decoding", exc, [])
                continue
            del data
            self._prepare_into(prepared, results, i, rad, name, threshold)
            del rad  # the batch holds small images, however large the files
        self._score_into(results, prepared, [name for _, name in chunk], threshold)
        for pred, digest in zip(results, digests):
            pred.sha256 = digest  # type: ignore[union-attr]
        return results  # type: ignore[return-value]
