"""TLS for the node's DICOM connections (DICOM PS3.15 B.1, the secure transport connection
profile), both ways.

- Its port: pynetdicom wraps each accepted connection with `server_context`. With a client CA
  the node demands a certificate signed by it (mutual TLS), so only the hospital's own senders
  can even open an association; the AE-title allow-list still applies inside the tunnel,
  because an AE title is a name anyone can type.
- Results by C-STORE: `client_context` verifies the destination's certificate against the
  given CA and its host name, and presents the node's own certificate when it has one."""
from __future__ import annotations

import ssl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .config import NodeConfigError

__all__ = ["server_context", "client_context"]


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the node's certificate chain; with `client_ca`, senders
    must present a certificate that it signed. `NodeConfigError` when a file cannot be used."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with _usable():
        ctx.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            ctx.load_verify_locations(str(client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ client context that trusts `ca` for the destination (host name checked) and,
    given `cert` and `key`, presents them. `NodeConfigError` when a file cannot be used."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with _usable():
        ctx.load_verify_locations(str(ca))
        if cert is not None and key is not None:
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


@contextmanager
def _usable() -> Iterator[None]:
    try:
        yield
    except (OSError, ssl.SSLError) as exc:
        raise NodeConfigError(f"the node's TLS files cannot be used ({type(exc).__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc})") from None
