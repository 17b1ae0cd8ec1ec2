"""The library's front door: the names a user needs come from `pneumo_core` itself, every
error the product raises on purpose is a `PneumoError`, and importing the package stays light."""
import subprocess
import sys

import pytest

import pneumo_core


@pytest.mark.parametrize("name", [n for n in pneumo_core.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    assert getattr(pneumo_core, name) is not None


@pytest.mark.parametrize("name", ["WeightsError", "IngestError", "SiteProfileError"])
def test_the_products_errors_share_one_base_class(name):
    assert issubclass(getattr(pneumo_core, name), pneumo_core.PneumoError)


def test_importing_the_package_does_not_import_torch():
    code = "import sys, pneumo_core; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        pneumo_core.NotAThing  # noqa: B018


def test_the_command_line_turns_a_product_error_into_one_line_and_exit_2(capsys):
    from pneumo_core.cli import main
    assert main(["evaluate", "--model", "no_such_model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown model 'no_such_model'")


def test_from_pretrained_is_the_one_door_to_a_model_with_its_site():
    """A shipped profile's name is resolved against the model's own bundle, a profile passes as
    it is, and a profile for other weights is refused at the door."""
    import pytest

    from pneumo_core import Predictor, SiteProfileError, explain, load_profile
    assert callable(explain)
    p = Predictor.from_pretrained("efficientnet_lite0", site="kermany-test")
    assert p.name == "efficientnet_lite0" and p.site is not None and p.site.name == "kermany-test"
    again = Predictor.from_pretrained("efficientnet_lite0", site=p.site)
    assert again.site is p.site
    with pytest.raises(SiteProfileError):
        Predictor.from_pretrained("paper_cnn", site=p.site)
    with pytest.raises(SiteProfileError, match="no site profile"):
        Predictor.from_pretrained("efficientnet_lite0", site="no-such-site")
