"""A stub DICOMweb server that answers every QIDO-RS instance listing with one instance whose
SOP Instance UID climbs out of the WADO-RS path (`1.2.3/../../../../system`): what a hostile or
broken PACS would send. `HostilePacs.sent` lists the requests it received, as (method, path)."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlparse

__all__ = ["HOSTILE_UID", "HostilePacs", "hostile_pacs"]

HOSTILE_UID = "1.2.3/../../../../system"


class HostilePacs(BaseHTTPRequestHandler):
    sent: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).sent.append(("GET", self.path))
        study = self.path.split("/")[3]
        offset = int(parse_qs(urlparse(self.path).query).get("offset", ["0"])[0])
        body = json.dumps([] if offset else [{"0020000D": {"vr": "UI", "Value": [study]},
                                              "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
                                              "00080018": {"vr": "UI", "Value": [HOSTILE_UID]},
                                              "00080060": {"vr": "CS", "Value": ["CR"]}}]).encode()  # one page
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def hostile_pacs() -> Iterator[str]:
    """The stub on a free loopback port; yields its DICOMweb root URL (`http://127.0.0.1:PORT/dicom-web`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostilePacs)
    HostilePacs.sent = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()
