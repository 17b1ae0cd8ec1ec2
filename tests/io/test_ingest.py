"""Tests for pneumo_core.io.ingest: every fixture is generated here, in memory.

Each test name says the failure it guards against.
"""
from __future__ import annotations

import io
import socket
import struct
import time
import zipfile
import zlib
from typing import Callable

import numpy as np
import pydicom
import pydicom.data
import pytest
from PIL import Image, ImageFile
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless, generate_uid

from pneumo_core.io.ingest import IngestError, Radiograph, colour_saturation, load

# --- no network: every test in this file fails if anything tries to connect ---------
_NETWORK_ATTEMPTS: list[str] = []


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch):
    def refuse(*args, **kwargs):
        _NETWORK_ATTEMPTS.append(repr(args)[:80])
        raise OSError("network access is not allowed in test_ingest")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    _NETWORK_ATTEMPTS.clear()
    yield
    # Checked after the test, so a network call swallowed inside `load` still fails it.
    assert not _NETWORK_ATTEMPTS, f"test touched the network: {_NETWORK_ATTEMPTS}"


def test_network_guard_is_active_so_no_test_here_can_silently_go_online():
    with pytest.raises(OSError, match="not allowed"):
        socket.create_connection(("example.org", 80), timeout=0.1)
    with socket.socket() as sock, pytest.raises(OSError, match="not allowed"):
        sock.connect(("127.0.0.1", 9))
    _NETWORK_ATTEMPTS.clear()  # this attempt was the point of the test


# --- fixtures --------------------------------------------------------------------
PATIENT_NAME, PATIENT_ID, ACCESSION = "Doe^Johnathan", "PID-778899", "ACC-445566"
WHITELIST = {"Modality", "ViewPosition", "BodyPartExamined", "PhotometricInterpretation", "Rows", "Columns",
             "SOPInstanceUID"}  # an identifier, not a name: it names the case in the CSV and the PDF


def _ref() -> np.ndarray:
    """96x128 uint8 picture that is not symmetric: a rotation or flip shows."""
    y, x = np.mgrid[0:96, 0:128]
    img = (x * 2 + y // 2).astype(np.uint8)
    img[5:25, 5:35] = 255  # bright block top-left
    img[70:90, 100:120] = 0  # dark block bottom-right
    return img


REF = _ref()


def _enc(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG that claims a huge size but holds almost no data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_enc(Image.fromarray(REF), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _dicom_ds(arr: np.ndarray, photometric: str = "MONOCHROME2", bits: int = 12, **attrs) -> Dataset:
    """A CR dataset holding `arr` (frames x rows x cols or rows x cols), with patient identity set."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.AccessionNumber = PATIENT_NAME, PATIENT_ID, ACCESSION
    ds.StudyDate, ds.PatientBirthDate, ds.InstitutionName = "20240102", "19500101", "St Elsewhere"
    ds.Modality, ds.ViewPosition, ds.BodyPartExamined = "CR", "PA", "CHEST"
    ds.Rows, ds.Columns = arr.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    if arr.ndim == 3:
        ds.NumberOfFrames = arr.shape[0]
    ds.PixelData = arr.astype(np.uint8 if bits == 8 else np.uint16).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def _dicom_bytes(ds: Dataset, preamble: bool | str = True) -> bytes:
    """preamble=True: a proper file; False: no 128-byte preamble; "bare": no file meta either."""
    buf = io.BytesIO()
    if preamble == "bare":
        del ds.file_meta
        pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    else:
        ds.save_as(buf, enforce_file_format=preamble)
    return buf.getvalue()


def _dicom(arr: np.ndarray, **kw) -> bytes:
    return _dicom_bytes(_dicom_ds(arr, **kw))


def _dicom_without_pixels() -> bytes:
    ds = _dicom_ds(REF)
    del ds.PixelData
    return _dicom_bytes(ds)


def _dicom_rgb() -> bytes:
    ds = _dicom_ds(REF, bits=8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.PixelData = np.repeat(REF[..., None], 3, axis=2).tobytes()
    return _dicom_bytes(ds)


def _dicom_broken_jpeg2000() -> bytes:
    ds = _dicom_ds(REF)
    ds.file_meta.TransferSyntaxUID = JPEG2000
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 64])  # J2K start, then junk
    ds["PixelData"].VR = "OB"
    return _dicom_bytes(ds)


def _dicom_damaged_jpeg2000() -> bytes:
    """A codestream that declares the header's size, cut off after its first bytes."""
    buf = io.BytesIO()
    Image.fromarray(REF).save(buf, "JPEG2000", no_jp2=True, irreversible=False)
    ds = _dicom_ds(REF)
    ds.file_meta.TransferSyntaxUID = JPEG2000
    ds.PixelData = encapsulate([buf.getvalue()[:120]])
    ds["PixelData"].VR = "OB"
    return _dicom_bytes(ds)


def _dicom_bomb() -> bytes:
    ds = _dicom_ds(REF)
    ds.Rows = ds.Columns = 30000  # header claims 900 MP; pixel data is tiny
    return _dicom_bytes(ds)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("report.txt", "not an x-ray")
    return buf.getvalue()


def _rgba_half_transparent() -> bytes:
    im = Image.fromarray(REF).convert("RGBA")
    alpha = np.full(REF.shape, 255, np.uint8)
    alpha[:, :40] = 0
    im.putalpha(Image.fromarray(alpha))
    return _enc(im)


def _colour_photo() -> bytes:
    rgb = np.zeros((96, 128, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, REF // 2, 40
    return _enc(Image.fromarray(rgb))


_PNG = _enc(Image.fromarray(REF))
_JPEG = _enc(Image.fromarray(REF), "JPEG", quality=90)


def _corrupt_crc(data: bytes) -> bytes:
    out = bytearray(data)
    out[data.index(b"IDAT") + 10] ^= 0xFF  # inside the first IDAT: its CRC no longer matches
    return bytes(out)


# --- 1. bad inputs: one table ----------------------------------------------------------
# (id, make bytes, name, "error"|"warning", expected substring)
BAD_INPUTS: list[tuple[str, Callable[[], bytes], str | None, str, str]] = [
    ("zero_byte_file", lambda: b"", "x.png", "error", "empty file (0 bytes)"),
    ("text_file", lambda: b"patient list\nline two\n" * 20, "x.png", "error", "not an image: looks like a text file"),
    ("pdf_renamed_png", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj" + b"\x00" * 200, "x.png", "error",
     "not an image: looks like a PDF document"),
    ("zip_renamed_png", _zip_bytes, "x.png", "error", "not an image: looks like a ZIP archive"),
    ("html_page", lambda: b"<!DOCTYPE html><html><body>hi</body></html>", None, "error", "web page"),
    ("gif_not_supported", lambda: _enc(Image.fromarray(REF), "GIF"), None, "error", "unsupported image format: GIF"),
    ("random_binary", lambda: bytes(range(1, 256)) * 4, None, "error", "not an image: unrecognised file type"),
    ("truncated_png", lambda: _PNG[: len(_PNG) // 2], None, "error", "PNG file is truncated or damaged"),
    ("png_without_iend", lambda: _PNG[:-12], None, "error", "PNG file is truncated or damaged"),
    ("png_bad_checksum", lambda: _corrupt_crc(_PNG), None, "error", "PNG file is truncated or damaged"),
    ("truncated_jpeg", lambda: _JPEG[: len(_JPEG) // 2], None, "error", "JPEG file is truncated or damaged"),
    ("jpeg_header_only", lambda: _JPEG[:200], None, "error", "truncated or damaged"),
    ("image_too_small", lambda: _enc(Image.fromarray(REF[:32, :100])), None, "error",
     "image too small to judge (100x32; need at least 64 px a side)"),
    ("image_63_px_wide", lambda: _enc(Image.fromarray(REF[:64, :63])), None, "error", "image too small"),
    ("png_bomb_over_pil_limit", lambda: _png_header_only(30000, 30000), None, "error", "image too large"),
    ("png_bomb_under_pil_limit", lambda: _png_header_only(8000, 8000), None, "error", "image too large"),
    ("jpeg_bomb", lambda: _jpeg_claiming(8000, 8000), None, "error", "image too large"),
    ("dicom_bomb", _dicom_bomb, None, "error", "image too large"),
    ("dicom_without_pixel_data", _dicom_without_pixels, None, "error", "no pixel data"),
    ("dicom_rgb_colour", _dicom_rgb, None, "error", "colour DICOM (RGB) is not supported"),
    ("dicom_truncated", lambda: _dicom(REF)[:400], None, "error", "DICOM"),
    ("dicom_jpeg2000_header_not_its_own", _dicom_broken_jpeg2000, None, "error",
     "compressed image does not match its DICOM header"),
    ("dicom_undecodable_jpeg2000", _dicom_damaged_jpeg2000, None, "error",
     "cannot decode DICOM compressed as JPEG 2000 Image Compression"),
    ("junk_named_dcm", lambda: b"\x08\x00\x10\x00" + bytes(range(1, 200)), "scan.dcm", "error", "unrecognised file type"),
    ("extreme_aspect_ratio", lambda: _enc(Image.fromarray(np.tile(REF, (1, 4))[:, :400])), None,
     "warning", "unusual shape (400x96)"),
    ("colour_photo", _colour_photo, None, "warning", "image has colour; radiographs are grayscale"),
    ("transparent_png", _rgba_half_transparent, None, "warning", "transparent areas"),
    ("blank_image", lambda: _enc(Image.new("L", (128, 128), 90)), None, "warning", "image is blank"),
    ("dicom_multi_frame", lambda: _dicom(np.stack([REF, 255 - REF]).astype(np.uint16) * 16), None, "warning",
     "DICOM has 2 frames; only the first is used"),
    ("dicom_not_a_radiograph", lambda: _dicom(REF.astype(np.uint16), Modality="MR"), None, "warning",
     "modality is MR"),
]


@pytest.mark.parametrize("make, name, kind, expected", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gives_one_line_ingest_error_or_warning_never_a_crash(make, name, kind, expected):
    data = make()
    start = time.perf_counter()
    if kind == "error":
        with pytest.raises(IngestError) as err:
            load(data, name=name)
        message = str(err.value)
        assert type(err.value) is IngestError
        assert expected in message
        assert "\n" not in message and message.strip() == message
        assert PATIENT_NAME not in message and PATIENT_ID not in message
    else:
        result = load(data, name=name)
        assert any(expected in w for w in result.warnings), result.warnings
        assert all("\n" not in w for w in result.warnings)
        _assert_valid_pixels(result)
    assert time.perf_counter() - start < 2.0  # nothing hangs


@pytest.mark.parametrize("make", [lambda: _PNG[: len(_PNG) // 2], lambda: _PNG[:-12],
                                  lambda: _JPEG[: len(_JPEG) // 2], lambda: _corrupt_crc(_PNG)],
                         ids=["truncated_png", "png_without_iend", "truncated_jpeg", "png_bad_checksum"])
def test_truncated_file_is_refused_even_when_some_library_set_load_truncated_images(make, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(IngestError, match="truncated or damaged"):
        load(make())


@pytest.mark.parametrize("make", [lambda: _png_header_only(30000, 30000), lambda: _jpeg_claiming(60000, 60000)],
                         ids=["png_30000x30000", "jpeg_60000x60000"])
@pytest.mark.parametrize("pil_limit", [Image.MAX_IMAGE_PIXELS, None], ids=["pil_default", "pil_limit_disabled"])
def test_decompression_bomb_refused_in_under_a_second_without_relying_on_pil_globals(make, pil_limit, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    data = make()
    start = time.perf_counter()
    with pytest.raises(IngestError, match="image too large"):
        load(data)
    assert time.perf_counter() - start < 1.0
    assert Image.MAX_IMAGE_PIXELS == pil_limit  # load did not change global PIL state


def test_missing_path_gives_ingest_error_without_echoing_the_path(tmp_path):
    with pytest.raises(IngestError) as err:
        load(tmp_path / "Doe_Johnathan.png")
    assert "Doe" not in str(err.value)


def test_bytes_source_never_uses_name_as_a_path(tmp_path, monkeypatch):
    (tmp_path / "real.png").write_bytes(_PNG)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IngestError, match="not an image"):
        load(b"just some text, not the file", name="real.png")


# --- 2. PNG/JPEG modes ---------------------------------------------------------------
def _assert_valid_pixels(result: Radiograph) -> None:
    assert isinstance(result, Radiograph)
    assert result.pixels.dtype == np.float32 and result.pixels.ndim == 2
    assert np.isfinite(result.pixels).all()
    assert 0.0 <= result.pixels.min() and result.pixels.max() <= 1.0


_L = Image.fromarray(REF)
_U16 = REF.astype(np.uint16) * 257
# (mode Pillow must report on reading, how to build the file, allowed max abs error)
MODES = [
    ("L", lambda: _enc(_L), 1e-6),
    ("I;16", lambda: _enc(Image.fromarray(_U16)), 1e-6),
    ("I;16B", lambda: _enc(Image.fromarray(_U16.astype(">u2")), "TIFF"), 1e-6),
    ("I", lambda: _enc(Image.fromarray(_U16.astype(np.int32)), "TIFF"), 1e-6),
    ("RGB", lambda: _enc(_L.convert("RGB")), 1 / 255 + 1e-6),
    ("RGBA", lambda: _enc(_L.convert("RGBA")), 1 / 255 + 1e-6),
    ("LA", lambda: _enc(_L.convert("LA")), 1e-6),
    ("P", lambda: _enc(_L.convert("P")), 1 / 255 + 1e-6),
    ("CMYK", lambda: _enc(_L.convert("CMYK"), "TIFF"), 1 / 255 + 1e-6),
    ("CMYK", lambda: _enc(_L.convert("CMYK"), "JPEG", quality=95), 0.06),
    ("RGB", lambda: _enc(_L.convert("RGB"), "JPEG", quality=95), 0.06),
]


@pytest.mark.parametrize("mode, make, tolerance", MODES,
                         ids=["L", "I16", "I16B_tiff", "I32_tiff", "RGB", "RGBA", "LA", "P", "CMYK_tiff",
                              "CMYK_jpeg", "RGB_jpeg"])
def test_every_pixel_mode_decodes_to_the_same_picture_as_8bit_grey(mode, make, tolerance):
    data = make()
    assert Image.open(io.BytesIO(data)).mode == mode  # the test really exercises this mode
    result = load(data)
    _assert_valid_pixels(result)
    assert result.pixels.shape == REF.shape
    error = np.abs(result.pixels - REF / 255.0)
    assert error.max() <= tolerance, error.max()
    assert error.mean() < 0.01
    assert result.warnings == []  # grey pictures in colour containers are not "colour"


def test_one_bit_image_decodes_black_and_white_not_inverted_or_dim():
    expected = REF >= 128
    data = _enc(Image.fromarray(expected))
    assert Image.open(io.BytesIO(data)).mode == "1"
    pixels = load(data).pixels
    assert set(np.unique(pixels)) == {0.0, 1.0}
    np.testing.assert_array_equal(pixels == 1.0, expected)


def test_16bit_png_keeps_full_range_instead_of_clipping_at_255():
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.float64).round().astype(np.uint16), (96, 1))
    ramp[:, 0], ramp[:, 1] = 0, 65535
    ramp[:, 2] = 300  # a value that 8-bit clipping would turn into 1.0
    data = _enc(Image.fromarray(ramp))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    pixels = load(data).pixels
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    np.testing.assert_allclose(pixels, ramp / 65535.0, atol=1e-6)
    assert len(np.unique(pixels)) > 250


@pytest.mark.parametrize("orientation, stored_as", [
    (2, Image.Transpose.FLIP_LEFT_RIGHT), (3, Image.Transpose.ROTATE_180),
    (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)],
    ids=["mirrored", "upside_down", "rotated_cw", "rotated_ccw"])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_is_applied_so_the_chest_is_upright(orientation, stored_as, fmt):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _enc(_L.transpose(stored_as), fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))
    pixels = load(data).pixels
    assert pixels.shape == REF.shape
    assert np.abs(pixels - REF / 255.0).mean() < 0.01


@pytest.mark.parametrize("rgb, expect_colour", [
    (np.repeat(REF[..., None], 3, axis=2), False),
    (np.stack([REF, REF // 2, 255 - REF], axis=2), True),
    (np.repeat(REF[..., None], 4, axis=2), False),
    (REF, False),
])
def test_colour_saturation_separates_grey_from_colour_for_ood_reuse(rgb, expect_colour):
    value = colour_saturation(rgb)
    assert 0.0 <= value <= 1.0
    assert (value > 0.05) is expect_colour
    if rgb.ndim == 3:  # same answer for uint16 and float input of the same picture
        assert colour_saturation(rgb.astype(np.uint16) * 257) == pytest.approx(value, abs=1e-4)
        assert colour_saturation(rgb / 255.0) == pytest.approx(value, abs=1e-4)


# --- 3. DICOM ----------------------------------------------------------------------
_STORED = (REF.astype(np.uint16) * 16)  # 12-bit values 0..4080


def _window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 linear window, output 0..1."""
    return np.clip((values - (centre - 0.5)) / (width - 1) + 0.5, 0, 1)


@pytest.mark.parametrize("centre, width", [(2000, 2000), (2048, 8000)], ids=["narrow_window", "wide_window"])
def test_dicom_uses_its_own_voi_window_not_min_max(centre, width):
    result = load(_dicom(_STORED, WindowCenter=centre, WindowWidth=width))
    assert result.source_format == "DICOM"
    np.testing.assert_allclose(result.pixels, _window(_STORED.astype(float), centre, width), atol=1e-4)


def test_dicom_voi_lut_sequence_applied_and_scaled_by_its_own_output_range():
    lut = np.round(4095 * np.sqrt(np.arange(4096) / 4095)).astype(np.uint16)  # 16-bit nominal, 12-bit data
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 16])  # LUT Descriptor
    item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
    ds = _dicom_ds(_STORED)
    ds.VOILUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = 100, 10  # the LUT wins, as in pydicom
    pixels = load(_dicom_bytes(ds)).pixels
    np.testing.assert_allclose(pixels, lut[_STORED] / 4095.0, atol=1e-6)


def test_dicom_without_window_is_min_max_scaled():
    pixels = load(_dicom(_STORED)).pixels
    np.testing.assert_allclose(pixels, (_STORED - _STORED.min()) / np.ptp(_STORED), atol=1e-6)


@pytest.mark.parametrize("window", [{}, {"WindowCenter": 2000, "WindowWidth": 2000}], ids=["no_window", "window"])
def test_monochrome1_comes_out_bone_white_like_its_monochrome2_twin(window):
    mono2 = load(_dicom(_STORED, **window)).pixels
    inverted = {"WindowCenter": 4095 - window["WindowCenter"] + 1, "WindowWidth": 2000} if window else {}
    mono1 = load(_dicom(4095 - _STORED, photometric="MONOCHROME1", **inverted)).pixels
    np.testing.assert_allclose(mono1, mono2, atol=2e-3)
    assert mono1[10, 10] > 0.9  # the bright block stays bright


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_a_presentation_lut_shape_of_inverse_is_applied_once(photometric):
    """A negative stored under INVERSE reads as the positive film; MONOCHROME1 with INVERSE
    (the DX module's pairing) is inverted once, not twice."""
    upright = load(_dicom(_STORED)).pixels
    stored = 4095 - _STORED
    read = load(_dicom(stored, photometric=photometric, PresentationLUTShape="INVERSE")).pixels
    np.testing.assert_allclose(read, upright, atol=2e-3)
    identity = load(_dicom(stored, PresentationLUTShape="IDENTITY")).pixels
    np.testing.assert_allclose(identity, 1.0 - upright, atol=2e-3)


def test_dicom_rescale_slope_intercept_applied_before_the_window():
    reference = load(_dicom(_STORED, WindowCenter=2000, WindowWidth=2000)).pixels
    rescaled = load(_dicom(_STORED, RescaleSlope=2, RescaleIntercept=-1024,
                           WindowCenter=2 * 2000 - 1024, WindowWidth=2 * 2000)).pixels
    np.testing.assert_allclose(rescaled, reference, atol=2e-3)


def test_multi_frame_dicom_uses_the_first_frame():
    frames = np.stack([_STORED, 4095 - _STORED])
    result = load(_dicom(frames))
    np.testing.assert_allclose(result.pixels, _STORED / _STORED.max(), atol=1e-6)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless], ids=["jpeg2000", "rle"])
def test_compressed_dicom_matches_same_picture_as_png_in_orientation_and_contrast(syntax):
    ds = _dicom_ds(REF, bits=8)
    ds.compress(syntax, REF)
    result = load(_dicom_bytes(ds))
    png = load(_PNG).pixels
    assert result.pixels.shape == png.shape
    assert _correlation(result.pixels, png) > 0.99
    assert np.abs(result.pixels - png).mean() < 0.01
    assert _correlation(result.pixels, png[::-1]) < 0.9  # a flip would be caught


def test_third_party_jpeg2000_dicom_decodes_like_its_uncompressed_original():
    # Both files ship inside pydicom; get_testdata_file finds them locally (network is blocked).
    compressed = load(pydicom.data.get_testdata_file("MR_small_jp2klossless.dcm"))
    original = load(pydicom.data.get_testdata_file("MR_small.dcm"))
    np.testing.assert_allclose(compressed.pixels, original.pixels, atol=1e-6)
    assert _correlation(compressed.pixels, original.pixels) > 0.999


@pytest.mark.parametrize("preamble, name", [(True, None), (True, "image.png"), (True, "scan"),
                                            (False, "scan.dcm"), (False, None), ("bare", "scan.DCM")],
                         ids=["no_name", "misnamed_png", "no_extension", "no_preamble_dcm", "no_preamble_no_name",
                              "bare_dataset_without_file_meta"])
def test_dicom_is_recognised_by_content_not_file_name(preamble, name):
    data = _dicom_bytes(_dicom_ds(_STORED), preamble=preamble)
    assert (data[128:132] == b"DICM") is (preamble is True)
    result = load(data, name=name)
    assert result.source_format == "DICOM"
    np.testing.assert_allclose(result.pixels, _STORED / _STORED.max(), atol=1e-6)


def test_dicom_metadata_is_whitelisted_and_identity_never_leaks():
    data = _dicom(_STORED, WindowCenter=2000, WindowWidth=2000)
    result = load(data)
    uid = str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)
    assert result.metadata == {"Modality": "CR", "ViewPosition": "PA", "BodyPartExamined": "CHEST",
                               "PhotometricInterpretation": "MONOCHROME2", "Rows": "96", "Columns": "128",
                               "SOPInstanceUID": uid}  # the UID names the case in the CSV and the PDF
    assert set(result.metadata) <= WHITELIST


_IDENTITY = (PATIENT_NAME, "Doe", "Johnathan", PATIENT_ID, ACCESSION, "19500101", "20240102", "Elsewhere")


@pytest.mark.parametrize("make", [
    lambda: _dicom(np.stack([_STORED, _STORED])), lambda: _dicom(_STORED, Modality="MR"),
    lambda: _dicom(_STORED[:, :20]), _dicom_rgb, _dicom_without_pixels, _dicom_broken_jpeg2000,
    lambda: _dicom(_STORED)[:1500], _dicom_bomb,
], ids=["multi_frame", "mr", "too_small", "rgb", "no_pixels", "broken_j2k", "truncated", "bomb"])
def test_patient_identity_never_appears_in_warnings_errors_or_metadata(make):
    try:
        result = load(make(), name="scan.dcm")
        texts = result.warnings + list(result.metadata.values()) + list(result.metadata)
        assert set(result.metadata) <= WHITELIST
    except IngestError as err:
        texts = [str(err)]
    for text in texts:
        for secret in _IDENTITY:
            assert secret not in text, text
