"""pacs.client against a real Orthanc (search, retrieve through ingest), and against a stub
server for the retry policy; pacs.config for where credentials come from."""
from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pydicom
import pytest
from harness.orthanc_server import PASSWORD, USER
from PIL import Image
from pydicom.uid import JPEGBaseline8Bit

from pneumo_core.io.ingest import load
from pneumo_core.pacs.client import BearerAuth, PacsAuthError, PacsClient, PacsError, PacsUnavailable
from pneumo_core.pacs.config import auth_from, auth_from_env, servers_from


def test_search_by_accession_finds_that_study_only_with_its_counts(client, loaded):
    studies = client.search_studies(accession="ACC-1001")
    assert [s.study_uid for s in studies] == [loaded.a.uid]
    assert (studies[0].n_series, studies[0].n_instances, studies[0].modalities) == (1, 4, ("CR",))


def test_search_by_date_range_is_inclusive_and_leaves_out_other_dates(client, loaded):
    one_day = client.search_studies(date_from="20240105", date_to="20240105")
    assert [s.study_uid for s in one_day] == [loaded.a.uid]
    week = {s.study_uid for s in client.search_studies(date_from="20240315", date_to="20240321")}
    assert week == {loaded.b.uid}
    assert client.search_studies(date_from="20240106", date_to="20240112") == []


def test_search_by_modality_dx_leaves_out_cr_studies(client, loaded):
    assert client.search_studies(accession="ACC-1001", modalities=["DX"]) == []
    assert [s.study_uid for s in client.search_studies(accession="ACC-2002", modalities=["DX"])] == [loaded.b.uid]


def test_a_search_result_carries_no_patient_attribute(client, loaded):
    from pneumo_core.pacs.records import INSTANCE_FIELDS, STUDY_FIELDS
    assert not [f for f in STUDY_FIELDS + INSTANCE_FIELDS if f.startswith("Patient")]  # never asked for
    study = client.search_studies(accession="ACC-1001")[0]
    assert "DOE" not in repr(study) and "PAT-0001" not in repr(study)


def test_instances_say_what_their_header_says(client, loaded):
    refs = {r.sop_uid: r for r in client.instances(loaded.a.uid)}
    assert set(refs) == {loaded.sop[k] for k in ("mono2", "mono1", "jpeg", "hand")}
    assert refs[loaded.sop["hand"]].body_part == "HAND"
    assert refs[loaded.sop["mono2"]].name == (f"dicomweb:{loaded.a.uid}/{refs[loaded.sop['mono2']].series_uid}/"
                                              f"{loaded.sop['mono2']}")


@pytest.mark.parametrize("kind", ["mono2", "mono1", "jpeg"])
def test_retrieved_films_decode_through_ingest_bone_white(client, loaded, kind):
    ref = next(r for r in client.instances(loaded.a.uid) if r.sop_uid == loaded.sop[kind])
    rad = load(client.retrieve(ref), name=ref.name)
    original = np.asarray(Image.open(loaded.source[kind]).convert("L"), np.float32) / 255
    # MONOCHROME1 is stored inverted: ingest must turn it back, so it correlates positively
    assert np.corrcoef(rad.pixels.ravel(), original.ravel())[0, 1] > 0.98
    assert rad.source_format == "DICOM"


def test_a_compressed_film_arrives_as_stored_not_transcoded(client, loaded):
    ref = next(r for r in client.instances(loaded.a.uid) if r.sop_uid == loaded.sop["jpeg"])
    ds = pydicom.dcmread(io.BytesIO(client.retrieve(ref)), stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit


def test_an_instance_over_the_size_limit_is_refused_while_it_arrives(client, loaded):
    ref = client.instances(loaded.a.uid)[0]
    with pytest.raises(PacsError, match="too large"):
        client.retrieve(ref, max_bytes=1000)


def test_a_wrong_password_is_an_auth_error_that_does_not_quote_it(orthanc, loaded):
    with pytest.raises(PacsAuthError) as exc:
        PacsClient(orthanc.url, auth_from(user=USER, password="wrong-Pa55"), allow_http=True).check()
    assert "401" in str(exc.value) and "wrong-Pa55" not in str(exc.value)


def test_a_stopped_server_is_unavailable_after_the_tries(stopped_url):
    with pytest.raises(PacsUnavailable, match="cannot reach"):
        PacsClient(stopped_url, auth_from(user=USER, password=PASSWORD), backoff=0.01, allow_http=True).check()


def test_a_url_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(PacsError) as exc:
        PacsClient("http://scorer:hunter2@127.0.0.1:8042/dicom-web")
    assert "hunter2" not in str(exc.value)


def test_credentials_are_never_sent_over_plain_http_to_another_machine_even_when_http_is_allowed():
    with pytest.raises(PacsError, match="https"):
        PacsClient("http://pacs.example.org/dicom-web", auth_from(user="u", password="p"), allow_http=True)
    PacsClient("https://pacs.example.org/dicom-web", auth_from(user="u", password="p"))  # https is fine


def test_tls_certificates_are_verified():
    assert PacsClient("https://pacs.example.org/dicom-web").session.verify is True


class _Stub(BaseHTTPRequestHandler):
    status = 503
    calls = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).calls += 1
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    _Stub.calls = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_5xx_answer_is_retried_up_to_three_tries_then_reported(stub):
    _Stub.status = 503
    with pytest.raises(PacsUnavailable, match="503"):
        PacsClient(f"http://127.0.0.1:{stub.server_port}/dicom-web", backoff=0.01, allow_http=True).check()
    assert _Stub.calls == 3


def test_a_4xx_answer_is_not_retried(stub):
    _Stub.status = 400
    with pytest.raises(PacsError, match="400"):
        PacsClient(f"http://127.0.0.1:{stub.server_port}/dicom-web", backoff=0.01, allow_http=True).check()
    assert _Stub.calls == 1


def test_a_token_wins_over_user_and_password_and_is_never_shown():
    auth = auth_from_env({"PNEUMO_DICOMWEB_TOKEN": "tok-123", "PNEUMO_DICOMWEB_USER": "u",
                          "PNEUMO_DICOMWEB_PASSWORD": "p"})
    assert isinstance(auth, BearerAuth) and "tok-123" not in repr(auth)


def test_plain_http_is_allowed_only_where_the_configuration_says_so():
    secrets = {"url": "http://127.0.0.1:8042/dicom-web", "allow_http": True,
               "servers": {"other": {"url": "http://127.0.0.1:8043/dicom-web"}}}
    assert [s.allow_http for s in servers_from(secrets)] == [True, False]
    env = {"PNEUMO_DICOMWEB_URL": "http://127.0.0.1:8042/dicom-web"}
    assert servers_from(None, env=env)[0].allow_http is False
    assert servers_from(None, env=dict(env, PNEUMO_DICOMWEB_ALLOW_HTTP="1"))[0].allow_http is True


def test_servers_come_from_secrets_before_the_environment_and_hide_credentials():
    secrets = {"url": "https://a.example/dicom-web", "user": "u", "password": "pw-secret",
               "servers": {"radiology": {"url": "https://b.example/dicom-web", "token": "t"}}}
    servers = servers_from(secrets, env={"PNEUMO_DICOMWEB_URL": "https://env.example/dicom-web"})
    assert [(s.name, s.url) for s in servers] == [("default", "https://a.example/dicom-web"),
                                                   ("radiology", "https://b.example/dicom-web")]
    assert "pw-secret" not in repr(servers)
    assert [s.url for s in servers_from(None, env={"PNEUMO_DICOMWEB_URL": "https://env.example/dw"})] == [
        "https://env.example/dw"]
    assert servers_from(None, env={}) == []


def test_a_search_that_fills_its_limit_is_refused_rather_than_silently_cut(client, loaded):
    assert len(client.search_studies(date_from="20240105", date_to="20240105", modalities=())) == 1
    with pytest.raises(PacsError, match="narrow the search"):
        client.search_studies(date_from="20240105", date_to="20240105", modalities=(), limit=1)
