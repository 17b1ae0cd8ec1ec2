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

What one server may cost us (`PacsLimits`), so a hostile or broken PACS cannot exhaust memory or
hold a request forever: `max_instances` (a study listing more is refused; default 1000),
`study_seconds` (a study's listing and retrievals stop after this long; default 300) and
`answer_seconds` (one answer, headers and body, must arrive within this; default 30), in the
server's secrets section or as `PNEUMO_DICOMWEB_MAX_INSTANCES`, `PNEUMO_DICOMWEB_STUDY_SECONDS`,
`PNEUMO_DICOMWEB_ANSWER_SECONDS`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping

from requests.auth import AuthBase, HTTPBasicAuth

from .errors import PacsError
from .transport import BearerAuth

__all__ = ["ENV_URL", "ENV_USER", "ENV_PASSWORD", "ENV_TOKEN", "ENV_ALLOW_HTTP", "PacsLimits", "ServerConfig",
           "auth_from", "auth_from_env", "allow_http_from_env", "limits_from", "servers_from"]

ENV_URL, ENV_USER, ENV_PASSWORD, ENV_TOKEN = ("PNEUMO_DICOMWEB_URL", "PNEUMO_DICOMWEB_USER",
                                              "PNEUMO_DICOMWEB_PASSWORD", "PNEUMO_DICOMWEB_TOKEN")
ENV_ALLOW_HTTP = "PNEUMO_DICOMWEB_ALLOW_HTTP"
_YES = ("1", "true", "yes")


@dataclass(frozen=True)
class PacsLimits:
    """What one server may cost: a study listing more than `max_instances` is refused; a study's
    listing and retrievals stop after `study_seconds`; each answer must arrive whole within
    `answer_seconds` (a server sending a byte a second never trips a between-bytes timeout);
    a JSON answer (a search, a listing) larger than `max_answer_bytes` is refused as it
    arrives. Instance bodies keep ingest's own file size limit (`io.limits.MAX_FILE_BYTES`)."""
    max_instances: int = 1000
    study_seconds: float = 300.0
    answer_seconds: float = 30.0
    max_answer_bytes: int = 16 * 2**20  # a 1000-instance listing is under 1 MB

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise PacsError(f"the DICOMweb limit {f.name} must be a positive number")


_LIMIT_KEYS = {"max_instances": (int, "PNEUMO_DICOMWEB_MAX_INSTANCES"),
               "study_seconds": (float, "PNEUMO_DICOMWEB_STUDY_SECONDS"),
               "answer_seconds": (float, "PNEUMO_DICOMWEB_ANSWER_SECONDS")}


def limits_from(section: Mapping | None = None, env: Mapping[str, str] | None = None) -> PacsLimits:
    """The limits a server's secrets section sets (`max_instances`, ...), else the environment's
    (`PNEUMO_DICOMWEB_MAX_INSTANCES`, ...), else the defaults."""
    env = os.environ if env is None else env
    given = {}
    for key, (kind, var) in _LIMIT_KEYS.items():
        raw = section.get(key) if section and section.get(key) is not None else env.get(var)
        if raw is None or str(raw).strip() == "":
            continue
        try:
            given[key] = kind(str(raw).strip())
        except ValueError:
            raise PacsError(f"the DICOMweb limit {key} must be a number") from None
    return PacsLimits(**given)


@dataclass(frozen=True)
class ServerConfig:
    """A configured server; its repr shows the name and URL, never the credentials."""
    name: str
    url: str
    auth: AuthBase | None = field(default=None, repr=False, compare=False)
    allow_http: bool = False  # plain http for a test server, by the deployer's explicit choice
    limits: PacsLimits = field(default_factory=PacsLimits)


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
                        str(allow).strip().lower() in _YES, limits_from(section))


def servers_from(secrets: Mapping | None = None, env: Mapping[str, str] | None = None) -> list[ServerConfig]:
    """The configured servers: the secrets' `[dicomweb]` section when present, else the
    environment's `PNEUMO_DICOMWEB_URL` (named "default"); empty when neither is set."""
    env = os.environ if env is None else env
    if secrets:
        out = [_server("default", secrets)] if secrets.get("url") else []
        out += [_server(str(name), s) for name, s in (secrets.get("servers") or {}).items()]
        return out
    if env.get(ENV_URL):
        return [ServerConfig("default", env[ENV_URL], auth_from_env(env), allow_http_from_env(env),
                             limits_from(None, env))]
    return []
