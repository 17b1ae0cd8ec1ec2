"""Which instances of a study are frontal chest films, from the headers a search returns.

The model reads frontal chest radiographs only. A study also holds laterals, other body parts
and non-image objects (our own stored reports among them), so each instance is sorted before
anything is downloaded:
- not an image (Encapsulated PDF, structured report, presentation state...): skipped, it is not
  a film at all; nor is a Secondary Capture of modality OT ("other"), a derived picture such as
  the heatmap image this tool stores beside its report (`results_dicom`), which a rescore of
  the study would otherwise list as a film not assessed;
- an image whose header says another modality, another body part or a lateral view: *not
  assessed*, with the header's reason, like the input gate's withheld films;
- the rest (a missing ViewPosition or BodyPartExamined is common on CR and does not exclude a
  film): retrieved and scored, the input gate having the last word on what the pixels show.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..inference.gate import NOT_ASSESSED_PREFIX
from ..io.header_policy import header_reason
from .client import InstanceRef

__all__ = ["NON_IMAGE_SOP_CLASSES", "StudyPlan", "plan_study", "not_frontal_chest_reason"]

NON_IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.104.1": "an Encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.104.2": "an Encapsulated CDA",
    "1.2.840.10008.5.1.4.1.1.11.1": "a presentation state",
    "1.2.840.10008.5.1.4.1.1.66": "raw data",
    "1.2.840.10008.5.1.4.1.1.9.1.1": "a waveform",
}
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."  # structured reports
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _non_image(ref: InstanceRef) -> str | None:
    if ref.sop_class.startswith(_SR_PREFIX):
        return "a structured report"
    if ref.sop_class == _SECONDARY_CAPTURE and ref.modality == "OT":
        return "a derived picture (secondary capture, modality OT)"
    return NON_IMAGE_SOP_CLASSES.get(ref.sop_class)


def not_frontal_chest_reason(ref: InstanceRef) -> str | None:
    """Why the header says this image is not a frontal chest radiograph ("not assessed: ..."),
    or None when it may be one: the policy an upload's header meets too (`io.header_policy`)."""
    reason = header_reason(ref.modality, ref.body_part, ref.view_position)
    return None if reason is None else NOT_ASSESSED_PREFIX + reason


@dataclass(frozen=True)
class StudyPlan:
    """A study's instances sorted: `frontal` to retrieve and score, `other` images (with the
    reason they are not assessed), `skipped` non-image objects (with what they are)."""
    frontal: list[InstanceRef]
    other: list[tuple[InstanceRef, str]]
    skipped: list[tuple[InstanceRef, str]]

    @property
    def ordered(self) -> list[InstanceRef]:
        """Every image instance (frontal and other), in study order."""
        return sorted(self.frontal + [r for r, _ in self.other],
                      key=lambda r: (r.series_uid, r.number if r.number is not None else 0, r.sop_uid))


def plan_study(instances: list[InstanceRef]) -> StudyPlan:
    """Sorts a study's instances (see the module docstring)."""
    frontal, other, skipped = [], [], []
    for ref in instances:
        what = _non_image(ref)
        if what is not None:
            skipped.append((ref, what))
            continue
        reason = not_frontal_chest_reason(ref)
        if reason is None:
            frontal.append(ref)
        else:
            other.append((ref, reason))
    return StudyPlan(frontal, other, skipped)
