"""UIDs derived from what a result says, so the same result stored twice is one instance.

Every object this tool stores in a study (the PDF report, the structured report, the heatmap
image) gets its SOP Instance and Series UIDs from `2.25.` and 128 bits of a SHA-256 of the
study, the film it is about, the model and what it says (`ReportContent`), never from the
time: a resend asks the PACS for the same UID and finds it there. Each kind of object has its
own tag in the hash, so the report, the SR and the map of one film never share a UID.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["ReportContent", "derived_uid", "report_uids", "result_uids", "SR_KIND", "MAP_KIND"]

SR_KIND, MAP_KIND = b"sr", b"map"


@dataclass(frozen=True)
class ReportContent:
    """What a report says; two reports on the same film by the same model that say the same are one."""
    label: str
    probability: float
    threshold: float
    operating_point: str
    site: str = ""
    impression: str = ""
    reader: str = ""

    def digest(self) -> str:
        fields = dict(asdict(self), probability=round(float(self.probability), 6),
                      threshold=round(float(self.threshold), 6))
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def machine_part(self) -> ReportContent:
        """What the structured results say: the model's findings, without the reader's words
        (the SR and the map are the model's, the same whoever typed the impression)."""
        return ReportContent(self.label, self.probability, self.threshold, self.operating_point, self.site)


def derived_uid(kind: bytes, key: str) -> str:
    """`2.25.` and the first 128 bits of SHA-256(kind, key): at most 44 characters."""
    return "2.25." + str(int.from_bytes(hashlib.sha256(kind + b"\0" + key.encode()).digest()[:16], "big"))


def _key(study_uid: str, source_uid: str, model: str, content: ReportContent) -> str:
    return "\x1f".join((study_uid, source_uid, model, content.digest()))


def report_uids(study_uid: str, source_uid: str, model: str, content: ReportContent) -> tuple[str, str]:
    """(SOP Instance UID, Series Instance UID) of the PDF report: the same inputs, the same UIDs."""
    key = _key(study_uid, source_uid, model, content)
    return derived_uid(b"instance", key), derived_uid(b"series", key)


def result_uids(kind: bytes, study_uid: str, source_uid: str, model: str,
                content: ReportContent) -> tuple[str, str]:
    """(SOP Instance UID, Series Instance UID) of the structured report (`SR_KIND`) or the
    heatmap image (`MAP_KIND`) of a film; the reader's words are not part of them."""
    key = _key(study_uid, source_uid, model, content.machine_part())
    return derived_uid(kind + b"-instance", key), derived_uid(kind + b"-series", key)
