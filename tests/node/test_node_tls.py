"""The node's DICOM connections over TLS (`node.tls`): dcmtk's `storescu` with a certificate the
hospital's CA signed gets its film queued, one without a certificate or over plain TCP gets
nothing queued; results sent by C-STORE over TLS reach a dcmtk `storescp` that demands the
node's certificate, and are not sent to one whose certificate the node does not trust.
Certificates are made with the `openssl` command."""
from __future__ import annotations

import queue
import socket
import subprocess
import time
from datetime import date

import pydicom
import pytest
from pydicom.uid import generate_uid

from harness.orthanc_server import dicom_from_image, free_port, new_study
from pneumo_core.audit import AuditLog
from pneumo_core.node import CStoreDestination, DicomwebDestination, NodeConfig, NodeConfigError
from pneumo_core.node.dedupe import Seen
from pneumo_core.node.receiver import start_receiver
from pneumo_core.node.sender import CStoreSender
from pneumo_core.node.tls import client_context, server_context
from pneumo_core.pacs.errors import PacsError


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _signed(folder, name: str, subject: str) -> None:
    """A key and a certificate for `subject`, signed by the CA in `folder`."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / f"{name}.key"), "-subj", subject,
             "-out", str(folder / f"{name}.csr"))
    (folder / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(folder / f"{name}.csr"), "-CA", str(folder / "ca.crt"), "-CAkey",
             str(folder / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(folder / f"{name}.crt"),
             "-extfile", str(folder / f"{name}.ext"))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"), "-subj",
             "/CN=Hospital test CA", "-days", "2", "-out", str(folder / "ca.crt"))
    _signed(folder, "node", "/CN=localhost")
    _signed(folder, "modality", "/CN=modality")
    return folder


@pytest.fixture()
def tls_receiver(pki, tmp_path):
    inbox: queue.Queue = queue.Queue(maxsize=4)
    config = NodeConfig(("MODALITY",), DicomwebDestination("https://pacs.example/dicom-web"), host="127.0.0.1",
                        port=0)
    context = server_context(pki / "node.crt", pki / "node.key", pki / "ca.crt")
    server = start_receiver(config, inbox, Seen(), AuditLog(tmp_path / "audit.jsonl"), context)
    yield server.server_address[1], inbox
    server.shutdown()


@pytest.fixture()
def film(test_images, tmp_path):
    path = tmp_path / "film.dcm"
    path.write_bytes(dicom_from_image(test_images["NORMAL"][0], new_study("ACC-T1", date(2025, 1, 1)),
                                      generate_uid(), 1))
    return path


def _send(port: int, film, *tls: str) -> subprocess.CompletedProcess:
    return subprocess.run(["storescu", *tls, "-aet", "MODALITY", "-aec", "PNEUMO", "127.0.0.1", str(port), str(film)],
                          capture_output=True, text=True, timeout=60)


def test_a_sender_with_a_certificate_from_the_hospital_ca_gets_its_film_queued_over_tls(pki, tls_receiver, film):
    port, inbox = tls_receiver
    sent = _send(port, film, "+tls", str(pki / "modality.key"), str(pki / "modality.crt"), "+cf", str(pki / "ca.crt"))
    assert sent.returncode == 0, sent.stderr
    assert inbox.qsize() == 1


@pytest.mark.parametrize("how", ["anonymous TLS", "plain TCP"])
def test_a_sender_without_a_client_certificate_gets_nothing_queued(pki, tls_receiver, film, how):
    port, inbox = tls_receiver
    tls = ("+tla", "+cf", str(pki / "ca.crt")) if how == "anonymous TLS" else ()
    sent = _send(port, film, *tls)
    assert sent.returncode != 0
    assert inbox.qsize() == 0


def test_tls_files_that_cannot_be_used_are_refused_at_start(pki):
    with pytest.raises(NodeConfigError, match="TLS files cannot be used"):
        server_context(pki / "node.crt", pki / "modality.key")  # a key that is not the certificate's


def _listening(port: int, wait_s: float = 10.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def test_results_sent_by_c_store_over_tls_reach_an_ae_that_demands_the_nodes_certificate(pki, film, tmp_path):
    received, port = tmp_path / "received", free_port()
    received.mkdir()
    scp = subprocess.Popen(["storescp", "+tls", str(pki / "modality.key"), str(pki / "modality.crt"), "+cf",
                            str(pki / "ca.crt"), "-rc", "-aet", "RESULTS", "-od", str(received), str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _listening(port), "dcmtk's storescp did not start"
        dataset = pydicom.dcmread(film)
        sender = CStoreSender(CStoreDestination("RESULTS", "127.0.0.1", port), "PNEUMO",
                              client_context(pki / "ca.crt", pki / "node.crt", pki / "node.key"))
        assert sender.send(dataset, [dataset])[0] == "stored"
        untrusting = CStoreSender(CStoreDestination("RESULTS", "127.0.0.1", port), "PNEUMO",
                                  client_context(pki / "node.crt"))  # trusts only itself, not the CA
        with pytest.raises(PacsError):
            untrusting.send(dataset, [dataset])
    finally:
        scp.terminate()
        scp.wait(timeout=10)
    assert [pydicom.dcmread(p).SOPInstanceUID for p in received.iterdir()] == [dataset.SOPInstanceUID]
