"""A hostile file in the middle of a batch (`Predictor.predict_sources`, the path of the CLI,
the PACS and the site sample): it becomes one error line in our words, the worker that
decoded it is replaced, and the films before and after it are scored."""
from __future__ import annotations

import pytest

from pneumo_core.io import sandbox

from harness import hostile_files as hf


@pytest.fixture
def tight_pool(monkeypatch):
    """The process-wide pool, limited to 400 MB a worker so a 49-megapixel film is a bomb."""
    pool = sandbox.DecodePool(workers=1, memory_bytes=400 * 2**20)
    monkeypatch.setattr(sandbox, "_DEFAULT", pool)
    yield pool
    pool.close()


def test_a_bomb_in_the_middle_of_a_batch_costs_only_its_own_line(default_predictor, tight_pool, test_images,
                                                                   one_torch_thread):
    good = [p.read_bytes() for p in test_images["NORMAL"][:2]]
    sources = [(good[0], "first.jpeg"), (hf.png(7000), "SMITH_JOHN.png"), (hf.j2k_bomb_dicom(), "x.dcm"),
               (good[1], "last.jpeg")]
    preds = list(default_predictor.predict_sources(sources, batch_size=4))
    assert [p.error is None for p in preds] == [True, False, False, True]
    assert preds[0].probability is not None and preds[3].probability is not None
    assert "memory" in preds[1].error and preds[2].error.startswith("image too large")
    assert not any("SMITH" in (p.error or "") for p in preds)
