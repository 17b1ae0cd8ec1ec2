"""The DICOM node end to end: dcmtk's `storescu` sends films to a node started in-process, the
node stores its results in a real Orthanc over DICOMweb (or sends them by C-STORE to dcmtk's
`storescp`), and what Orthanc, the receiving AE and the audit trail hold afterwards is checked.
The model loads once for the module; the films go to one node, the `listen` command in its
own process shows that a resend after a restart stores nothing new either, and an Orthanc
wired as docs/pacs.md says routes a film to the node by itself."""
from __future__ import annotations

import io
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date

import numpy as np
import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from conftest import REPO
from harness.hostile_files import j2k_bomb_dicom
from harness.orthanc_server import (ORTHANC, PASSWORD, PLUGIN, USER, Orthanc, dicom_from_image, free_port, new_study,
                                    start_orthanc)
from pneumo_core.audit import AuditLog, default_log
from pneumo_core.node import CStoreDestination, DicomwebDestination, Node, NodeConfig
from pneumo_core.node.dedupe import Seen
from pneumo_core.node.receiver import Received
from pneumo_core.node.sender import DicomwebSender
from pneumo_core.node.worker import AUDIT_FAILED, Worker
from pneumo_core.pacs.config import auth_from

SENDER = "MODALITY"
CR, DX = "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1"
COMPREHENSIVE_SR, SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.7"
WAIT_S = 60


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc_node"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def predictor():
    from pneumo_core.inference.predictor import Predictor
    return Predictor.from_pretrained()


def _node(orthanc, predictor) -> Node:
    config = NodeConfig((SENDER, "ORTHANC"), DicomwebDestination(orthanc.url), ae_title="PNEUMO", host="127.0.0.1",
                        port=0, queue_size=8)
    sender = DicomwebSender(orthanc.url, auth_from(user=USER, password=PASSWORD), allow_http=True)  # a test server
    return Node(config, predictor, sender=sender)


def _photo(study) -> bytes:
    """A colour photograph as a Secondary Capture, its header saying nothing against it."""
    rgb = np.zeros((128, 128, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = np.linspace(0, 255, 128)[None, :], np.linspace(255, 0, 128)[:, None]
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SECONDARY_CAPTURE, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study.uid, generate_uid(), "OT"
    ds.PatientName, ds.PatientID, ds.AccessionNumber, ds.StudyDate = "DOE^JOAN", "PAT-9", study.accession, study.date
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 128, 128, 3, "RGB"
    ds.PlanarConfiguration, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 0, 8, 8, 7, 0
    ds.PixelData = rgb.tobytes()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def films(orthanc, test_images, tmp_path_factory):
    """Files to send: a chest film, a hand film and a colour photograph that Orthanc already holds
    (it routes them to the node), a film whose pixel data is cut short, and one that declares a
    16000 x 16000 image."""
    folder = tmp_path_factory.mktemp("films")
    chest, hand, photo = (new_study(acc, date(2025, 2, 3), "DX") for acc in ("ACC-N1", "ACC-N2", "ACC-N4"))
    made = {"chest": dicom_from_image(test_images["PNEUMONIA"][5], chest, generate_uid(), 1),
            "hand": dicom_from_image(test_images["NORMAL"][5], hand, generate_uid(), 1, body_part="HAND"),
            "photo": _photo(photo),
            "truncated": dicom_from_image(test_images["NORMAL"][6], chest, generate_uid(), 2, truncate_pixels=True),
            "bomb": j2k_bomb_dicom()}
    paths = {}
    for kind, data in made.items():
        if kind in ("chest", "hand", "photo"):
            orthanc.upload(data)
        paths[kind] = folder / f"{kind}.dcm"
        paths[kind].write_bytes(data)
    paths["studies"] = {"chest": chest.uid, "hand": hand.uid, "photo": photo.uid}
    return paths


def storescu(port: int, *files, calling: str = SENDER) -> subprocess.CompletedProcess:
    """dcmtk sends the files in one association, proposing JPEG 2000 as well as uncompressed (the bomb is J2K)."""
    return subprocess.run(["storescu", "-xv", "-aet", calling, "-aec", "PNEUMO", "127.0.0.1", str(port),
                           *map(str, files)], capture_output=True, text=True, timeout=60)


def instances(orthanc, study_uid: str) -> list[dict]:
    r = requests.get(f"{orthanc.url}/studies/{study_uid}/instances", auth=orthanc.auth, timeout=10)
    return r.json() if r.status_code == 200 else []


def _sop(path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _new_records(before: int) -> list[dict]:
    return list(default_log().records())[before:]


@pytest.fixture(scope="module")
def first_send(orthanc, predictor, films):
    """The five films sent once to a running node; what the audit trail gained meanwhile."""
    before = len(list(default_log().records()))
    node = _node(orthanc, predictor).start()
    try:
        sent = storescu(node.port, *(films[k] for k in ("chest", "hand", "photo", "truncated", "bomb")))
        assert node.wait_idle(WAIT_S), "the node did not finish the films in time"
        yield node, sent, _new_records(before)
    finally:
        node.stop()


def test_a_chest_film_sent_by_storescu_gets_its_sr_and_map_stored_in_its_study_referencing_it(orthanc, films,
                                                                                                first_send, tmp_path):
    node, sent, _ = first_send
    assert sent.returncode == 0, sent.stderr
    study = films["studies"]["chest"]
    assert sorted(_classes(orthanc, study)) == sorted([DX, COMPREHENSIVE_SR, SECONDARY_CAPTURE]), \
        f"the node did {dict(node.worker.outcomes)}"
    film_uid = _sop(films["chest"])
    sr, sc = _read_result(orthanc, study, COMPREHENSIVE_SR), _read_result(orthanc, study, SECONDARY_CAPTURE)
    assert film_uid in [str(ref.ReferencedSOPInstanceUID) for ref in _referenced(sr)]
    assert [str(ref.ReferencedSOPInstanceUID) for ref in sc.SourceImageSequence] == [film_uid]
    sr.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    dumped = subprocess.run(["dsrdump", str(tmp_path / "sr.dcm")], capture_output=True, text=True, timeout=30)
    assert dumped.returncode == 0 and "Pneumonia" in dumped.stdout, dumped.stderr


def _classes(orthanc, study_uid: str) -> list[str]:
    return [i["00080016"]["Value"][0] for i in instances(orthanc, study_uid)]


def _read_result(orthanc, study_uid: str, sop_class: str) -> pydicom.Dataset:
    for item in instances(orthanc, study_uid):
        if item["00080016"]["Value"][0] == sop_class:
            series, sop = item["0020000E"]["Value"][0], item["00080018"]["Value"][0]
            r = requests.get(f"{orthanc.base}/dicom-web/studies/{study_uid}/series/{series}/instances/{sop}",
                             auth=orthanc.auth, headers={"Accept": 'multipart/related; type="application/dicom"'},
                             timeout=10)
            r.raise_for_status()
            body = r.content
            start = body.index(b"DICM") - 128
            return pydicom.dcmread(io.BytesIO(body[start:]))
    raise AssertionError(f"no object of class {sop_class} in the study")


def _referenced(ds: pydicom.Dataset):
    """Every Referenced SOP item anywhere in the object (evidence, source images)."""
    for elem in ds.iterall():
        if elem.keyword == "ReferencedSOPSequence":
            yield from elem.value


# the hand is withheld by the header policy; a colour DICOM is refused by ingest (radiographs are grey)
@pytest.mark.parametrize("kind, film_class, outcome", [("hand", DX, "not_assessed"),
                                                        ("photo", SECONDARY_CAPTURE, "error")])
def test_a_film_that_is_not_a_frontal_chest_radiograph_gets_no_result_and_one_audit_record(orthanc, films,
                                                                                           first_send, kind,
                                                                                           film_class, outcome):
    _, _, records = first_send
    assert _classes(orthanc, films["studies"][kind]) == [film_class]
    uid = _sop(films[kind])
    mine = [r for r in records if r["ids"].get("instance_uid") == uid]
    assert [(r["action"], r["ids"]["outcome"]) for r in mine] == [("score", outcome)]


def test_hostile_films_get_no_result_an_error_record_each_and_the_node_goes_on(orthanc, films, first_send):
    node, _, records = first_send
    outcomes = {r["ids"].get("instance_uid"): r["ids"]["outcome"] for r in records if r["action"] == "score"}
    hostile = {_sop(films["truncated"]), _sop(films["bomb"])}
    assert {uid: outcomes[uid] for uid in hostile} == dict.fromkeys(hostile, "error")
    assert node.worker.is_alive()
    stored = [r["ids"]["instance_uid"] for r in records if r["action"] == "report_stored"]
    assert stored == [_sop(films["chest"])] * 2  # the SR and the map of the chest film, nothing for the others


def test_the_same_films_sent_again_store_nothing_new_and_are_not_scored_again(orthanc, films, first_send):
    node, _, _ = first_send
    before_records = len(list(default_log().records()))
    held = {k: len(instances(orthanc, uid)) for k, uid in films["studies"].items()}
    again = storescu(node.port, films["chest"], films["hand"], films["photo"], films["truncated"])
    assert again.returncode == 0, again.stderr
    assert node.wait_idle(WAIT_S)
    assert {k: len(instances(orthanc, uid)) for k, uid in films["studies"].items()} == held
    assert _new_records(before_records) == []


def test_listen_in_its_own_process_scores_a_resent_film_finds_its_results_stored_and_stops_on_sigterm(
        orthanc, films, first_send):
    """The command as a deployer runs it: a fresh process has not seen the film, so it scores it
    again, and the results' derived UIDs are already in the study: nothing new is stored."""
    held = len(instances(orthanc, films["studies"]["chest"]))
    env = dict(os.environ, PNEUMO_DICOMWEB_USER=USER, PNEUMO_DICOMWEB_PASSWORD=PASSWORD, PNEUMO_DICOMWEB_ALLOW_HTTP="1")
    env.pop("PNEUMO_DICOMWEB_TOKEN", None)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pneumo_core", "listen", "--allow", SENDER, "--host", "127.0.0.1",
                             "--port", str(port), "--dicomweb", orthanc.url, "--queue", "4"],
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    try:
        assert _until(lambda: any("listening as PNEUMO" in line for line in lines)), "".join(lines)
        assert storescu(port, films["chest"]).returncode == 0
        assert _until(lambda: any("already-stored" in line for line in lines)), "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, "".join(lines)
    assert len(instances(orthanc, films["studies"]["chest"])) == held


def _until(condition, wait_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_an_ae_title_not_on_the_allow_list_is_refused_and_recorded(orthanc, films, first_send):
    node, _, _ = first_send
    before = len(list(default_log().records()))
    refused = storescu(node.port, films["chest"], calling="STRANGER")
    assert refused.returncode != 0
    assert "Association Rejected" in refused.stderr + refused.stdout
    assert [(r["user"], r["action"]) for r in _new_records(before)] == [("dicom:STRANGER", "access_denied")]


class RecordingSender:
    """Stands in for the destination: what the worker would have sent."""

    def __init__(self) -> None:
        self.sent: list[list] = []

    def send(self, source, objects):
        self.sent.append(list(objects))
        return "stored", "recorded"


def test_a_film_whose_audit_record_cannot_be_written_gets_no_result(predictor, films, tmp_path):
    sender = RecordingSender()
    unwritable = AuditLog(tmp_path)  # a folder where the trail's file should be
    worker = Worker(queue.Queue(), predictor, "balanced", sender, Seen(), unwritable)
    film = Received(films["chest"].read_bytes(), _sop(films["chest"]), SENDER)
    assert worker.handle(film) == AUDIT_FAILED
    assert sender.sent == []


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_with_a_c_store_destination_the_sr_and_map_arrive_at_that_ae(predictor, films, tmp_path):
    port, received = free_port(), tmp_path / "received"
    received.mkdir()
    scp = subprocess.Popen(["storescp", "-aet", "RESULTS", "-od", str(received), str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _until(lambda: _listening(port), 10), "dcmtk's storescp did not start"
        config = NodeConfig((SENDER,), CStoreDestination("RESULTS", "127.0.0.1", port), host="127.0.0.1", port=0)
        with Node(config, predictor) as node:
            assert storescu(node.port, films["chest"], films["hand"]).returncode == 0
            assert node.wait_idle(WAIT_S)
            assert dict(node.worker.outcomes) == {"stored": 1, "not_assessed": 1}
    finally:
        scp.terminate()
        scp.wait(timeout=10)
    objects = [pydicom.dcmread(p) for p in sorted(received.iterdir())]
    assert sorted(str(ds.SOPClassUID) for ds in objects) == sorted([COMPREHENSIVE_SR, SECONDARY_CAPTURE])
    film_uid = _sop(films["chest"])
    assert all(film_uid in [str(r.ReferencedSOPInstanceUID) for r in _referenced(ds)] +
               [str(r.ReferencedSOPInstanceUID) for r in ds.get("SourceImageSequence", [])] for ds in objects)


def _doc_block(language: str) -> str:
    doc = (REPO / "docs" / "pacs.md").read_text()
    start = doc.index(f"```{language}\n", doc.index("### Wiring it into Orthanc")) + len(language) + 4
    return doc[start:doc.index("```", start)]


@pytest.fixture()
def routing_orthanc(tmp_path):
    """An Orthanc configured as docs/pacs.md says (its `DicomModalities` entry and Lua rule, read
    from the doc), pointing at a node port chosen here, with its own DICOM port on."""
    node_port, http_port = free_port(), free_port()
    script = tmp_path / "route-to-pneumo.lua"
    script.write_text(_doc_block("lua"))
    wiring = json.loads("{" + _doc_block("json").replace("ai-node.hospital.example", "127.0.0.1")
                        .replace("11112", str(node_port)).replace("/etc/orthanc/route-to-pneumo.lua", str(script))
                        + "}")
    config = {"Name": "routing", "StorageDirectory": str(tmp_path / "db"), "IndexDirectory": str(tmp_path / "db"),
              "HttpPort": http_port, "DicomServerEnabled": True, "DicomPort": free_port(),
              "RemoteAccessAllowed": False, "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
              "Plugins": [PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, **wiring}
    (tmp_path / "orthanc.json").write_text(json.dumps(config))
    with open(tmp_path / "orthanc.log", "wb") as log:
        proc = subprocess.Popen([ORTHANC, str(tmp_path / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(proc, http_port, tmp_path)
    try:
        assert _until(lambda: _answers(server), 30), (tmp_path / "orthanc.log").read_text()[-2000:]
        yield server, node_port
    finally:
        server.stop()


def _answers(server) -> bool:
    try:
        return requests.get(f"{server.base}/system", auth=server.auth, timeout=2).ok
    except requests.ConnectionError:
        return False


def test_orthanc_wired_as_the_doc_says_routes_a_new_film_to_the_node_and_gets_its_results_back(routing_orthanc,
                                                                                              predictor, test_images):
    """Orthanc's own C-STORE (its Lua rule's `SendToModality`, as AE ORTHANC); the results it
    gets back (SR, OT) are not routed to the node again."""
    server, node_port = routing_orthanc
    config = NodeConfig(("ORTHANC",), DicomwebDestination(server.url), host="127.0.0.1", port=node_port)
    sender = DicomwebSender(server.url, auth_from(user=USER, password=PASSWORD), allow_http=True)
    study = new_study("ACC-N3", date(2025, 2, 4), "CR")
    with Node(config, predictor, sender=sender) as node:
        server.upload(dicom_from_image(test_images["NORMAL"][7], study, generate_uid(), 1))
        assert _until(lambda: len(_classes(server, study.uid)) == 3), dict(node.worker.outcomes)
        time.sleep(1)  # time for a result wrongly routed back to reach the node
        assert node.wait_idle(WAIT_S)
        assert dict(node.worker.outcomes) == {"stored": 1}
    assert sorted(_classes(server, study.uid)) == sorted([CR, COMPREHENSIVE_SR, SECONDARY_CAPTURE])
