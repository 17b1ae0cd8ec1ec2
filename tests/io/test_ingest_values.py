"""What decoding promises everything after it (issue #27): pixels are finite and in [0, 1].
NaN and infinity are refused at decode with one line in our words ("no call on what cannot be
read"); extreme but finite values are stretched without overflowing into NaN. And a file is
never read past the limit that refuses it."""
from __future__ import annotations

import numpy as np
import pytest

from pneumo_core.inference.ood import grey_level_concentration
from pneumo_core.io import ingest, sandbox
from pneumo_core.io.ingest import IngestError, load, read_source
from pneumo_core.io.limits import MAX_FILE_BYTES, NON_FINITE

from harness import hostile_files as hf


def _ramp_with(dtype, *specials: float) -> np.ndarray:
    a = hf.float_ramp(64, dtype=dtype)
    a.flat[:len(specials)] = specials
    return a


NON_FINITE_FILMS = {
    "float DICOM with +inf and -inf": lambda: hf.float_dicom_with_infinity(),
    "float DICOM with NaN": lambda: hf.array_dicom(_ramp_with(np.float32, np.nan)),
    "double-float DICOM with +inf": lambda: hf.array_dicom(_ramp_with(np.float64, np.inf)),
    "float TIFF with NaN": lambda: hf.float_tiff(_ramp_with(np.float32, np.nan)),
    "float TIFF with -inf": lambda: hf.float_tiff(_ramp_with(np.float32, -np.inf)),
    "float TIFF of NaN only": lambda: hf.float_tiff(np.full((64, 64), np.nan, np.float32)),
}


@pytest.mark.parametrize("kind", NON_FINITE_FILMS)
def test_nan_or_infinity_is_refused_at_decode_in_one_line(kind):
    with pytest.raises(IngestError) as err:
        load(NON_FINITE_FILMS[kind]())
    assert str(err.value) == NON_FINITE


EXTREME_FILMS = {
    "float TIFF from -3e38 to +3e38": lambda: hf.extreme_float_tiff(),
    "float TIFF from 0 to float32's max": lambda: hf.float_tiff(hf.float_ramp(64, 0.0, float(np.finfo(np.float32).max))),
    "float DICOM from -3e38 to +3e38": lambda: hf.array_dicom(hf.float_ramp(64, -3e38, 3e38)),
    "double-float DICOM from -1e308 to +1e308": lambda: hf.array_dicom(hf.float_ramp(64, -1e308, 1e308, np.float64)),
    "16-bit DICOM rescaled by 1e300": lambda: hf.array_dicom(
        (np.arange(64 * 64) - 2000).astype(np.int16).reshape(64, 64), RescaleSlope=1e300, RescaleIntercept=0),
}


@pytest.mark.parametrize("kind", EXTREME_FILMS)
def test_extreme_finite_values_are_stretched_without_overflowing_into_nan(kind):
    pixels = load(EXTREME_FILMS[kind]()).pixels
    assert pixels.dtype == np.float32 and np.isfinite(pixels).all()
    assert pixels.min() == 0.0 and pixels.max() == 1.0  # a ramp keeps its full range, not a NaN field
    assert 0.0 <= grey_level_concentration(pixels) <= 1.0


def test_the_grey_level_count_survives_a_nan_that_got_past_decoding():
    """Defence in depth for the check that raised for a whole batch."""
    pixels = np.full((64, 64), 0.5, np.float32)
    pixels[:8] = np.nan
    pixels[8:16] = np.inf
    assert grey_level_concentration(pixels) == 1.0


def test_pixels_from_a_worker_that_are_not_finite_are_refused_in_the_server(monkeypatch):
    """The worker may be subverted by the file it decodes: its reply is checked, not trusted."""
    nan = np.full((64, 64), np.nan, np.float32)
    reply = ({"ok": True, "format": "PNG", "warnings": [], "metadata": {}, "saturation": 0.0, "shape": [64, 64]},
             bytearray(nan.tobytes()))
    monkeypatch.setattr(sandbox._Worker, "decode", lambda self, data, suffix, wall: reply)
    pool = sandbox.DecodePool(workers=1)
    try:
        with pytest.raises(IngestError, match="^image refused: some pixel values are not numbers"):
            pool.load(hf.png(64))
        short = (dict(reply[0], shape=[640, 640]), reply[1])  # a shape its payload does not fill
        monkeypatch.setattr(sandbox._Worker, "decode", lambda self, data, suffix, wall: short)
        with pytest.raises(IngestError, match="^image refused: the decoder's reply could not be read$"):
            pool.load(hf.png(64))
    finally:
        pool.close()


def test_a_file_over_the_limit_is_refused_from_its_size_without_reading_it(tmp_path):
    big = tmp_path / "big.dcm"
    with open(big, "wb") as fh:  # sparse: no disk used, and 2 GB of zeros if read
        fh.truncate(2 * 2**30)
    before = hf.rss_mb()
    hf.reset_peak_memory()
    with pytest.raises(IngestError, match=f"^file too large \\(limit is {MAX_FILE_BYTES // 2**20} MB\\)$"):
        read_source(big)
    assert hf.peak_memory_mb() - before < 100  # read whole, it is 2 GB


def test_a_file_that_announces_no_size_is_still_refused_past_the_limit(monkeypatch):
    """/proc files report size 0; a file that grows after fstat is read the same way."""
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 100)
    with pytest.raises(IngestError, match="^file too large"):
        read_source("/proc/self/status")  # ~1.4 kB of text
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 10**6)
    assert read_source("/proc/self/status").startswith(b"Name:")


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    import os
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match="^not a regular file$"):
        read_source(fifo)
