"""pacs.store against a real Orthanc: a report is stored only under the study's own accession
number, and the same report stored twice is one instance (no second STOW-RS)."""
import pytest

from pneumo_core.pacs.rules import is_uid
from pneumo_core.pacs.store import ALREADY_STORED, REFUSED, STORED, ReportContent, report_uids, store_report

PDF = b"%PDF-1.4\n%minimal\n"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"


def _content(impression: str = "", probability: float = 0.8) -> ReportContent:
    return ReportContent("PNEUMONIA", probability, 0.5, "balanced", impression=impression)


def _reports(client, study_uid: str) -> list[str]:
    return [r.sop_uid for r in client.instances(study_uid) if r.sop_class == ENCAPSULATED_PDF]


def test_report_uids_are_valid_and_the_same_for_the_same_report_only():
    a = report_uids("1.2.3", "1.2.3.4", "m", _content())
    assert all(is_uid(u) for u in a) and a[0] != a[1]
    assert report_uids("1.2.3", "1.2.3.4", "m", _content()) == a
    assert report_uids("1.2.3", "1.2.3.4", "m", _content(probability=0.8000000001)) == a  # below the shown precision
    others = [report_uids("1.2.3", "1.2.3.5", "m", _content()), report_uids("1.2.4", "1.2.3.4", "m", _content()),
              report_uids("1.2.3", "1.2.3.4", "m2", _content()), report_uids("1.2.3", "1.2.3.4", "m", _content("x")),
              report_uids("1.2.3", "1.2.3.4", "m", _content(probability=0.7))]
    assert len({o[0] for o in others} | {a[0]}) == 6


@pytest.mark.parametrize("typed,words", [("", "type the study's accession number"),
                                         ("ACC-1001", "not this study's"), ("acc-3003", "not this study's")])
def test_a_report_under_a_missing_or_other_accession_is_refused_and_nothing_is_stored(client, loaded, spy, typed,
                                                                                      words):
    before = len(client.instances(loaded.c.uid))
    done = store_report(client, loaded.c.uid, loaded.sop["c_film"], typed, lambda: PDF, "m", _content("mismatch"))
    assert done.outcome == REFUSED and words in done.message and done.name is None
    assert len(client.instances(loaded.c.uid)) == before
    assert not [m for m, _ in spy.sent if m == "POST"]  # no STOW-RS was sent


def test_the_same_report_stored_twice_is_one_instance_and_the_second_sends_nothing(client, loaded, spy):
    rendered = []

    def pdf() -> bytes:
        rendered.append(1)
        return PDF
    before = _reports(client, loaded.c.uid)
    first = store_report(client, loaded.c.uid, loaded.sop["c_film"], " ACC-3003 ", pdf, "m", _content("twice"))
    posts = len([m for m, _ in spy.sent if m == "POST"])
    second = store_report(client, loaded.c.uid, loaded.sop["c_film"], "ACC-3003", pdf, "m", _content("twice"))
    assert (first.outcome, second.outcome) == (STORED, ALREADY_STORED) and "already stored" in second.message
    assert first.report_uid == second.report_uid and second.name == first.name
    assert posts == 1 and len([m for m, _ in spy.sent if m == "POST"]) == 1 and len(rendered) == 1
    assert sorted(_reports(client, loaded.c.uid)) == sorted(before + [first.report_uid])


def test_a_changed_report_is_a_new_instance(client, loaded):
    a = store_report(client, loaded.c.uid, loaded.sop["c_film"], "ACC-3003", lambda: PDF, "m", _content("v1"))
    b = store_report(client, loaded.c.uid, loaded.sop["c_film"], "ACC-3003", lambda: PDF, "m", _content("v2"))
    assert (a.outcome, b.outcome) == (STORED, STORED) and a.report_uid != b.report_uid


def test_the_audit_identifiers_are_uids_and_the_outcome_only(client, loaded):
    done = store_report(client, loaded.c.uid, loaded.sop["c_film"], "ACC-1001", lambda: PDF, "m", _content("ids"))
    assert done.audit_ids() == {"study_uid": loaded.c.uid, "instance_uid": loaded.sop["c_film"],
                                "report_uid": done.report_uid, "outcome": REFUSED}
    hostile = store_report(client, "1.2.3/../../system", loaded.sop["c_film"], "ACC-3003", lambda: PDF, "m",
                           _content())
    assert hostile.audit_ids() == {"outcome": REFUSED} and "system" not in hostile.message


def test_two_stores_racing_past_the_check_still_leave_one_instance(client, loaded):
    from pneumo_core.pacs.report_dicom import encapsulated_pdf
    sop, series = report_uids(loaded.c.uid, loaded.sop["c_film"], "m", _content("race"))
    header = client.study_header(loaded.c.uid)
    before = _reports(client, loaded.c.uid)
    client.store(encapsulated_pdf(PDF, header, sop_uid=sop, series_uid=series))
    client.store(encapsulated_pdf(PDF, header, sop_uid=sop, series_uid=series))  # as if both passed has_instance
    assert sorted(_reports(client, loaded.c.uid)) == sorted(before + [sop])
