"""How a calibration and a probability are said: every page, table, CSV and report says them
the same way, so a reader never mistakes a site's probability for the source's, nor reads
"1.0000" on paper where the screen says "> 99.9%". A site's name comes from a file
anyone can upload, so it is printed only through `site_name`."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..stats.display import format_probability

if TYPE_CHECKING:
    from ..calibration.site import SiteProfile

__all__ = ["SOURCE_CALIBRATION", "site_name", "calibration_label", "calibration_detail", "calibration_clause",
           "format_probability"]

SOURCE_CALIBRATION = "calibrated on validation data"
_NAME_UNSAFE = re.compile(r"[^\w .'-]|_")


def site_name(name: str, max_len: int = 60) -> str:
    """A site profile's name as printed mid-sentence in markdown, metric labels, CSV and PDF:
    only letters, digits, spaces and . ' - are kept, which is safe in all of them."""
    return _NAME_UNSAFE.sub("-", " ".join(str(name).split()))[:max_len].strip() or "unnamed site"


def calibration_label(site: str | None) -> str:
    """What a probability is calibrated on, in plain words."""
    return SOURCE_CALIBRATION if site is None else f"calibrated for {site_name(site)}"


def calibration_detail(site: SiteProfile | None, temperature: float) -> str:
    """One sentence for the case report: what the probability and the thresholds come from."""
    if site is None:
        return (f"temperature scaling (T = {temperature:.3f}) fitted on the model's validation data, from its "
                "training centre; the thresholds were chosen on the same validation data")
    c, parts = site.counts, []
    if site.adaptation:
        a = site.adaptation
        how = "normalisation re-estimated" if a.get("layers") else "the network unchanged, the threshold moved"
        parts.append(f"the model adapted without labels to {a['films']} films of {site_name(site.name)} ({how}, "
                     f"prevalence estimated at {a['estimated_prevalence']:.0%})")
    if site.labelled:
        parts.append(f"recalibrated on {sum(c.values())} labelled films of {site_name(site.name)} "
                     f"({c.get('NORMAL', 0)} NORMAL, {c.get('PNEUMONIA', 0)} PNEUMONIA); the thresholds are the site's")
    else:
        parts.append("the thresholds are the model's own, moved with the probability to that prevalence")
    return "; ".join(parts)



def calibration_clause(site: SiteProfile) -> str:
    """How a profile calibrates the probability, mid-sentence ("Probabilities are ..."): what it
    was fitted on (labels, or a label-free adaptation), for the app's banner and the PDF alike."""
    parts = []
    if site.adaptation:
        parts.append(f"adapted to {site_name(site.name)} without labels, from {site.adaptation.get('films', 0)} of its "
                     "unlabelled films" + ("" if site.labelled else " (no accuracy measured there)"))
    if site.labelled:
        parts.append(f"recalibrated for {site_name(site.name)} on a small labelled sample from that site")
    return ", then ".join(parts or [f"calibrated for {site_name(site.name)}"])
