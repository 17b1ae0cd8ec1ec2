"""Property: no film, however it is mutated, aborts its batch (issue #27). Valid DICOM, PNG and
TIFF films are generated tiny (40-80 px), mutated in pixel type (integer, float, NaN, +-inf,
extremes to +-3e38 and 1e308), in header fields and in length, and pushed in batches through
`Predictor.predict_sources` (the path of the command line, the PACS study and the site sample)
and through the command line itself. Every batch must come back whole: one line per film, in
order, none failing after decoding, every refusal one line in our words; and a film that was
left intact and finite is read. At least 1,000 films a run."""
from __future__ import annotations

import contextlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pneumo_core.inference.predictor import FAILED_PREFIX
from pneumo_core.io.limits import MIN_SIDE, NON_FINITE

from harness import hostile_files as hf

FILMS_PER_RUN = 1000
REPLAYABLE_UID = "1.2.826.0.1.3680043.8.498.27"  # a fixed UID: Hypothesis replays the very same bytes
SPECIAL_VALUES = [np.nan, np.inf, -np.inf, 3e38, -3e38, 1e308, -1e308, 0.0]
DICOM_HEADER_MUTATIONS = {
    "none": {},
    "more rows than stored": {"Rows": 81},
    "fewer columns than stored": {"Columns": 33},
    "monochrome1": {"PhotometricInterpretation": "MONOCHROME1"},
    "claims RGB": {"PhotometricInterpretation": "RGB"},
    "claims three samples": {"SamplesPerPixel": 3},
    "unknown photometric": {"PhotometricInterpretation": hf.PATIENT[:16]},
    "negative rescale": {"RescaleSlope": -1, "RescaleIntercept": 0},
    "zero rescale": {"RescaleSlope": 0, "RescaleIntercept": 7},
    "rescale to 1e300": {"RescaleSlope": "1e300", "RescaleIntercept": 0},
    "intercept 1e300": {"RescaleSlope": 1, "RescaleIntercept": "1e300"},
    "zero window": {"WindowCenter": 100, "WindowWidth": 0},
    "window 1e38 wide": {"WindowCenter": "-1e38", "WindowWidth": "1e38"},
    "three frames claimed": {"NumberOfFrames": 3},
    "signed flag flipped": {"PixelRepresentation": 1},
    "another modality": {"Modality": "CT"},
}


@dataclass
class Film:
    data: bytes
    name: str
    intact: bool        # no header or length mutation, and at least MIN_SIDE a side
    non_finite: bool    # NaN or infinity among the stored values


@st.composite
def stored_pixels(draw, floats: bool) -> np.ndarray:
    """A small film-like image (a gradient, a disc and noise) in a drawn pixel type, with
    drawn special values written over some pixels when the type can hold them."""
    side = draw(st.sampled_from([64, 64, 72, 80, 40]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y, x = np.mgrid[:side, :side] / side
    base = 0.3 + 0.4 * x + 0.2 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1) + 0.1 * rng.random((side, side))
    kinds = ["uint8", "uint16", "int16"] + (["float32", "float64"] if floats else [])
    kind = draw(st.sampled_from(kinds))
    if kind.startswith("float"):
        scale = draw(st.sampled_from([1.0, 4095.0, 1e-30, 1e30, 3e38]))
        a = (base - draw(st.sampled_from([0.0, 0.5]))) * scale
        if kind == "float32":
            a = np.clip(a, -3.4e38, 3.4e38)
        a = a.astype(kind)
        for _ in range(draw(st.integers(0, 3))):
            value = draw(st.sampled_from(SPECIAL_VALUES))
            a.flat[draw(st.integers(0, a.size - 1))] = value if kind == "float64" or abs(value) < 3.5e38 else np.inf
        return a
    info = np.iinfo(kind)
    return (info.min + base * (float(info.max) - info.min)).astype(kind)


@st.composite
def mutated_length(draw, data: bytes) -> tuple[bytes, bool]:
    how = draw(st.sampled_from(["none", "none", "truncated", "junk appended", "header bytes flipped"]))
    if how == "truncated":
        return data[:draw(st.integers(0, len(data) - 1))], False
    if how == "junk appended":
        return data + draw(st.binary(min_size=1, max_size=64)), False
    if how == "header bytes flipped":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, min(len(out), 200) - 1))
            out[at] ^= draw(st.integers(1, 255))
        return bytes(out), False
    return data, True


@st.composite
def films(draw) -> Film:
    fmt = draw(st.sampled_from(["DICOM", "PNG", "TIFF"]))
    a = draw(stored_pixels(floats=fmt != "PNG"))
    header = "none"
    if fmt == "DICOM":
        header = draw(st.sampled_from(sorted(DICOM_HEADER_MUTATIONS)))
        data, suffix = hf.array_dicom(a, uid=REPLAYABLE_UID, **DICOM_HEADER_MUTATIONS[header]), ".dcm"
    else:
        data, suffix = _picture(draw, fmt, a), ".png" if fmt == "PNG" else ".tif"
    data, whole = draw(mutated_length(data))
    non_finite = a.dtype.kind == "f" and not np.isfinite(a).all() and (fmt == "DICOM" or a.dtype == np.float32)
    return Film(data, f"{hf.PATIENT}{suffix}", whole and header == "none" and min(a.shape) >= MIN_SIDE, non_finite)


def _picture(draw, fmt: str, a: np.ndarray) -> bytes:
    """PNG: 8- or 16-bit grey, RGB, grey with alpha or palette; TIFF: the drawn type as stored
    where Pillow can (float32 as mode F, int16 widened to 32-bit mode I), else 8-bit grey."""
    if fmt == "TIFF" and a.dtype == np.float32:
        return hf.float_tiff(a)
    if fmt == "TIFF" and a.dtype == np.float64:
        a = a.astype(np.float32) if np.isfinite(a).all() and np.abs(a).max() < 3.4e38 else np.nan_to_num(a).clip(0, 1)
        return hf.float_tiff(a)
    if fmt == "TIFF" and a.dtype == np.int16:
        im = Image.fromarray(a.astype(np.int32) * 65536)  # mode I: extremes of a 32-bit integer
    elif a.dtype == np.uint16:
        im = Image.fromarray(a)  # 16-bit grey (I;16)
    else:
        u8 = (a.astype(np.float64) - a.min()) / max(float(a.max()) - float(a.min()), 1.0) * 255
        im = Image.fromarray(u8.astype(np.uint8))
        if fmt == "PNG":
            im = im.convert(draw(st.sampled_from(["L", "RGB", "LA", "P"])))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def _check_batch(batch: list[Film], records: list[dict]) -> None:
    """The properties every batch must keep, whatever its films."""
    assert len(records) == len(batch)  # no film lost, none added: the batch was not aborted
    for film, rec in zip(batch, records):
        error = rec["error"]
        assert rec["status"] in ("scored", "not_assessed", "error")
        if error is not None:
            assert not error.startswith(FAILED_PREFIX), error  # nothing after decoding failed on it
            assert "\n" not in error and len(error) <= 200 and "SMITH" not in error
        if rec["status"] == "scored":
            assert 0.0 <= rec["probability"] <= 1.0 and rec["label"] in ("NORMAL", "PNEUMONIA")
        if film.intact and film.non_finite:
            assert error == NON_FINITE
        elif film.intact:
            assert error is None, error  # a valid film, its values finite: read, whatever its type
        assert not any("SMITH" in w for w in rec["warnings"])


def test_no_generated_film_aborts_a_batch_through_the_predictor(default_predictor, one_torch_thread):
    seen: list[int] = []

    @settings(max_examples=90, deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(films(), min_size=10, max_size=12))
    def run(batch: list[Film]) -> None:
        preds = list(default_predictor.predict_sources(((f.data, f"{i}-{f.name}") for i, f in enumerate(batch)),
                                                       batch_size=8))
        assert [p.file for p in preds] == [f"{i}-{f.name}" for i, f in enumerate(batch)]  # in order
        _check_batch(batch, [p.to_record() for p in preds])
        seen.append(len(batch))

    run()
    assert sum(seen) >= FILMS_PER_RUN - 100  # with the command line's below: at least 1,000 a run


def test_no_generated_film_aborts_a_folder_through_the_command_line(one_torch_thread):
    from pneumo_core.cli.main import main
    seen: list[int] = []

    @settings(max_examples=8, deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(films(), min_size=12, max_size=16))
    def run(batch: list[Film]) -> None:
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, film in enumerate(batch):
                paths.append(Path(d) / f"{i:02d}-{film.name}")
                paths[-1].write_bytes(film.data)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["predict", "--quiet", "--batch-size", "8", *map(str, paths)])
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert code in (0, 1), err.getvalue()
        assert [r["file"] for r in records] == [str(p) for p in paths]
        _check_batch(batch, records)
        seen.append(len(batch))

    run()
    assert sum(seen) >= 100


@pytest.mark.parametrize("side", [MIN_SIDE])
def test_the_generator_makes_films_that_are_read_when_left_intact(side, default_predictor, one_torch_thread):
    """Guards the property above against a generator whose 'valid' films are all refused."""
    a = np.linspace(0, 4095, side * side).reshape(side, side).astype(np.uint16)
    preds = list(default_predictor.predict_sources([(hf.array_dicom(a), "a.dcm"), (hf.float_tiff(a / 4095), "b.tif")]))
    assert [p.error for p in preds] == [None, None]
