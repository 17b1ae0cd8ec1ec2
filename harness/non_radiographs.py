"""Pictures that are not chest radiographs, made offline and with a fixed seed: every
scikit-image sample that loads without a download (colour ones both as RGB and as grayscale,
the hard case) and synthetic images (noise, flat fields, gradients, checkerboards, gratings,
rendered text, shapes); and the official test radiographs, read the product's way. The OOD
and input-gate benchmarks measure on them and the tests check a fast subset of the same."""
from __future__ import annotations

import io
import warnings as _warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pneumo_core.io.ingest import IngestError, Radiograph, load

__all__ = ["SEED", "Sample", "skimage_samples", "synthetic_samples", "non_radiographs", "png_bytes",
           "as_radiographs", "official_test_radiographs"]

TEST_DIR = Path(__file__).resolve().parent.parent / "data" / "test"
SEED = 20240605

SKIMAGE_SAMPLES = ("astronaut", "binary_blobs", "brick", "camera", "cat", "cell", "checkerboard", "chelsea",
                   "clock", "coffee", "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
                   "immunohistochemistry", "lfw_subset", "logo", "microaneurysms", "moon", "page", "retina",
                   "rocket", "shepp_logan_phantom", "stereo_motorcycle", "text")

Sample = tuple[str, str, np.ndarray]  # (name, group, uint8 HxW or HxWx3/4)


# --- non-radiograph pictures -----------------------------------------------------------
def _u8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    return np.zeros(a.shape, np.uint8) if hi <= lo else np.rint((a - lo) / (hi - lo) * 255).astype(np.uint8)


def _gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as Pillow's convert('L') does."""
    return np.asarray(Image.fromarray(rgb[..., :3]).convert("L"))


def skimage_samples() -> list[Sample]:
    """Every offline scikit-image sample; colour ones twice (RGB, grayscale)."""
    import skimage.data as skd

    out: list[Sample] = []
    for name in SKIMAGE_SAMPLES:
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                a = getattr(skd, name)()
        except Exception:  # noqa: BLE001 - a sample that needs a download is skipped
            continue
        if isinstance(a, tuple):  # stereo_motorcycle: (left, right, disparity)
            a = a[0]
        if name == "lfw_subset":  # 200 faces of 25x25: a 10x10 mosaic of the first 100
            a = _u8(a[:100].reshape(10, 10, 25, 25).transpose(0, 2, 1, 3).reshape(250, 250))
        a = _u8(a)
        if a.ndim == 3:
            out.append((f"skimage/{name}/rgb", "skimage_rgb", a))
            out.append((f"skimage/{name}/gray", "skimage_gray", _gray(a)))
        else:
            out.append((f"skimage/{name}", "skimage_gray", a))
    return out


def _text_image(rng: np.random.Generator, size: int, fg: int, bg: int, font_px: int) -> np.ndarray:
    im = Image.new("L", (size, size), bg)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=font_px)
    words = ["pneumonia", "chest", "x-ray", "report", "patient", "normal", "lorem", "ipsum", "dolor", "sit",
             "amet", "radiograph", "lung", "hospital", "invoice", "total", "date", "2024"]
    y = font_px // 2
    while y < size - font_px:
        line = " ".join(rng.choice(words, size=8))
        draw.text((font_px // 2, y), line, fill=fg, font=font)
        y += int(font_px * 1.4)
    return np.asarray(im)


def _shapes_image(rng: np.random.Generator, size: int, colour: bool) -> np.ndarray:
    mode, bg = ("RGB", tuple(int(v) for v in rng.integers(0, 256, 3))) if colour else ("L", int(rng.integers(0, 256)))
    im = Image.new(mode, (size, size), bg)
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(5, 25))):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(10, size // 2, 2)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3)) if colour else int(rng.integers(0, 256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=fill)
    return np.asarray(im)


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise: soft, cloudy texture (closest to soft tissue)."""
    from scipy.ndimage import gaussian_filter

    return _u8(gaussian_filter(rng.normal(size=(size, size)), sigma))


def synthetic_samples(seed: int = SEED) -> list[Sample]:
    """Pictures no one would mistake for a radiograph, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    add = lambda name, a: out.append((f"synthetic/{name}", "synthetic", _u8(a)))  # noqa: E731
    s = 256
    yy, xx = np.mgrid[0:s, 0:s] / (s - 1)
    for i in range(4):
        add(f"uniform_noise/{i}", rng.integers(0, 256, (s, s)))
    for mean, std in [(0.5, 0.1), (0.5, 0.25), (0.3, 0.1), (0.7, 0.15)]:
        add(f"gaussian_noise/m{mean}_s{std}", np.clip(rng.normal(mean, std, (s, s)) * 255, 0, 255).astype(np.uint8))
    for sigma in (2, 6, 16):
        add(f"smooth_noise/s{sigma}", _smooth_noise(rng, s, sigma))
    for level in (0, 32, 64, 96, 128, 160, 192, 224, 255):
        add(f"flat/{level}", np.full((s, s), level, np.uint8))
    for name, g in [("horizontal", xx), ("vertical", yy), ("diagonal", (xx + yy) / 2),
                    ("radial", np.hypot(xx - 0.5, yy - 0.5)), ("radial_inv", 1 - np.hypot(xx - 0.5, yy - 0.5)),
                    ("horizontal_inv", 1 - xx)]:
        add(f"gradient/{name}", g)
    add("gradient/horizontal_narrow", np.rint((0.4 + 0.2 * xx) * 255).astype(np.uint8))  # low contrast, unstretched
    salt = rng.random((s, s))
    add("salt_and_pepper", np.where(salt < 0.05, 0, np.where(salt > 0.95, 255, 128)))
    add("gaussian_noise/low_contrast", np.clip(rng.normal(0.5, 0.03, (s, s)) * 255, 0, 255).astype(np.uint8))
    lines = (np.arange(s)[:, None] % 16 == 0) | (np.arange(s)[None, :] % 16 == 0)
    add("graph_paper", np.where(lines, 90, 245).astype(np.uint8))
    for cell in (4, 16, 32, 64):
        add(f"checkerboard/{cell}", ((np.arange(s)[:, None] // cell + np.arange(s)[None, :] // cell) % 2) * 255)
    for period in (8, 32):
        add(f"stripes/{period}", (np.arange(s)[None, :].repeat(s, 0) // (period // 2)) % 2 * 255)
        add(f"sine/{period}", np.sin(2 * np.pi * xx * s / period))
    for i, (fg, bg, px) in enumerate([(0, 255, 14), (0, 255, 24), (0, 255, 40), (255, 0, 14), (255, 0, 24),
                                      (255, 0, 40), (40, 200, 20), (220, 60, 20)]):
        add(f"text/{'dark_on_light' if fg < bg else 'light_on_dark'}_{px}px_{i}", _text_image(rng, s, fg, bg, px))
    for i in range(4):
        add(f"shapes_gray/{i}", _shapes_image(rng, s, colour=False))
    # colour ones: the colour check should catch these whatever the feature score says
    for i in range(3):
        add(f"colour_noise/{i}", rng.integers(0, 256, (s, s, 3)))
    for i in range(3):
        add(f"colour_flat/{i}", np.broadcast_to(rng.integers(0, 256, 3).astype(np.uint8), (s, s, 3)))
    add("colour_gradient", np.stack([xx, yy, 1 - xx], axis=2))
    for i in range(3):
        add(f"shapes_colour/{i}", _shapes_image(rng, s, colour=True))
    # other sizes and shapes than 256x256
    add("uniform_noise/640x480", rng.integers(0, 256, (480, 640)))
    add("gaussian_noise/1024", np.clip(rng.normal(0.5, 0.2, (1024, 1024)) * 255, 0, 255))
    add("gradient/128x96", np.mgrid[0:96, 0:128][1])
    add("text/dark_on_light_600x400", _text_image(rng, 600, 0, 255, 28)[:400])
    return out


def non_radiographs(seed: int = SEED) -> list[Sample]:
    return skimage_samples() + synthetic_samples(seed)


def png_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def as_radiographs(samples: list[Sample]) -> tuple[list[Radiograph], list[str], list[str], list[str]]:
    """PNG-encode and ingest every sample, as an upload would be.

    Returns (radiographs, names, groups, refused) where `refused` are names `load` turned away.
    """
    images, names, groups, refused = [], [], [], []
    for name, group, a in samples:
        try:
            images.append(load(png_bytes(a), name=name + ".png"))
            names.append(name)
            groups.append(group)
        except IngestError as exc:
            refused.append(f"{name}: {exc}")
    return images, names, groups, refused


def official_test_radiographs(step: int = 1) -> tuple[list[Radiograph], list[str]]:
    """Every `step`-th official test image (both classes), read through `load`."""
    files = sorted(TEST_DIR.glob("*/*.jpeg"))[::step]
    return [load(f) for f in files], [f"{f.parent.name}/{f.name}" for f in files]
