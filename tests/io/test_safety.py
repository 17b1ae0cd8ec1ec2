"""Safety: tampered weights are refused before PyTorch parses them, one shared Predictor is
safe under concurrent requests, and uploads (bytes plus an untrusted name) never reach the
file system. Test names say the failure each one guards against.
"""
from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from pneumo_core.inference.predictor import Prediction, Predictor
from pneumo_core.models.bundle import WEIGHTS_DIR, WeightsError, load_bundle

TEST_DIR = Path(__file__).resolve().parents[2] / "data" / "test"
RECORD_KEYS = {"file", "status", "probability", "label", "threshold", "model", "warnings", "error"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor()


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


# --- weights -------------------------------------------------------------------------
def _flip_byte(offset: Callable[[int], int]) -> Callable[[Path], None]:
    def tamper(d: Path) -> None:
        data = bytearray((d / "model.pt").read_bytes())
        data[offset(len(data))] ^= 0x01
        (d / "model.pt").write_bytes(bytes(data))
    return tamper


def _rewrite_meta(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def tamper(d: Path) -> None:
        meta = json.loads((d / "model.json").read_text())
        edit(meta)
        (d / "model.json").write_text(json.dumps(meta))
    return tamper


_TAMPERING = [
    ("first_byte_flipped", _flip_byte(lambda n: 0), "does not match its model.json"),
    ("middle_byte_flipped", _flip_byte(lambda n: n // 2), "does not match its model.json"),
    ("last_byte_flipped", _flip_byte(lambda n: n - 1), "does not match its model.json"),
    ("truncated", lambda d: (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:-100]), "does not match"),
    ("byte_appended", lambda d: (d / "model.pt").write_bytes((d / "model.pt").read_bytes() + b"\0"), "does not match"),
    ("swapped_for_other_model", lambda d: shutil.copy(WEIGHTS_DIR / "paper_cnn" / "model.pt", d / "model.pt"),
     "does not match"),
    ("sha256_missing_from_model_json", _rewrite_meta(lambda m: m.pop("model_sha256")), "refusing to load"),
    ("sha256_empty_in_model_json", _rewrite_meta(lambda m: m.update(model_sha256="")), "refusing to load"),
    ("sha256_null_in_model_json", _rewrite_meta(lambda m: m.update(model_sha256=None)), "refusing to load"),
    ("model_pt_missing", lambda d: (d / "model.pt").unlink(), "is missing"),
]


@pytest.mark.parametrize("case, tamper, message", _TAMPERING, ids=[t[0] for t in _TAMPERING])
@pytest.mark.parametrize("loader", [load_bundle, Predictor], ids=["load_bundle", "Predictor"])
def test_tampered_weights_are_refused_before_torch_load_parses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    case, tamper, message, loader):
    bundle = tmp_path / "efficientnet_lite0"
    shutil.copytree(WEIGHTS_DIR / "efficientnet_lite0", bundle)
    tamper(bundle)

    def torch_load_must_not_run(*args, **kwargs):
        raise AssertionError("torch.load ran on unverified weights")

    monkeypatch.setattr(torch, "load", torch_load_must_not_run)
    with pytest.raises(WeightsError, match=message) as info:
        loader(bundle)
    text = str(info.value)
    assert "\n" not in text and len(text) < 400


_MALFORMED = [
    ("unknown_architecture", _rewrite_meta(lambda m: m.update(architecture="resnet9000"))),
    ("input_block_missing", _rewrite_meta(lambda m: m.pop("input"))),
    ("input_block_not_a_dict", _rewrite_meta(lambda m: m.update(input=224))),
    ("weights_of_another_shape", _rewrite_meta(lambda m: m["input"].update(channels=3))),
]


@pytest.mark.parametrize("case, malform", _MALFORMED, ids=[t[0] for t in _MALFORMED])
def test_verified_weights_with_a_malformed_model_json_are_a_clear_refusal(tmp_path: Path, case, malform, capsys):
    """Not a traceback, and `predict` treats it as the usage error it is (exit 2)."""
    from pneumo_core.cli import main

    bundle = tmp_path / "efficientnet_lite0"
    shutil.copytree(WEIGHTS_DIR / "efficientnet_lite0", bundle)
    malform(bundle)
    with pytest.raises(WeightsError, match="does not describe a loadable model") as info:
        load_bundle(bundle)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400
    capsys.readouterr()
    assert main(["predict", "--model", str(bundle), "--quiet", str(next(TEST_DIR.glob("NORMAL/*.jpeg")))]) == 2
    assert "does not describe a loadable model" in capsys.readouterr().err


def test_untampered_copy_still_loads_so_the_refusals_above_mean_something(tmp_path: Path):
    bundle = tmp_path / "efficientnet_lite0"
    shutil.copytree(WEIGHTS_DIR / "efficientnet_lite0", bundle)
    assert load_bundle(bundle).name == "efficientnet_lite0"


# --- concurrency ---------------------------------------------------------------------
def _eight_images() -> list[tuple[bytes, str]]:
    """Eight different uploads: radiographs of both classes and two non-radiographs (flagged path)."""
    files = sorted(TEST_DIR.glob("NORMAL/*.jpeg"))[:3] + sorted(TEST_DIR.glob("PNEUMONIA/*.jpeg"))[:3]
    rng = np.random.default_rng(7)
    extra = [(_png(rng.integers(0, 256, (200, 240), dtype=np.uint8)), "noise.png"),
             (_png(np.broadcast_to(np.array([200, 40, 40], np.uint8), (128, 128, 3)).copy()), "red.png")]
    return [(f.read_bytes(), f"{f.parent.name}/{f.name}") for f in files] + extra


def test_shared_predictor_gives_sequential_results_under_concurrent_requests(predictor: Predictor):
    """The app shares one cached Predictor between sessions; interleaved calls must not mix
    batches, hooks or OOD verdicts."""
    uploads = _eight_images()
    sequential = [predictor.predict_bytes(data, name) for data, name in uploads]
    results: list[Prediction | None] = [None] * len(uploads)
    errors: list[BaseException] = []
    start = threading.Barrier(len(uploads))

    def work(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = predictor.predict_bytes(*uploads[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(uploads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for seq, par in zip(sequential, results):
        assert par is not None and par.file == seq.file
        assert (par.probability is None) == (seq.probability is None)  # the gate decides alike
        assert par.probability == pytest.approx(seq.probability, abs=1e-6)
        assert par.label == seq.label and par.warnings == seq.warnings and par.error is None
        assert par.ood_score == pytest.approx(seq.ood_score, abs=1e-5)
    scored = [p.probability for p in sequential if p.probability is not None]
    assert len(scored) >= 6 and len({round(p, 6) for p in scored}) > 1  # different answers, not one repeated


# --- uploads and the file system -------------------------------------------------------
HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\Windows\\System32\\config\\SAM",
    "<script>x</script>.png",
    "\"><img src=x onerror=alert(1)>.jpeg",
    "file:///etc/hostname",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd.dcm",
    "name with spaces & 'quotes'.png",
    "C:\\Users\\patient\\Doe^John.dcm",
    "emoji_\u00e9\u6f22\u5b57.png",
    "",
]


class _FileSystemSpy:
    """Records any attempt to open, read or stat a path while an upload is processed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for owner, attr in [(builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "listdir"),
                            (Path, "open"), (Path, "read_bytes"), (Path, "read_text"), (Path, "stat"),
                            (Path, "exists"), (Path, "is_file"), (Path, "write_bytes")]:
            monkeypatch.setattr(owner, attr, self._spy(f"{getattr(owner, '__name__', owner)}.{attr}",
                                                       getattr(owner, attr)))

    def _spy(self, label: str, real: Callable) -> Callable:
        def spy(*args, **kwargs):
            self.calls.append(f"{label}{args[:2]!r}")
            raise AssertionError(f"an upload touched the file system: {label}")
        return spy


def _upload_bytes() -> bytes:
    return sorted(TEST_DIR.glob("PNEUMONIA/*.jpeg"))[0].read_bytes()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_names_never_reach_the_file_system_and_come_back_unchanged(
        predictor: Predictor, monkeypatch: pytest.MonkeyPatch, name: str):
    data = _upload_bytes()
    predictor.predict_bytes(data, "warm-up.jpeg")  # lazy imports happen before the spy is on
    spy = _FileSystemSpy(monkeypatch)
    p = predictor.predict_bytes(data, name)
    monkeypatch.undo()
    assert spy.calls == []
    assert p.file == name  # escaping is the app's job, at display time
    assert p.error is None and p.probability is not None
    record = p.to_record()
    assert set(record) == RECORD_KEYS and json.loads(json.dumps(record))["file"] == name


@pytest.mark.parametrize("data, name, error", [
    (b"", "/etc/hostname", "empty file"),
    (b"root:x:0:0:root:/root:/bin/bash\n", "../../etc/passwd", "not an image"),
    (b"\x00\x01junk" * 64, "/etc/passwd.dcm", "not"),
])
def test_bad_bytes_named_like_real_paths_are_not_read_from_those_paths(
        predictor: Predictor, monkeypatch: pytest.MonkeyPatch, data: bytes, name: str, error: str):
    """If the name were ever treated as a path, these would decode /etc files instead."""
    predictor.predict_bytes(_upload_bytes(), "warm-up.jpeg")
    spy = _FileSystemSpy(monkeypatch)
    p = predictor.predict_bytes(data, name)
    monkeypatch.undo()
    assert spy.calls == []
    assert p.probability is None and p.error is not None and error in p.error
    assert name not in p.error and p.file == name


def test_uploaded_bytes_are_never_written_to_disk(predictor: Predictor, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    """Uploads may carry patient identity: no copy in the working directory or the temp dir."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    uploads = _eight_images() + [(_upload_bytes(), name) for name in HOSTILE_NAMES[:4]]
    for data, name in uploads:
        predictor.predict_bytes(data, name)
    list(predictor.predict_sources(uploads, batch_size=5))
    assert sorted(os.listdir(cwd)) == [] and sorted(os.listdir(tmp)) == []


def test_a_batch_of_large_files_never_holds_their_full_resolution_pixels_at_once(default_predictor: Predictor):
    """`predict` on thousands of 9-megapixel DICOM/PNG files must stay bounded: each image is
    reduced to the model's size right after decoding, not after the whole batch is decoded."""
    import tracemalloc

    rng = np.random.default_rng(0)
    big = [_png(np.kron(rng.integers(0, 256, (30, 30), dtype=np.uint8), np.ones((100, 100), np.uint8)))
           for _ in range(8)]  # 3000 x 3000 each: 36 MB as float32 pixels
    tracemalloc.start()
    try:
        preds = list(default_predictor.predict_sources([(b, f"{i}.png") for i, b in enumerate(big)], batch_size=8))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(p.error is None for p in preds) and len(preds) == 8
    assert peak < 4 * 36e6, f"peak {peak / 1e6:.0f} MB: full-resolution images were held for the whole batch"
