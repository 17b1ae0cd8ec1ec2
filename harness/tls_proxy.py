"""A TLS proxy in front of the app, as docs/serving.md deploys it (the browser on https, the app on plain
http behind it), for measuring what the browser then holds (a `Secure` cookie). It terminates TLS with a
self-signed certificate for 127.0.0.1 and forwards the bytes both ways, websockets included; it does not
read or change a request, so what the app answers is what the browser gets."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["tls_proxy"]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextmanager
def tls_proxy(backend_port: int, port: int | None = None) -> Iterator[int]:
    """https://127.0.0.1:PORT forwarded to http://127.0.0.1:`backend_port`; yields PORT (a free one by default)."""
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="tls-proxy-"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_self_signed(folder))
    loop = asyncio.new_event_loop()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            app_r, app_w = await asyncio.open_connection("127.0.0.1", backend_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, app_w), _pipe(app_r, client_w))

    listening = threading.Event()

    def run() -> None:  # the loop lives in its own thread (the caller's may run one already: Playwright's)
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", port, ssl=context))
        listening.set()
        try:
            loop.run_forever()
        finally:
            server.close()

    thread = threading.Thread(target=run, name="tls-proxy", daemon=True)
    thread.start()
    if not listening.wait(30):
        raise RuntimeError("the TLS proxy did not start")
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
