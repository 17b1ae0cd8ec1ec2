"""One header policy for uploads and PACS instances: which DICOM headers withhold the call,
said without echoing a value that is not a code."""
import pytest

from pneumo_core.io.header_policy import HEADER_PREFIX, header_reason
from pneumo_core.pacs.records import InstanceRef
from pneumo_core.pacs.study import not_frontal_chest_reason


@pytest.mark.parametrize("modality, body_part, view, words", [
    ("CR", "CHEST", "PA", None), ("DX", "", "", None), ("DR", "THORAX", "AP", None), ("", "", "", None),
    ("MR", "CHEST", "PA", "modality is MR, not a radiograph"), ("CR", "HAND", "PA", "body part is HAND, not the chest"),
    ("DX", "CHEST", "LL", "view is LL, not frontal"), ("SMITH^JOHN", "", "", "modality is not a known code"),
    ("cr", "chest", "pa", None),
])
def test_the_header_policy(modality, body_part, view, words):
    reason = header_reason(modality, body_part, view)
    assert (reason is None) if words is None else (reason.startswith(HEADER_PREFIX) and words in reason)
    assert reason is None or "SMITH" not in reason


def test_a_pacs_instance_meets_the_same_policy_as_an_upload():
    ref = InstanceRef(study_uid="1.2", series_uid="1.2.3", sop_uid="1.2.3.4", sop_class="1.2.840.10008.5.1.4.1.1.1",
                      modality="DX", body_part="CHEST", view_position="LL")
    assert not_frontal_chest_reason(ref) == "not assessed: " + header_reason("DX", "CHEST", "LL")
