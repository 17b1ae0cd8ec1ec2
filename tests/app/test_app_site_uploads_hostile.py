"""Hostile zips against the site-calibration uploads (`pneumo_core.app.site.site_uploads`): the
entry count comes from the zip's end record, so a directory of 800,000 entries is refused
before it is listed; a count that lies about its directory is caught; all zips together
share the caps. Timings and peaks: `benchmarks/hostile_inputs.py`."""
from __future__ import annotations

import io
import struct
import zipfile

import pytest

from pneumo_core.app.site import site_uploads
from pneumo_core.app.site.site_uploads import MAX_ZIP_MEMBERS, UploadRefused, gather, read_zip, zip_directory

from harness import hostile_files as hf


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def _never_listed(monkeypatch):
    monkeypatch.setattr(site_uploads.zipfile, "ZipFile", lambda *a, **k: pytest.fail("the zip's directory was listed"))


@pytest.mark.parametrize("entries", [MAX_ZIP_MEMBERS + 1, 70_000])  # 70,000: the count sits in the Zip64 record
def test_a_zip_listing_too_many_entries_is_refused_from_its_end_record_before_it_is_listed(monkeypatch, entries):
    data = hf.many_entry_zip(entries)
    assert zip_directory(data)[0] == entries
    _never_listed(monkeypatch)
    with pytest.raises(UploadRefused, match=f"holds {entries} entries; at most {MAX_ZIP_MEMBERS}"):
        read_zip(data)


def test_an_end_record_that_undercounts_its_directory_is_refused_before_it_is_listed(monkeypatch):
    data = bytearray(hf.many_entry_zip(5000))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 2, 2)  # says 2 entries; the directory holds 5,000
    _never_listed(monkeypatch)
    with pytest.raises(UploadRefused, match="directory does not match its entry count"):
        read_zip(bytes(data))


def test_an_honest_zip_is_still_read():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("NORMAL/a.png", b"a")
        zf.writestr("PNEUMONIA/b.png", b"b")
    files, notes = read_zip(buf.getvalue())
    assert [f.key for f in files] == ["NORMAL/a.png", "PNEUMONIA/b.png"] and not notes


def test_several_zips_share_one_cap_on_films_and_bytes(monkeypatch):
    monkeypatch.setattr(site_uploads, "MAX_ZIP_MEMBERS", 5)

    def zipped(prefix: str, n: int) -> _Upload:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for i in range(n):
                zf.writestr(f"NORMAL/{prefix}{i}.png", f"{prefix}{i}".encode())
        return _Upload(f"{prefix}.zip", buf.getvalue())
    files, _ = gather(None, None, [zipped("a", 3)])
    assert len(files) == 3  # one zip within the cap
    with pytest.raises(UploadRefused, match="at most 2 are read"):  # the second zip gets what the first left
        gather(None, None, [zipped("a", 3), zipped("b", 3)])
