"""What every decoder refuses or warns about, in one place: size limits (bombs), the
one-line `IngestError`, and the warnings the OOD checks and the app match on."""
from __future__ import annotations

import numpy as np

from ..errors import PneumoError

__all__ = ["IngestError", "DecodeMemoryError", "MAX_FILE_BYTES", "MAX_PIXELS", "MIN_SIDE", "MAX_ASPECT", "COLOUR_WARN_LEVEL",
           "COLOUR_WARNING", "BLANK_WARNING", "NON_FINITE", "check_pixel_count", "check_finite", "check_unit",
           "min_max"]

MAX_FILE_BYTES = 256 * 2**20  # a 50 MP 16-bit DICOM is ~100 MB; more is not one radiograph
MAX_PIXELS = 50_000_000  # refuse larger images from the header, before decoding (bombs)
MIN_SIDE = 64  # below this there is nothing for the model to look at
MAX_ASPECT = 3.0  # long/short side above this: warn, it is probably not a chest film
COLOUR_WARN_LEVEL = 0.05  # mean chroma (0..1); JPEG noise on grey images stays < 0.01
COLOUR_WARNING = "image has colour; radiographs are grayscale"
BLANK_WARNING = "image is blank (a single grey level)"
NON_FINITE = "image refused: some pixel values are not numbers (NaN or infinite); no call on what cannot be read"
_FLOAT32_SAFE_RANGE = 1e37  # max - min above this overflows float32 arithmetic: stretched in float64


class IngestError(PneumoError, ValueError):
    """The input cannot be turned into a radiograph; the message is one line."""


class DecodeMemoryError(IngestError):
    """Decoding ran out of memory (a decompression bomb, or a limit set for a worker)."""

    def __init__(self) -> None:
        super().__init__("not enough memory to decode this image")


def check_pixel_count(width: int, height: int) -> None:
    """Refuse oversized images from their header, before any pixel is decoded."""
    if width * height > MAX_PIXELS:
        raise IngestError(f"image too large ({width}x{height} px; limit is "
                          f"{MAX_PIXELS // 1_000_000} megapixels)")


def check_finite(arr: np.ndarray) -> None:
    """Refuse NaN and infinity (float DICOM pixel data, a float TIFF, a rescale that
    overflows): any statistic of such a film is meaningless, so it gets no call."""
    a = np.asarray(arr)
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise IngestError(NON_FINITE)


def check_unit(pixels: np.ndarray) -> None:
    """What every decoder promises the model side: finite values in [0, 1]. Checked again where
    pixels come back from a decode worker, which a hostile file may have subverted."""
    check_finite(pixels)
    if pixels.size and not (float(pixels.min()) >= 0.0 and float(pixels.max()) <= 1.0):
        raise IngestError("image refused: the decoder returned pixel values outside their range")


def min_max(arr: np.ndarray) -> np.ndarray:
    """Stretch to float32 [0, 1] by the image's own range. A range too wide for float32
    arithmetic (values near +-3e38, or a rescale into float64's range) is stretched in float64
    on halved values, so no extreme overflows into NaN."""
    a = np.asarray(arr)
    check_finite(a)
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        return np.zeros(a.shape, np.float32)
    if max(abs(lo), abs(hi)) < _FLOAT32_SAFE_RANGE:
        out = (a.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo)
    else:
        out = ((a.astype(np.float64) / 2 - lo / 2) / (hi / 2 - lo / 2)).astype(np.float32)
    return np.clip(out, 0.0, 1.0, out=out)

