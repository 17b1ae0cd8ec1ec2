"""The node's parts that need no model: its settings, the allow-list and the bounded queue's
back-pressure at the network (a real pynetdicom receiver, films sent by dcmtk's `storescu`),
the command line's refusals, and what a film already dealt with is."""
from __future__ import annotations

import argparse
import logging
import queue
import subprocess
from datetime import date

import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import dicom_from_image, new_study
from pneumo_core.audit import AuditLog
from pneumo_core.cli import listen
from pneumo_core.node import CStoreDestination, DicomwebDestination, NodeConfig, NodeConfigError, parse_ae_address
from pneumo_core.node.dedupe import Seen
from pneumo_core.node.receiver import start_receiver

WEB = DicomwebDestination("https://pacs.example/dicom-web")


@pytest.mark.parametrize("settings, why", [
    (dict(allowed=()), "at least one allowed calling AE title"),
    (dict(allowed=("MODALITY",), ae_title="A" * 17), "node's AE title"),
    (dict(allowed=("BAD\\AE",)), "allowed calling AE title"),
    (dict(allowed=("   ",)), "allowed calling AE title"),
    (dict(allowed=("MODALITY",), queue_size=0), "at least one film"),
    (dict(allowed=("MODALITY",), queue_wait_s=-1), "0 to 60 seconds"),
    (dict(allowed=("MODALITY",), port=70000), "port"),
    (dict(allowed=("MODALITY",), destination=None), "destination"),
])
def test_a_node_setting_that_cannot_work_is_refused_at_start(settings, why):
    with pytest.raises(NodeConfigError, match=why):
        NodeConfig(**{"destination": WEB, **settings})


def test_a_c_store_destination_is_written_ae_at_host_colon_port():
    assert parse_ae_address("ORTHANC@pacs.example:4242") == CStoreDestination("ORTHANC", "pacs.example", 4242)
    for bad in ("ORTHANC@pacs.example", "pacs.example:4242", "WAY_TOO_LONG_AE_TITLE@h:1", "A@h:99999"):
        with pytest.raises(NodeConfigError):
            parse_ae_address(bad)


def test_a_film_is_dealt_with_by_uid_or_by_content_and_the_oldest_are_forgotten_past_capacity():
    seen = Seen(capacity=2)
    seen.add("uid:1", "sha256:a")
    assert seen.any_of("uid:9", "sha256:a") and seen.any_of("uid:1", None) and not seen.any_of("uid:9", None)
    seen.add("uid:2")
    assert "uid:1" not in seen and "sha256:a" in seen and "uid:2" in seen


@pytest.fixture()
def two_films(test_images, tmp_path):
    study = new_study("ACC-Q1", date(2025, 1, 1))
    paths = []
    for i in (1, 2):
        paths.append(tmp_path / f"film{i}.dcm")
        paths[-1].write_bytes(dicom_from_image(test_images["NORMAL"][i], study, generate_uid(), i))
    return paths


def test_a_film_that_finds_the_queue_full_past_the_wait_is_answered_out_of_resources_and_logged(two_films, tmp_path,
                                                                                                caplog):
    inbox: queue.Queue = queue.Queue(maxsize=1)  # nothing takes films off it: the second one finds it full
    config = NodeConfig(("MODALITY",), WEB, host="127.0.0.1", port=0, queue_wait_s=0.2)
    server = start_receiver(config, inbox, Seen(), AuditLog(tmp_path / "audit.jsonl"))
    try:
        with caplog.at_level(logging.WARNING, logger="pneumo_core.node"):
            sent = subprocess.run(["storescu", "-v", "-aet", "MODALITY", "-aec", "PNEUMO", "127.0.0.1",
                                   str(server.server_address[1]), *map(str, two_films)],
                                  capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    assert "Received Store Response (Success)" in sent.stderr
    assert "Received Store Response (Refused: OutOfResources)" in sent.stderr
    assert inbox.qsize() == 1
    assert any("queue full" in r.getMessage() and "0xA700" in r.getMessage() for r in caplog.records)


def _listen(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    listen.register(parser.add_subparsers())
    args = parser.parse_args(["listen", *argv])
    return args.func(args)


@pytest.mark.parametrize("argv, says", [
    (["--dicomweb", "https://pacs.example/dicom-web"], "allowed calling AE title"),
    (["--allow", "MODALITY"], "one destination"),
    (["--allow", "MODALITY", "--dicomweb", "https://p.example/dicom-web", "--store-to", "A@h:104"], "one destination"),
    (["--allow", "MODALITY", "--store-to", "pacs.example:104"], "AE@host:port"),
])
def test_listen_refuses_to_start_with_one_error_line_and_exit_2(argv, says, capsys):
    assert _listen(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0]



def test_listen_refuses_to_start_when_the_audit_trail_cannot_be_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PNEUMO_AUDIT_LOG", str(tmp_path))  # a folder where the trail's file should be
    assert _listen(["--allow", "MODALITY", "--dicomweb", "https://pacs.example/dicom-web"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "audit trail" in err[0] and "cannot be written" in err[0]


def test_the_nodes_own_heatmap_image_sent_back_is_told_from_a_film_so_it_is_never_scored(test_images, tmp_path):
    """A router rule broader than CR/DX sends the node's map back; scoring it would loop."""
    import io

    import pydicom

    from pneumo_core.node.worker import own_result
    from pneumo_core.pacs.results_dicom import MANUFACTURER
    film = dicom_from_image(test_images["NORMAL"][0], new_study("ACC-OWN", date(2024, 1, 1)), generate_uid(), 1)
    ds = pydicom.dcmread(io.BytesIO(film))
    assert not own_result(film)
    ds.Modality, ds.Manufacturer = "OT", MANUFACTURER
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert own_result(buffer.getvalue())
    ds.Manufacturer = "ACME digitiser"  # another maker's secondary capture may be a film: scored as usual
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert not own_result(buffer.getvalue()) and not own_result(b"not dicom at all")
