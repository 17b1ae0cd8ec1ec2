"""Hostile files against the decoding path (`io.sandbox`, `io.ingest`, `io.codestream`) and
the upload limits (`io.budget`): each attack a security review found is refused in our words,
with no text from the file in the message, and the server process's memory stays flat (the
worker absorbs what a decoder allocates). Timings and peaks: `benchmarks/hostile_inputs.py`."""
from __future__ import annotations

import threading

import pytest
from PIL import TiffImagePlugin

from pneumo_core.io import budget, sandbox
from pneumo_core.io.ingest import IngestError, load

from harness import hostile_files as hf


@pytest.fixture(scope="module")
def pool():
    p = sandbox.DecodePool(workers=1)
    yield p
    p.close()


@pytest.fixture(scope="module")
def small_pool():
    """A worker limited to 400 MB of address space: a 49-megapixel film (~600 MB to decode) is too much."""
    p = sandbox.DecodePool(workers=1, memory_bytes=400 * 2**20)
    yield p
    p.close()


def _refused(pool: sandbox.DecodePool, data: bytes) -> str:
    with pytest.raises(IngestError) as err:
        pool.load(data)
    message = str(err.value)
    assert "\n" not in message and hf.PATIENT not in message and "SMITH" not in message
    return message


def test_a_jpeg2000_bomb_is_refused_from_its_codestream_before_the_server_allocates_for_it(pool):
    pool.load(hf.png(256))  # the worker is started before the peak is measured
    before = hf.rss_mb()
    hf.reset_peak_memory()
    message = _refused(pool, hf.j2k_bomb_dicom(claim=16000))
    assert message.startswith("image too large (16000x16000 px")
    assert hf.peak_memory_mb() - before < 200  # decoded in the server, the claim costs ~1.9 GB


def test_a_codestream_that_declares_another_size_than_its_header_is_refused(pool):
    message = _refused(pool, hf.j2k_bomb_dicom(claim=2000, header=512))
    assert message.startswith("compressed image does not match its DICOM header")
    assert pool.load(hf.j2k_dicom(64)).pixels.shape == (64, 64)  # an honest JPEG 2000 DICOM is read


def test_an_unknown_transfer_syntax_is_called_unsupported_compression_without_quoting_it(pool):
    assert _refused(pool, hf.transfer_syntax_echo_dicom()).startswith("unsupported compression")


def test_header_values_never_reach_warnings_metadata_or_stderr(pool, capfd, recwarn):
    rad = pool.load(hf.warning_echo_dicom())
    shown = " ".join(rad.warnings) + " ".join(f"{k}={v}" for k, v in rad.metadata.items())
    assert "SMITH" not in shown and "Modality" not in rad.metadata and "ViewPosition" not in rad.metadata
    assert "modality is not a known code" in shown
    out, err = capfd.readouterr()
    assert "SMITH" not in out + err and not any("SMITH" in str(w.message) for w in recwarn)


def test_tiff_frame_headers_are_counted_only_up_to_the_cap_never_walked(monkeypatch):
    counted = TiffImagePlugin.TiffImageFile.n_frames

    def walk_all(self):
        if self._n_frames is None:  # not yet known: Pillow would walk every frame header to count them
            raise AssertionError("n_frames walks every frame header")
        return counted.fget(self)
    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(walk_all))
    rad = load(hf.chained_tiff(20_000))
    assert rad.pixels.shape == (256, 256)
    assert "file has more than 16 frames; only the first is used" in rad.warnings
    assert "file has 3 frames; only the first is used" in load(hf.chained_tiff(3)).warnings


def test_a_decode_that_needs_more_memory_than_the_worker_has_is_refused_and_the_next_file_is_read(small_pool):
    small_pool.load(hf.png(256))
    data = hf.png(7000)  # 49 MP: within the pixel limit, over this worker's memory (~600 MB to decode)
    before = hf.rss_mb()
    hf.reset_peak_memory()
    message = _refused(small_pool, data)
    assert "memory" in message
    assert hf.peak_memory_mb() - before < 150  # the server never held the decode
    assert small_pool.load(hf.png(300)).pixels.shape == (300, 300)


def test_a_decode_past_the_wall_time_kills_the_worker_and_the_next_file_gets_a_fresh_one():
    p = sandbox.DecodePool(workers=1, wall_seconds=0.05)
    try:
        p.wall_seconds = 30
        p.load(hf.png(256))  # start-up is not counted against the limit below
        p.wall_seconds = 0.05
        assert "took longer than a radiograph should" in _refused(p, hf.png(7000))
        assert p.stopped == 1
        p.wall_seconds = 30
        assert p.load(hf.png(256)).pixels.shape == (256, 256)
    finally:
        p.close()


def test_heavy_work_beyond_its_slots_waits_then_says_the_server_is_busy():
    held = [budget._HEAVY.acquire(timeout=5) for _ in range(budget.HEAVY_WORKERS)]
    try:
        assert all(held)
        with pytest.raises(budget.ServerBusy, match="busy"):
            with budget.heavy_work(timeout=0.05):
                pass
    finally:
        for _ in held:
            budget._HEAVY.release()
    with budget.heavy_work(timeout=0.05):  # free again
        pass


def test_heavy_work_lets_at_most_its_slots_run_at_once():
    running, peak, lock = [0], [0], threading.Lock()
    gate = threading.Barrier(budget.HEAVY_WORKERS + 2, timeout=0.5)

    def work():
        with budget.heavy_work(timeout=5):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                gate.wait()
            except threading.BrokenBarrierError:
                pass
            with lock:
                running[0] -= 1
    threads = [threading.Thread(target=work) for _ in range(budget.HEAVY_WORKERS + 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == budget.HEAVY_WORKERS


def test_a_session_budget_reads_files_in_upload_order_up_to_its_limits_and_says_so():
    b = budget.UploadBudget(max_files=3, max_bytes=100)
    assert b.admit("diagnose", "uploads", [10, 10]) == (2, None)
    n, message = b.admit("diagnose", "uploads", [10, 10, 10, 10])
    assert n == 3 and "may hold 3 files" in message and "the last 1 file(s) were not read" in message
    n, message = b.admit("calibrate_site", "normal", [60, 60])  # the other page's uploads are gone
    assert n == 1 and message
    n, message = b.admit("calibrate_site", "pneumonia", [30, 20])  # 60 held by the NORMAL uploader
    assert n == 1 and "the last 1 file(s) were not read" in message
    assert b.admit("calibrate_site", "pneumonia", [30]) == (1, None)  # a file removed: back within the budget


def test_the_session_budget_lives_in_the_sessions_state():
    state: dict = {}
    budget.session_budget(state).admit("diagnose", "uploads", [1])
    assert budget.session_budget(state).held == {("diagnose", "uploads"): (1, 1)}
