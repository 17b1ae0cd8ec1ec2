"""TLS for the node's DICOM port (DICOM PS3.15 B.1, the secure transport connection profile):
pynetdicom wraps each accepted connection with this context. With a client CA the node
demands a certificate signed by it (mutual TLS), so only the hospital's own senders can even
open an association; the AE-title allow-list still applies inside the tunnel, because an AE
title is a name anyone can type."""
from __future__ import annotations

import ssl
from pathlib import Path

from .config import NodeConfigError

__all__ = ["server_context"]


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the node's certificate chain; with `client_ca`, senders
    must present a certificate that it signed. `NodeConfigError` when a file cannot be used."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            ctx.load_verify_locations(str(client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise NodeConfigError(f"the node's TLS files cannot be used ({type(exc).__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc})") from None
    return ctx
