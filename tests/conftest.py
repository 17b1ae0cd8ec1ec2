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
    from pneumo_core.predictor import Predictor
    return Predictor()
