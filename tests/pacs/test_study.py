"""pacs.study: which instances of a study are scored, from their headers alone."""
import pytest

from pneumo_core.pacs.client import InstanceRef
from pneumo_core.pacs.study import plan_study

CR = "1.2.840.10008.5.1.4.1.1.1"


def _ref(sop: str, sop_class: str = CR, modality: str = "CR", view: str = "PA", body: str = "CHEST") -> InstanceRef:
    return InstanceRef("1.2", "1.2.3", sop, sop_class, modality, view, body)


@pytest.mark.parametrize("ref", [_ref("1"), _ref("2", view="AP"), _ref("3", view="", body=""),
                                 _ref("4", modality="DX", body="THORAX")], ids=["PA", "AP", "blank", "DX-thorax"])
def test_a_frontal_chest_film_or_one_without_those_tags_is_scored(ref):
    assert plan_study([ref]).frontal == [ref]


@pytest.mark.parametrize("ref,words", [(_ref("1", body="HAND"), "body part is HAND"),
                                       (_ref("2", view="LL"), "view is LL"),
                                       (_ref("3", modality="CT"), "modality is CT")], ids=["hand", "lateral", "CT"])
def test_an_image_the_header_places_elsewhere_is_not_assessed_with_the_reason(ref, words):
    plan = plan_study([ref])
    assert plan.frontal == [] and plan.other[0][0] == ref
    assert plan.other[0][1].startswith("not assessed: ") and words in plan.other[0][1]


def test_our_own_stored_report_is_skipped_not_scored():
    pdf = _ref("9", sop_class="1.2.840.10008.5.1.4.1.1.104.1", modality="DOC", view="", body="")
    plan = plan_study([_ref("1"), pdf])
    assert [r.sop_uid for r in plan.ordered] == ["1"] and plan.skipped == [(pdf, "an Encapsulated PDF")]
