"""Which DICOMweb servers this installation may talk to, and with which credentials.

The deployer fixes the servers (Streamlit secrets `[dicomweb]`, or the environment); a page
user only picks among them. A URL typed into a page would turn the app into a proxy into the
hospital network for anyone who can reach it (server-side request forgery).

Secrets (`.streamlit/secrets.toml`)::

    [dicomweb]                      # one server
    url = "https://pacs.example/dicom-web"
    user = "scorer"                 # HTTP basic auth; or token = "..." (bearer)
    password = "..."

    [dicomweb.servers.radiology]    # or several, by name
    url = "https://..."

Environment (the CLI; the app when it has no `[dicomweb]` secrets): `PNEUMO_DICOMWEB_URL`,
`PNEUMO_DICOMWEB_USER` + `PNEUMO_DICOMWEB_PASSWORD`, or `PNEUMO_DICOMWEB_TOKEN`. A token wins
over a user and password.

Plain http is refused unless allowed for a test server: `allow_http = true` in that server's
secrets section, or `PNEUMO_DICOMWEB_ALLOW_HTTP=1` for a server named in the environment (and
for the command line).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from requests.auth import AuthBase, HTTPBasicAuth

from .errors import PacsError
from .transport import BearerAuth

__all__ = ["ENV_URL", "ENV_USER", "ENV_PASSWORD", "ENV_TOKEN", "ENV_ALLOW_HTTP", "ServerConfig", "auth_from",
           "auth_from_env", "allow_http_from_env", "servers_from"]

ENV_URL, ENV_USER, ENV_PASSWORD, ENV_TOKEN = ("PNEUMO_DICOMWEB_URL", "PNEUMO_DICOMWEB_USER",
                                              "PNEUMO_DICOMWEB_PASSWORD", "PNEUMO_DICOMWEB_TOKEN")
ENV_ALLOW_HTTP = "PNEUMO_DICOMWEB_ALLOW_HTTP"
_YES = ("1", "true", "yes")


@dataclass(frozen=True)
class ServerConfig:
    """A configured server; its repr shows the name and URL, never the credentials."""
    name: str
    url: str
    auth: AuthBase | None = field(default=None, repr=False, compare=False)
    allow_http: bool = False  # plain http for a test server, by the deployer's explicit choice


def auth_from(token: str | None = None, user: str | None = None, password: str | None = None) -> AuthBase | None:
    """Bearer when a token is given, else basic auth when a user is, else none."""
    if token:
        return BearerAuth(token)
    if user:
        return HTTPBasicAuth(user, password or "")
    if password:
        raise PacsError("a DICOMweb password is set without a user")
    return None


def auth_from_env(env: Mapping[str, str] | None = None) -> AuthBase | None:
    env = os.environ if env is None else env
    return auth_from(env.get(ENV_TOKEN), env.get(ENV_USER), env.get(ENV_PASSWORD))


def allow_http_from_env(env: Mapping[str, str] | None = None) -> bool:
    """True when `PNEUMO_DICOMWEB_ALLOW_HTTP` is 1, true or yes."""
    env = os.environ if env is None else env
    return str(env.get(ENV_ALLOW_HTTP, "")).strip().lower() in _YES


def _server(name: str, section: Mapping) -> ServerConfig:
    url = section.get("url")
    if not url:
        raise PacsError(f"DICOMweb server {name!r} has no url in the configuration")
    allow = section.get("allow_http", False)
    return ServerConfig(name, str(url), auth_from(section.get("token"), section.get("user"), section.get("password")),
                        str(allow).strip().lower() in _YES)


def servers_from(secrets: Mapping | None = None, env: Mapping[str, str] | None = None) -> list[ServerConfig]:
    """The configured servers: the secrets' `[dicomweb]` section when present, else the
    environment's `PNEUMO_DICOMWEB_URL` (named "default"); empty when neither is set."""
    env = os.environ if env is None else env
    if secrets:
        out = [_server("default", secrets)] if secrets.get("url") else []
        out += [_server(str(name), s) for name, s in (secrets.get("servers") or {}).items()]
        return out
    if env.get(ENV_URL):
        return [ServerConfig("default", env[ENV_URL], auth_from_env(env), allow_http_from_env(env))]
    return []
