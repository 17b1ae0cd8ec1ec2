"""Decode whatever a user or a folder hands us into one grayscale radiograph.

Every path into the product (training, evaluation, CLI, app) goes through `load`, so
an image is decoded the same way everywhere. Failures raise `IngestError` with a
one-line reason a clinician can read; it never echoes file names or DICOM values,
because either may carry patient identity. Nothing is written to disk and no PIL
or pydicom global setting is changed (the app decodes in several threads).
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .scan import DICOM_SUFFIXES

__all__ = ["IngestError", "Radiograph", "colour_saturation", "load", "COLOUR_WARNING", "BLANK_WARNING"]

# --- limits and thresholds ---------------------------------------------------------
MAX_FILE_BYTES = 256 * 2**20  # a 50 MP 16-bit DICOM is ~100 MB; more is not one radiograph
MAX_PIXELS = 50_000_000  # refuse larger images from the header, before decoding (bombs)
MIN_SIDE = 64  # below this there is nothing for the model to look at
MAX_ASPECT = 3.0  # long/short side above this: warn, it is probably not a chest film
COLOUR_WARN_LEVEL = 0.05  # mean chroma (0..1); JPEG noise on grey images stays < 0.01
COLOUR_WARNING = "image has colour; radiographs are grayscale"
BLANK_WARNING = "image is blank (a single grey level)"

_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")  # no EPS/PDF-style plugins
_DICOM_METADATA = ("Modality", "ViewPosition", "BodyPartExamined",
                   "PhotometricInterpretation", "Rows", "Columns")  # nothing identifying
_RADIOGRAPH_MODALITIES = {"CR", "DX", "DR", "RG", "OT"}
_NOT_IMAGES = (  # (offset, magic, message): only used to word the error
    (0, b"%PDF", "not an image: looks like a PDF document"),
    (0, b"PK\x03\x04", "not an image: looks like a ZIP archive or Office document"),
    (0, b"\xd0\xcf\x11\xe0", "not an image: looks like an old Office document"),
    (0, b"\x1f\x8b", "not an image: looks like a gzip archive"),
    (0, b"\x7fELF", "not an image: looks like a program"),
    (0, b"MZ", "not an image: looks like a Windows program"),
    (4, b"ftypheic", "unsupported image format: HEIC photo; export it as JPEG or PNG"),
    (4, b"ftypavif", "unsupported image format: AVIF; export it as JPEG or PNG"),
    (4, b"ftyp", "not an image: looks like a video"),
    (0, b"GIF8", "unsupported image format: GIF; save it as PNG or JPEG"),
)


class IngestError(ValueError):
    """The input cannot be turned into a radiograph; the message is one line."""


@dataclass
class Radiograph:
    pixels: np.ndarray  # float32, HxW, in [0, 1], bone bright
    source_format: str  # "JPEG", "PNG", "DICOM", ...
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # non-identifying fields only
    colour_saturation: float = 0.0  # measured before the grey conversion; 0.0 for grey sources


def load(source: bytes | str | Path, name: str | None = None) -> Radiograph:
    """Decode `source` (file contents, or a path) into a Radiograph.

    `name` is only a hint (a `.dcm` suffix allows DICOM without its 128-byte preamble);
    it is never opened, so bytes from an upload cannot reach the file system.
    """
    data = _read_source(source)
    warnings: list[str] = []
    metadata: dict[str, str] = {}
    measured: dict[str, float] = {}  # facts lost in the grey conversion, kept for the OOD checks
    try:
        if data[128:132] == b"DICM":
            fmt, pixels, metadata = "DICOM", *_decode_dicom(data, warnings, force=False)
        else:
            fmt, pixels = _decode_pil(data, warnings, measured)
            if pixels is None:  # PIL does not know it: DICOM without preamble, or junk
                _raise_if_known_non_image(data)
                if not (data[:2] in (b"\x02\x00", b"\x08\x00")
                        or (name or "").lower().endswith(DICOM_SUFFIXES)):
                    raise IngestError("not an image: unrecognised file type")
                fmt, pixels, metadata = "DICOM", *_decode_dicom(data, warnings, force=True)
    except IngestError:
        raise
    except MemoryError:
        raise IngestError("not enough memory to decode this image") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input
        raise IngestError(f"cannot decode image ({type(exc).__name__})") from exc
    _check_geometry(pixels, warnings)
    return Radiograph(pixels=pixels, source_format=fmt, warnings=warnings, metadata=metadata,
                      colour_saturation=measured.get("colour_saturation", 0.0))


def colour_saturation(rgb: np.ndarray) -> float:
    """Mean chroma (max minus min channel) of an RGB(A) array, 0 (grey) .. 1.

    Shared with the OOD checks so "is this a colour picture?" means one thing.
    uint8/uint16 are scaled by their type, floats are taken as 0..1, alpha is
    ignored, 2-D input is grey (0.0); big arrays are subsampled to ~1 MP.
    """
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] < 3 or a.size == 0:
        return 0.0
    step = max(1, int(np.sqrt(a.shape[0] * a.shape[1] / 1e6)))
    a = a[::step, ::step, :3]
    scale = float(np.iinfo(a.dtype).max) if np.issubdtype(a.dtype, np.integer) else 1.0
    chroma = a.max(axis=2).astype(np.float32) - a.min(axis=2).astype(np.float32)
    return float(chroma.mean() / scale)


# --- reading -----------------------------------------------------------------------
def _read_source(source: bytes | bytearray | memoryview | str | Path) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            if path.exists() and not path.is_file():  # devices and pipes report size 0 and never end
                raise IngestError("not a regular file")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise IngestError(f"file too large (limit is {MAX_FILE_BYTES // 2**20} MB)")
            data = path.read_bytes()
        except OSError as exc:  # the path itself is not repeated: it may name the patient
            raise IngestError(f"cannot read file ({type(exc).__name__})") from None
    if not data:
        raise IngestError("empty file (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"file too large (limit is {MAX_FILE_BYTES // 2**20} MB)")
    return data


def _raise_if_known_non_image(data: bytes) -> None:
    """Name what the file is, so the user knows they picked the wrong one."""
    for offset, magic, message in _NOT_IMAGES:
        if data[offset:offset + len(magic)] == magic:
            raise IngestError(message)
    head = data[:2048]
    if not any(b < 9 or 13 < b < 32 for b in head):  # no control bytes: text
        low = head.lstrip().lower()
        what = ("an SVG drawing" if b"<svg" in low else
                "a web page (HTML)" if low.startswith((b"<!doctype html", b"<html")) else
                "a text file")
        raise IngestError(f"not an image: looks like {what}")


def _check_pixel_count(width: int, height: int) -> None:
    """Refuse oversized images from their header, before any pixel is decoded."""
    if width * height > MAX_PIXELS:
        raise IngestError(f"image too large ({width}x{height} px; limit is "
                          f"{MAX_PIXELS // 1_000_000} megapixels)")


def _check_geometry(pixels: np.ndarray, warnings: list[str]) -> None:
    h, w = pixels.shape
    if min(h, w) < MIN_SIDE:
        raise IngestError(f"image too small to judge ({w}x{h}; need at least {MIN_SIDE} px a side)")
    if max(h, w) / min(h, w) > MAX_ASPECT:
        warnings.append(f"unusual shape ({w}x{h}); a chest radiograph is roughly square")
    if float(pixels.max() - pixels.min()) < 1 / 255:
        warnings.append(BLANK_WARNING)


# --- PNG / JPEG / TIFF / ... via Pillow -------------------------------------------------
def _decode_pil(data: bytes, warnings: list[str], measured: dict[str, float] | None = None
                ) -> tuple[str, np.ndarray | None]:
    """Decode with Pillow; (format, None) when Pillow does not recognise the bytes."""
    try:
        im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except UnidentifiedImageError:
        return "", None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IngestError(f"image too large (limit is {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Exception as exc:  # noqa: BLE001 - header parse errors of any kind
        raise IngestError(f"image file is truncated or damaged ({_first_line(exc)})") from exc
    with im:
        fmt = "JPEG" if im.format == "MPO" else (im.format or "image")
        _check_pixel_count(*im.size)
        if not _is_complete(data, fmt):
            raise IngestError(f"{fmt} file is truncated or damaged")
        if getattr(im, "n_frames", 1) > 1:
            warnings.append(f"file has {im.n_frames} frames; only the first is used")
        try:
            im.load()  # full decode now, so a broken file fails here and not later
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # noqa: BLE001 - broken EXIF must not lose the picture
                warnings.append("could not read the EXIF orientation; image used as stored")
            return fmt, _pil_to_gray(im, warnings, measured)
        except IngestError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise IngestError(f"cannot decode {fmt} image ({_first_line(exc)})") from exc


def _is_complete(data: bytes, fmt: str) -> bool:
    """Check the file ends properly, from the bytes rather than the decoder.

    ImageFile.LOAD_TRUNCATED_IMAGES is process-wide; if any library sets it, Pillow
    pads a cut-off PNG/JPEG with grey instead of failing. Other formats rely on the decoder.
    """
    if fmt == "PNG":
        view, i = memoryview(data), 8
        while i + 12 <= len(data):  # chunk = length, type, payload, CRC
            end = i + 12 + int.from_bytes(data[i:i + 4], "big")
            if end > len(data) or zlib.crc32(view[i + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
                return False
            if data[i + 4:i + 8] == b"IEND":
                return True
            i = end
        return False
    if fmt == "JPEG":
        i = 2
        while True:  # walk the header segments to the first scan of the main image
            if i + 4 > len(data):
                return False
            if data[i] != 0xFF:
                return True  # a layout we do not follow: leave it to the decoder
            marker = data[i + 1]
            if marker == 0xFF or 0xD0 <= marker <= 0xD8 or marker == 0x01:
                i += 1 if marker == 0xFF else 2  # fill byte or marker without length
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if marker == 0xDA:  # entropy-coded data cannot contain FFD9: it must end in EOI
                return data.find(b"\xff\xd9", i + 2 + length) != -1
            i += 2 + length
    return True


def _pil_to_gray(im: Image.Image, warnings: list[str], measured: dict[str, float] | None = None) -> np.ndarray:
    """Any Pillow mode -> float32 luminance in [0, 1], scaled by the mode's bit depth."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.float32) / 65535.0
    if mode in ("I", "F"):
        a = np.asarray(im).astype(np.float32)
        if mode == "I" and a.min() >= 0 and a.max() <= 65535:  # 16-bit data in a 32-bit mode
            return a / 65535.0
        if mode == "F" and a.min() >= 0 and a.max() <= 1:
            return a
        warnings.append("image has no fixed value range; contrast stretched to its own min-max")
        return _min_max(a)
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in im.info:
        im = im.convert("LA" if mode in ("LA", "La") else "RGBA")
        if np.asarray(im.getchannel("A")).min() < 255:
            warnings.append("image has transparent areas; transparency was ignored")
        if im.mode == "LA":
            return np.asarray(im.getchannel("L"), dtype=np.float32) / 255.0
    rgb = im.convert("RGB")  # palette, RGB(A), CMYK, YCbCr, LAB, ...
    saturation = colour_saturation(np.asarray(rgb))
    if measured is not None:
        measured["colour_saturation"] = saturation
    if saturation > COLOUR_WARN_LEVEL:
        warnings.append(COLOUR_WARNING)
    return np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0


# --- DICOM -------------------------------------------------------------------------
def _decode_dicom(data: bytes, warnings: list[str], force: bool) -> tuple[np.ndarray, dict[str, str]]:
    """Stored values -> modality LUT -> VOI (the file's own window) -> bone white, [0, 1]."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=force)
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
        if photometric in ("RGB", "PALETTE COLOR") or photometric.startswith("YBR_"):
            raise IngestError(f"colour DICOM ({photometric}) is not supported; radiographs are grayscale")
        if samples != 1:
            raise IngestError(f"colour DICOM ({samples} samples per pixel) is not supported; "
                              "radiographs are grayscale")
        raise IngestError("unsupported DICOM photometric interpretation; expected MONOCHROME1 or MONOCHROME2")
    if "Rows" not in ds or "Columns" not in ds:
        raise IngestError("DICOM image has no Rows/Columns")
    _check_pixel_count(int(ds.Columns), int(ds.Rows))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        warnings.append(f"DICOM has {frames} frames; only the first is used")
    modality = str(ds.get("Modality", "")).upper()
    if modality and modality not in _RADIOGRAPH_MODALITIES:
        warnings.append(f"DICOM modality is {modality[:8]}, not a radiograph (CR/DX)")
    try:
        arr = pydicom.pixels.pixel_array(ds, index=0)  # decodes the first frame only
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001
        raise IngestError(_pixel_error(ds.file_meta.get("TransferSyntaxUID"))) from None
    arr = apply_modality_lut(arr, ds)
    voi_range = _voi_output_range(ds)
    arr = apply_voi_lut(arr, ds)
    pixels = _min_max(arr) if voi_range is None else _to_unit(arr, *voi_range)
    if photometric == "MONOCHROME1":  # after VOI, so the window is read as the file meant it
        pixels = 1.0 - pixels
    metadata = {k: str(ds.get(k)) for k in _DICOM_METADATA if ds.get(k) not in (None, "")}
    return np.ascontiguousarray(pixels, dtype=np.float32), metadata


def _pixel_error(ts: UID | None) -> str:
    try:
        compressed = ts is not None and ts.is_compressed
    except ValueError:  # a private/unknown transfer syntax
        return f"cannot decode DICOM pixel data in unknown transfer syntax ({ts})"
    if compressed:
        return f"cannot decode DICOM compressed as {ts.name} ({ts})"
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
        return _min_max(arr)
    return np.clip((np.asarray(arr, dtype=np.float32) - lo) / (hi - lo), 0.0, 1.0)


def _min_max(arr: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(np.asarray(arr, dtype=np.float32))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
