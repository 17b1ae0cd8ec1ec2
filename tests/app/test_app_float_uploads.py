"""The Diagnose door of issue #27: float films uploaded beside good ones showed an error in
place of every result. Each film now gets its own row, the float DICOM refused in our words."""
from __future__ import annotations

from conftest import results_table, run_app

from pneumo_core.io.limits import NON_FINITE

from harness import hostile_files as hf


def test_float_films_uploaded_with_good_ones_each_get_their_own_row(test_images):
    films = [("first.jpeg", test_images["NORMAL"][0].read_bytes(), "image/jpeg"),
             ("infinity.dcm", hf.float_dicom_with_infinity(), "application/dicom"),
             ("extreme.tif", hf.extreme_float_tiff(), "image/tiff"),
             ("last.jpeg", test_images["PNEUMONIA"][0].read_bytes(), "image/jpeg")]
    at = run_app()
    at.file_uploader[0].set_value(films).run()
    assert not at.exception
    table = results_table(at).value
    assert len(table) == 4
    cells = " ".join(map(str, table["warnings / error"]))
    assert NON_FINITE in cells and hf.PATIENT not in cells
    assert list(table["label"])[0] in ("NORMAL", "PNEUMONIA") and list(table["label"])[3] in ("NORMAL", "PNEUMONIA")
