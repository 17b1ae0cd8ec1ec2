"""A hostile PACS cannot exhaust memory or time, nor send us elsewhere (issue #27, items 2
and 3): an endless listing, a huge answer, a redirect, a server that trickles one byte a second,
a `Retry-After` of an hour. Each is answered with one line of ours, quickly, through the
library, the app's page function and the command line."""
from __future__ import annotations

import os
import sys
import time
import tracemalloc

import pytest

from conftest import REPO
from harness.hostile_pacs import STUDY_UID, HostilePacs, hostile_pacs, run_measured
from harness.orthanc_server import PASSWORD, USER
from pneumo_core.pacs.client import InstanceRef, PacsClient, PacsError, PacsRefused, PacsUnavailable
from pneumo_core.pacs.config import PacsLimits, ServerConfig, auth_from, limits_from, servers_from

from .conftest import RequestSpy

REF = InstanceRef(STUDY_UID, "1.2.3.4", "1.2.3.4.5")
LIMIT_ENV = ("PNEUMO_DICOMWEB_MAX_INSTANCES", "PNEUMO_DICOMWEB_STUDY_SECONDS", "PNEUMO_DICOMWEB_ANSWER_SECONDS")


@pytest.fixture(autouse=True)
def _no_limits_from_the_shell(monkeypatch):
    for k in LIMIT_ENV:
        monkeypatch.delenv(k, raising=False)


def _stub_client(url: str, **limits: float) -> PacsClient:
    return PacsClient(url, allow_http=True, limits=PacsLimits(**limits))


def test_an_endless_listing_is_refused_at_the_cap_saying_there_were_more():
    with hostile_pacs("endless") as url, _stub_client(url, max_instances=50) as client:
        with pytest.raises(PacsRefused, match=r"^refused: the study lists more than 50 instances \(at least 51\)"):
            client.instances(STUDY_UID)
    assert len(HostilePacs.sent) == 1  # one page of cap + 1 says it all


def test_a_huge_answer_with_no_length_is_refused_before_it_is_held_whole():
    with hostile_pacs("huge", huge_mb=100) as url, _stub_client(url) as client:
        tracemalloc.start()
        try:
            with pytest.raises(PacsError, match="sent an answer larger than 16 MB; it was not read"):
                client.instances(STUDY_UID)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 48 * 2**20  # the 16 MB cap and one chunk, never the 100 MB


@pytest.mark.parametrize("mode, call", [("redirect", lambda c: c.retrieve(REF)),
                                        ("redirect-search", lambda c: c.check()),
                                        ("redirect-search", lambda c: c.instances(STUDY_UID))],
                         ids=["wado", "search", "listing"])
def test_a_redirect_is_not_followed_and_said_in_one_line(mode, call):
    with hostile_pacs(mode) as url, _stub_client(url) as client:
        with pytest.raises(PacsError, match=r"answered with a redirect \(HTTP 302\); redirects are not followed$") as e:
            call(client)
        assert HostilePacs.target_hits == []
        assert HostilePacs.target.rsplit(":", 1)[1] not in str(e.value)  # the redirect's target is not echoed


CALLS = {"search": lambda c: c.check(), "listing": lambda c: c.instances(STUDY_UID), "wado": lambda c: c.retrieve(REF)}


@pytest.mark.parametrize("mode, call", [("trickle", "search"), ("trickle", "listing"), ("trickle", "wado"),
                                        ("trickle-headers", "listing"), ("trickle-body", "listing")])
def test_a_server_trickling_a_byte_a_second_is_stopped_at_the_answer_deadline(mode, call):
    """Cut in the status line, the headers (which then read as ended: the answer must still be
    refused, not taken as an empty listing) or a body with no length."""
    call = CALLS[call]
    with hostile_pacs(mode) as url, _stub_client(url, answer_seconds=2) as client:
        t0 = time.monotonic()
        with pytest.raises(PacsUnavailable, match=r"did not send a whole answer within 2 s; stopped$"):
            call(client)
        elapsed = time.monotonic() - t0
    assert 2 <= elapsed < 6  # the deadline, plus urllib3's retries on the shut sockets (1 s back-off)


def test_a_study_whose_films_trickle_costs_one_deadline_not_one_per_film():
    from pneumo_core.pacs.score import fetch_instances
    from pneumo_core.pacs.study import plan_study
    with hostile_pacs("trickle-wado") as url, _stub_client(url, answer_seconds=2) as client:
        plan = plan_study(client.instances(STUDY_UID))
        t0 = time.monotonic()
        fetched = [f for batch in fetch_instances(client, plan) for f in batch]
        elapsed = time.monotonic() - t0
        wado = {path for _, path in HostilePacs.sent if "/series/" in path}
    assert [f.error.split(":")[0] for f in fetched] == ["cannot retrieve instance", "not retrieved", "not retrieved"]
    assert "within 2 s" in fetched[2].error and len(wado) == 1 and elapsed < 6


def test_a_trickle_through_an_http_proxy_is_stopped_at_the_deadline_too():
    with hostile_pacs("trickle-headers") as url, _stub_client(url, answer_seconds=2) as client:
        client.session.proxies = {"http": url.rsplit("/", 1)[0]}  # the stub answers as the proxy too
        t0 = time.monotonic()
        with pytest.raises(PacsUnavailable, match=r"did not send a whole answer within 2 s; stopped$"):
            client.instances(STUDY_UID)
        assert time.monotonic() - t0 < 6
    assert HostilePacs.sent[0][1].startswith("http://127.0.0.1:")  # it went through the proxy


def test_retry_after_an_hour_is_not_obeyed():
    with hostile_pacs("retry-after") as url, _stub_client(url) as client:
        t0 = time.monotonic()
        with pytest.raises(PacsUnavailable, match=r"failed \(HTTP 503\) on each of 3 tries"):
            client.check()
    assert time.monotonic() - t0 < 10 and len(HostilePacs.sent) == 3


def test_a_real_pacs_study_over_the_cap_is_refused_and_at_the_cap_is_listed(orthanc, loaded):
    auth = auth_from(user=USER, password=PASSWORD)
    with PacsClient(orthanc.url, auth, allow_http=True, limits=PacsLimits(max_instances=3)) as client:
        with pytest.raises(PacsRefused, match="more than 3 instances"):
            client.instances(loaded.a.uid)  # 4 instances
    with PacsClient(orthanc.url, auth, allow_http=True, limits=PacsLimits(max_instances=4)) as client:
        assert len(client.instances(loaded.a.uid)) == 4


def test_the_study_time_limit_stops_retrievals_once_passed_without_a_request(orthanc, loaded):
    auth = auth_from(user=USER, password=PASSWORD)
    with PacsClient(orthanc.url, auth, allow_http=True, limits=PacsLimits(study_seconds=1)) as client:
        refs = client.instances(loaded.a.uid)
        assert client.retrieve(refs[0])  # within the study's second
        time.sleep(1.1)
        spy = RequestSpy(client.session)
        with pytest.raises(PacsUnavailable, match=r"the study took longer than its time limit \(1 s\)"):
            client.retrieve(refs[1])
        assert spy.sent == []
        assert client.instances(loaded.b.uid)  # another study has its own clock


def test_limits_come_from_the_servers_secrets_then_the_environment():
    env = {"PNEUMO_DICOMWEB_MAX_INSTANCES": "20", "PNEUMO_DICOMWEB_STUDY_SECONDS": "90"}
    assert limits_from({"max_instances": 5}, env) == PacsLimits(max_instances=5, study_seconds=90)
    assert limits_from(None, {}) == PacsLimits()
    [server] = servers_from({"url": "https://pacs.example/dicom-web", "max_instances": 7, "answer_seconds": "12"}, {})
    assert server.limits == PacsLimits(max_instances=7, answer_seconds=12)
    [from_env] = servers_from(None, dict(env, PNEUMO_DICOMWEB_URL="https://pacs.example/dicom-web"))
    assert from_env.limits.max_instances == 20


@pytest.mark.parametrize("key, value", [("max_instances", "0"), ("max_instances", "-3"), ("max_instances", "many"),
                                        ("study_seconds", "nan"), ("answer_seconds", "-1")])
def test_a_limit_that_is_not_a_positive_number_is_refused(key, value):
    with pytest.raises(PacsError, match=f"limit {key} must be a"):
        limits_from({key: value}, {})


def test_the_app_pages_study_obeys_its_servers_configured_cap():
    from pneumo_core.app.pacs.pacs_page import score_study
    with hostile_pacs("endless") as url:
        server = ServerConfig("hostile", url, allow_http=True, limits=PacsLimits(max_instances=10))
        with pytest.raises(PacsRefused, match="more than 10 instances"):
            score_study(server, STUDY_UID, "efficientnet_lite0")


def _cli(url: str, **env: str):
    base = {k: v for k, v in os.environ.items() if not k.startswith("PNEUMO_DICOMWEB_")}
    return run_measured([sys.executable, "-m", "pneumo_core", "predict", "--quiet", "--dicomweb", url,
                         "--study", STUDY_UID], dict(base, PNEUMO_DICOMWEB_ALLOW_HTTP="1", **env), REPO,
                        limit_s=90, limit_mb=2048)


@pytest.mark.parametrize("mode, env, line", [
    ("endless", {}, "error: refused: the study lists more than 1000 instances"),
    ("huge", {}, "error: the PACS at 127.0.0.1:"),
    ("trickle", {"PNEUMO_DICOMWEB_ANSWER_SECONDS": "3"}, "error: the PACS at 127.0.0.1:")])
def test_the_command_line_answers_a_hostile_pacs_in_one_line_quickly_and_small(mode, env, line):
    with hostile_pacs(mode) as url:
        run = _cli(url, **env)
    assert not run.killed and run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [run.stderr.strip()] and run.stderr.startswith(line), run.stderr
    assert run.seconds < 60 and run.peak_mb < 1200
