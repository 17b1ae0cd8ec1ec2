from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "data" / "test"


@pytest.fixture(scope="session")
def test_images() -> dict[str, list[Path]]:
    """The official test split shipped in the repo, by class."""
    out = {c: sorted((TEST_DATA / c).glob("*.jpeg")) for c in ("NORMAL", "PNEUMONIA")}
    assert all(out.values()), f"official test split missing under {TEST_DATA}"
    return out


@pytest.fixture(scope="session")
def default_predictor():
    from pneumo_core.inference.predictor import Predictor
    return Predictor()


@pytest.fixture(scope="module")
def one_torch_thread():
    """The CPUs are shared: two intra-op threads spin against other processes and make
    batch-of-one calls 10-50x slower and erratic. Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
