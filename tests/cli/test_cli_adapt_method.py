"""`site adapt --method`: the earlier method (re-estimated normalisation) stays one option
away, and the default fits the operating point from the site's scores without touching the
network. The contract on the cheaper model."""
import json

import pytest
from conftest import run_cli

from pneumo_core.adaptation.method import MIN_FILMS
from pneumo_core.adaptation.score_mixture import DEFAULT_MIXTURE

MODEL = "paper_cnn"


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory, test_images):
    d = tmp_path_factory.mktemp("south")
    for i, f in enumerate(test_images["NORMAL"][:60] + test_images["PNEUMONIA"][:MIN_FILMS - 55]):
        (d / f"{i:03d}.jpeg").write_bytes(f.read_bytes())
    return d


@pytest.mark.parametrize("method", [None, "bn-last48-weighted"])
def test_site_adapt_writes_the_method_asked_for(site_folder, tmp_path, method):
    out = tmp_path / "p.json"
    r = run_cli("site", "adapt", "--model", MODEL, "--out", str(out), "--quiet", *(["--method", method] if method else []),
                str(site_folder))
    assert r.returncode == 0, r.stderr
    a = json.loads(out.read_text())["adaptation"]
    if method is None:
        assert a["method"] == DEFAULT_MIXTURE.name and a["layers"] == {} and "threshold_logit" in a
    else:
        assert a["method"] == method and len(a["layers"]) > 0
