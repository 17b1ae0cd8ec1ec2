"""What every decoder refuses or warns about, in one place: size limits (bombs), the
one-line `IngestError`, and the warnings the OOD checks and the app match on."""
from __future__ import annotations

import numpy as np

from ..errors import PneumoError

__all__ = ["IngestError", "DecodeMemoryError", "MAX_FILE_BYTES", "MAX_PIXELS", "MIN_SIDE", "MAX_ASPECT", "COLOUR_WARN_LEVEL",
           "COLOUR_WARNING", "BLANK_WARNING", "check_pixel_count", "min_max", "first_line"]

MAX_FILE_BYTES = 256 * 2**20  # a 50 MP 16-bit DICOM is ~100 MB; more is not one radiograph
MAX_PIXELS = 50_000_000  # refuse larger images from the header, before decoding (bombs)
MIN_SIDE = 64  # below this there is nothing for the model to look at
MAX_ASPECT = 3.0  # long/short side above this: warn, it is probably not a chest film
COLOUR_WARN_LEVEL = 0.05  # mean chroma (0..1); JPEG noise on grey images stays < 0.01
COLOUR_WARNING = "image has colour; radiographs are grayscale"
BLANK_WARNING = "image is blank (a single grey level)"


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


def min_max(arr: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(np.asarray(arr, dtype=np.float32))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
