"""`Settings`: what the sidebar chose (model, calibration, operating point, heatmap), handed
to every page. Its own module, importing nothing that draws, so the pages and the sidebar's
parts can all name it without importing each other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..runtime.formatting import calibration_label, probability_label

if TYPE_CHECKING:
    from ...calibration.site import SiteProfile

__all__ = ["Settings", "SOURCE"]

SOURCE = "source"  # the calibration option of the model's own, validation-fitted calibration


@dataclass(frozen=True)
class Settings:
    model: str
    operating_point: str  # a preset name (the model's, or the site profile's), or "custom"
    threshold: float
    method: str  # a key of saliency.METHODS
    opacity: float
    site: SiteProfile | None = field(default=None, compare=False, repr=False)  # None: calibrated on validation data
    calibration: str = SOURCE  # the sidebar option (see calibration_choice)

    @property
    def calibration_label(self) -> str:
        """"calibrated on validation data" / "calibrated for <site>"."""
        return calibration_label(self.site.name if self.site else None)

    @property
    def probability_label(self) -> str:
        """"P(pneumonia), calibrated on validation data" / "P(pneumonia), calibrated for <site>"."""
        return probability_label(self.site.name if self.site else None)

    @property
    def shipped_site(self) -> bool:
        return self.calibration.startswith("shipped:")
