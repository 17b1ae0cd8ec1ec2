"""PNG, JPEG, TIFF, BMP and WebP through Pillow, into float32 grey in [0, 1]. Only these
formats are opened (no EPS/PDF-style plugins), a cut-off file is caught from its bytes, and
colour is measured before the grey conversion so the OOD checks can still see it."""
from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .limits import COLOUR_WARN_LEVEL, COLOUR_WARNING, MAX_PIXELS, IngestError, check_pixel_count, min_max

__all__ = ["decode_picture", "colour_saturation"]

_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")
MAX_FRAMES_COUNTED = 16  # only the first frame is used; more are counted only to say so


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


def decode_picture(data: bytes, warnings: list[str], measured: dict[str, float] | None = None
                ) -> tuple[str, np.ndarray | None]:
    """Decode with Pillow; (format, None) when Pillow does not recognise the bytes."""
    try:
        im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except UnidentifiedImageError:
        return "", None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IngestError(f"image too large (limit is {MAX_PIXELS // 1_000_000} megapixels)") from None
    except Exception as exc:  # noqa: BLE001 - header parse errors of any kind
        raise IngestError(f"image file is truncated or damaged ({type(exc).__name__})") from exc  # Pillow's text quotes bytes
    with im:
        fmt = "JPEG" if im.format == "MPO" else (im.format or "image")
        check_pixel_count(*im.size)
        if not _is_complete(data, fmt):
            raise IngestError(f"{fmt} file is truncated or damaged")
        frames = _frames_up_to(im, MAX_FRAMES_COUNTED)
        if frames > MAX_FRAMES_COUNTED:
            warnings.append(f"file has more than {MAX_FRAMES_COUNTED} frames; only the first is used")
        elif frames > 1:
            warnings.append(f"file has {frames} frames; only the first is used")
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
            raise IngestError(f"cannot decode {fmt} image ({type(exc).__name__})") from exc


def _frames_up_to(im: Image.Image, cap: int) -> int:
    """Frames in the file, counted up to `cap` + 1. Pillow's `n_frames` on a TIFF walks every
    frame header (quadratic in their number: seconds for 20,000 chained headers); stepping
    one frame at a time stops at the cap."""
    if im.format != "TIFF":
        return int(getattr(im, "n_frames", 1))  # PNG, WebP, MPO: read from one header
    n = 1
    try:
        while n <= cap:
            im.seek(n)
            n += 1
    except EOFError:
        pass
    finally:
        im.seek(0)
    return n


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
        return min_max(a)
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
