"""The PACS side of a hostile user or a hostile PACS, against a real Orthanc: every attack is
refused before any request leaves the client (a spy on the session counts them), with a line
that does not repeat the hostile value."""
from __future__ import annotations


import pytest

from pneumo_core.pacs.client import InstanceRef, PacsClient, PacsRefused
from pneumo_core.pacs.config import auth_from

from .conftest import RequestSpy
from harness.hostile_pacs import HostilePacs, hostile_pacs
from harness.orthanc_server import PASSWORD, USER

HOSTILE_UIDS = {"dot-dot": "1.2.3/../../../system", "too long": "1." + "2" * 63, "letters": "1.2.abc",
                "leading zero": "1.02.3", "encoded": "1.2%2F..%2F..%2Fsystem", "query": "1.2?limit=100000"}


@pytest.mark.parametrize("kwargs", [{}, {"accession": ""}, {"accession": "*"}, {"accession": "ACC-*"},
                                    {"accession": "ACC-100?"}, {"accession": "ACC\\ACC-1001"},
                                    {"date_from": "20240101"}, {"date_from": "20240101", "date_to": "20241231"},
                                    {"study_uid": "*"}, {"accession": "ACC-1001", "modalities": ["C*"]}],
                         ids=lambda k: repr(k)[:40])
def test_an_empty_or_wildcard_search_is_refused_before_any_request(client, spy, loaded, kwargs):
    with pytest.raises(PacsRefused, match="^refused: "):
        client.search_studies(**kwargs)
    assert spy.sent == []


@pytest.mark.parametrize("name", list(HOSTILE_UIDS))
def test_a_hostile_uid_is_refused_before_any_request_and_not_echoed(client, spy, loaded, name):
    uid = HOSTILE_UIDS[name]
    series = client.instances(loaded.a.uid)[0].series_uid
    spy.sent.clear()
    calls = [lambda: client.retrieve(InstanceRef(loaded.a.uid, series, uid)),
             lambda: client.retrieve(InstanceRef(uid, series, loaded.sop["mono2"])),
             lambda: client.retrieve(InstanceRef(loaded.a.uid, uid, loaded.sop["mono2"])),
             lambda: client.instances(uid), lambda: client.study_header(uid),
             lambda: client.has_instance(loaded.a.uid, uid), lambda: client.search_studies(study_uid=uid)]
    for call in calls:
        with pytest.raises(PacsRefused, match="not a valid DICOM UID") as exc:
            call()
        assert uid not in str(exc.value) and "system" not in str(exc.value)
    assert spy.sent == []


@pytest.fixture()
def hostile_pacs_url():
    with hostile_pacs() as url:
        yield url


def test_a_pacs_listing_a_hostile_uid_gets_the_study_refused_and_no_retrieval(hostile_pacs_url):
    with PacsClient(hostile_pacs_url, allow_http=True) as client:
        with pytest.raises(PacsRefused, match="invalid or foreign UID") as exc:
            client.instances("1.2.3")
    assert "system" not in str(exc.value)
    paths = [path for _, path in HostilePacs.sent]
    assert paths and all(p.startswith("/dicom-web/studies/1.2.3/instances?") for p in paths)


def test_plain_http_is_refused_unless_allowed_and_allowed_only_then(orthanc, loaded, monkeypatch):
    monkeypatch.delenv("PNEUMO_DICOMWEB_ALLOW_HTTP", raising=False)
    auth = auth_from(user=USER, password=PASSWORD)
    with pytest.raises(PacsRefused, match="plain http://"):
        PacsClient(orthanc.url, auth)
    with pytest.raises(PacsRefused, match="plain http://"):
        PacsClient(orthanc.url, auth, allow_http=False)
    with PacsClient(orthanc.url, auth, allow_http=True) as allowed:
        allowed.check()
    monkeypatch.setenv("PNEUMO_DICOMWEB_ALLOW_HTTP", "1")
    with PacsClient(orthanc.url, auth) as from_env:
        spy = RequestSpy(from_env.session)
        from_env.check()
    assert len(spy.sent) == 1


def test_the_connection_check_lists_no_study(client, spy, loaded):
    client.check()
    assert len(spy.sent) == 1 and "StudyInstanceUID=2.25.0" in spy.sent[0][1]
