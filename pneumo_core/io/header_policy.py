"""What a DICOM header may say of a film the model is to read: one policy for an upload and an
instance from a PACS. The model reads frontal chest radiographs, so a header that names another
modality, body part or view withholds the call (the input gate says "not assessed" with this
reason); a missing value, common on CR, does not. A value is named in the reason only when it
is a DICOM code string (capitals, digits, space, underscore), which no person's name fits."""
from __future__ import annotations

import re

__all__ = ["RADIOGRAPH_MODALITIES", "CHEST_BODY_PARTS", "FRONTAL_VIEWS", "HEADER_PREFIX", "CODE_STRING", "header_reason"]

RADIOGRAPH_MODALITIES = ("CR", "DX", "DR", "RG")  # computed, digital, (retired) digital and conventional radiography
CHEST_BODY_PARTS = ("CHEST", "THORAX", "LUNG")
FRONTAL_VIEWS = ("PA", "AP")
HEADER_PREFIX = "DICOM header: "  # every reason below starts so (`inference.gate` codes it "dicom_header")
CODE_STRING = re.compile(r"[A-Z0-9_ ]{1,16}")  # the CS value representation: no names fit ("^" is not allowed)


def _named(value: str) -> str:
    return value if CODE_STRING.fullmatch(value) else "not a known code"


def header_reason(modality: str = "", body_part: str = "", view: str = "") -> str | None:
    """Why the header says this is not a frontal chest radiograph, or None when it may be one."""
    modality, body_part, view = (str(v or "").strip().upper() for v in (modality, body_part, view))
    if modality and modality not in RADIOGRAPH_MODALITIES:
        return f"{HEADER_PREFIX}modality is {_named(modality)}, not a radiograph ({', '.join(RADIOGRAPH_MODALITIES)})"
    if body_part and body_part not in CHEST_BODY_PARTS:
        return f"{HEADER_PREFIX}body part is {_named(body_part)}, not the chest"
    if view and view not in FRONTAL_VIEWS:
        return f"{HEADER_PREFIX}view is {_named(view)}, not frontal (PA/AP)"
    return None
