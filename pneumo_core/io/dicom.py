"""DICOM through pydicom: stored values -> modality LUT -> the file's own VOI window ->
bone white, float32 in [0, 1]. Only grey (MONOCHROME1/2) images are read; errors never quote
element values, which may identify the patient. The identifying fields the reader needs on
screen come back apart from the metadata (`identity.FilmIdentity`)."""
from __future__ import annotations

import io
import re

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .codestream import check_codestream
from .header_policy import CODE_STRING, header_reason
from .identity import FilmIdentity, read_identity
from .limits import IngestError, check_finite, check_pixel_count, min_max

__all__ = ["decode_dicom"]

_DICOM_METADATA = ("Modality", "ViewPosition", "BodyPartExamined",
                   "PhotometricInterpretation", "Rows", "Columns")  # nothing identifying
_COLOUR_PHOTOMETRIC = {"RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"}
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def decode_dicom(data: bytes, warnings: list[str], force: bool
                 ) -> tuple[np.ndarray, dict[str, str], FilmIdentity | None]:
    """Stored values -> modality LUT -> VOI (the file's own window) -> bone white, [0, 1];
    with the non-identifying metadata and, apart, the identifying fields (None: none given)."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=force)
    except MemoryError:  # a deflated dataset inflates whole: a zlib bomb is a memory error, not damage
        raise
    except Exception:  # noqa: BLE001 - parser messages may quote element values
        raise IngestError("not a readable DICOM file (damaged or truncated header)") from None
    if force:
        if "SOPClassUID" not in ds and "PixelData" not in ds:
            raise IngestError("not an image: unrecognised file type")
        if "TransferSyntaxUID" not in ds.file_meta:  # bare dataset: use how it was encoded
            implicit, little = ds.original_encoding
            ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit
                                              else ExplicitVRBigEndian if little is False
                                              else ExplicitVRLittleEndian)
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise IngestError("DICOM file has no pixel data (a report, a listing, or a truncated file)")
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if photometric in _COLOUR_PHOTOMETRIC:  # a known term only: the element is free text in a crafted file
            raise IngestError(f"colour DICOM ({photometric}) is not supported; radiographs are grayscale")
        if samples != 1:
            raise IngestError(f"colour DICOM ({samples} samples per pixel) is not supported; "
                              "radiographs are grayscale")
        raise IngestError("unsupported DICOM photometric interpretation; expected MONOCHROME1 or MONOCHROME2")
    if "Rows" not in ds or "Columns" not in ds:
        raise IngestError("DICOM image has no Rows/Columns")
    check_pixel_count(int(ds.Columns), int(ds.Rows))
    check_codestream(ds.file_meta.get("TransferSyntaxUID"), int(ds.Rows), int(ds.Columns), samples, ds.get("PixelData"))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        warnings.append(f"DICOM has {frames} frames; only the first is used")
    reason = header_reason(str(ds.get("Modality", "")), str(ds.get("BodyPartExamined", "")),
                           str(ds.get("ViewPosition", "")))
    if reason is not None:  # the input gate withholds the call for it (`inference.ood.header_check`)
        warnings.append(reason)
    try:
        arr = pydicom.pixels.pixel_array(ds, index=0)  # decodes the first frame only
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001
        raise IngestError(_pixel_error(ds.file_meta.get("TransferSyntaxUID"))) from None
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing rescale is refused just below
        arr = apply_modality_lut(arr, ds)
    check_finite(arr)  # Float Pixel Data may hold NaN or infinity; a rescale may overflow to it
    voi_range = _voi_output_range(ds)
    arr = apply_voi_lut(arr, ds)
    pixels = min_max(arr) if voi_range is None else _to_unit(arr, *voi_range)
    if _inverse(ds, photometric):  # after VOI, so the window is read as the file meant it
        pixels = 1.0 - pixels
    return np.ascontiguousarray(pixels, dtype=np.float32), _metadata(ds), read_identity(ds)


def _inverse(ds: pydicom.Dataset, photometric: str) -> bool:
    """Whether the film is shown inverted, once: a Presentation LUT Shape of INVERSE says so
    (PS3.3 C.11.6), and a MONOCHROME1 film is shown that way whether or not it says INVERSE
    too (the DX module pairs the two). A film stored as a negative under INVERSE is then read
    upright, with no correction for the polarity check to make."""
    return photometric == "MONOCHROME1" or str(ds.get("PresentationLUTShape", "")).strip().upper() == "INVERSE"


def _metadata(ds: pydicom.Dataset) -> dict[str, str]:
    """The non-identifying fields, each only when it is a valid code string or number (a
    crafted file can put a name in any element), and the instance UID when it is one."""
    out = {}
    for k in _DICOM_METADATA:
        value = ds.get(k)
        text = str(value).strip() if value is not None else ""
        if isinstance(value, int) or CODE_STRING.fullmatch(text):
            out[k] = text
    uid = str(ds.get("SOPInstanceUID", "")).strip()
    if len(uid) <= 64 and _UID.fullmatch(uid):
        out["SOPInstanceUID"] = uid
    return out


def _pixel_error(ts: UID | None) -> str:
    """In our words: the transfer syntax's UID is never quoted (a crafted file can put any
    text there); a registered syntax is named by pydicom's own dictionary."""
    try:
        compressed = ts is not None and ts.is_compressed
        name = ts.name if compressed and ts.is_private is False and ts.name != str(ts) else None
    except (ValueError, AttributeError):  # not a transfer syntax pydicom knows
        return "unsupported compression: the DICOM's pixel data is in a format we cannot read"
    if compressed:
        return f"cannot decode DICOM compressed as {name}" if name else "unsupported compression"
    return "cannot read DICOM pixel data (damaged or incomplete file)"


def _voi_output_range(ds: pydicom.Dataset) -> tuple[float, float] | None:
    """Output range of the VOI transform pydicom will apply (None: the file has none).

    Scaling by this range rather than the image's min-max keeps the contrast the
    window intends: a window wider than the data is not stretched.
    """
    seq = ds.get("VOILUTSequence")
    if seq and seq[0].get("LUTDescriptor") is not None and seq[0].get("LUTData") is not None:
        entries, first = seq[0].LUTDescriptor[0] or 65536, seq[0].LUTDescriptor[1]
        probe = np.arange(first, first + entries)  # every LUT input -> every output
    elif ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        probe = np.array([-1e30, 1e30])  # far below / above the window
    else:
        return None
    with np.errstate(over="ignore"):
        out = apply_voi_lut(probe, ds)
    return float(out.min()), float(out.max())


def _to_unit(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if not hi > lo:
        return min_max(arr)
    return np.clip((np.asarray(arr, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)
