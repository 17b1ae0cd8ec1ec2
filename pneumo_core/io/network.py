"""Which host names and addresses stay on this machine: the one rule behind the launcher's refusal to
listen beyond loopback without login (`app.serve`) and the PACS client's refusal to send credentials
over plain http to another machine (`pacs.transport`).

Loopback means a loopback IP address (127.0.0.0/8, ::1; brackets and case do not matter) or the
name `localhost`, which the hosts file resolves whatever its case. Nothing else counts: `localhost.`
(with the root dot) skips the hosts file and goes to DNS, which may answer with any address; a
subdomain such as `localhost.hospital.example`, any other name, a wildcard address (0.0.0.0, ::)
and an unset address (a server then listens on every interface) are not loopback.
"""
from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str | None) -> bool:
    """True when `host` (an address, a host name, or a URL's host with or without IPv6 brackets)
    can only reach this machine; False when unsure."""
    if not host:
        return False
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name may resolve to any interface
