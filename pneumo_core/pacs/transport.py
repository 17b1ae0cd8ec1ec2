"""The connection's rules that do not depend on DICOMweb: which URLs are acceptable, how a
bearer token is sent, and how the first part of a multipart answer is cut out.

- https only. Plain http carries patient images and credentials in clear text, so it is
  refused unless the deployer allows it for a test server (`allow_http`); even then
  credentials go over plain http only to this machine (loopback).
- A URL carrying `user:password@` is refused; credentials travel only in the Authorization
  header. Messages never repeat the URL (it might hold a password).
"""
from __future__ import annotations

import re
from urllib.parse import ParseResult, urlparse

import requests
from requests.auth import AuthBase

from ..io.network import is_loopback
from .errors import PacsError, PacsRefused

__all__ = ["BearerAuth", "check_url", "first_part"]


class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>`; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


def check_url(url: str, auth: AuthBase | None, allow_http: bool = False) -> ParseResult:
    """The parsed URL; refuses credentials in it, schemes other than https (http only when
    `allow_http`), and credentials over plain http to another machine."""
    try:
        parts = urlparse(url)
        host = parts.hostname or ""
    except ValueError:
        raise PacsError("the DICOMweb URL is not a valid URL") from None
    if parts.username or parts.password or "@" in parts.netloc:
        raise PacsRefused("refused: the DICOMweb URL must not carry credentials; set PNEUMO_DICOMWEB_USER and "
                          "PNEUMO_DICOMWEB_PASSWORD (or PNEUMO_DICOMWEB_TOKEN) instead")
    if parts.scheme not in ("http", "https") or not host:
        raise PacsError("the DICOMweb URL must start with https:// and name a host")
    if parts.query or parts.fragment:
        raise PacsError("the DICOMweb URL must not have a query or fragment")
    if parts.scheme == "http" and not allow_http:
        raise PacsRefused("refused: plain http:// is allowed only for a test server (PNEUMO_DICOMWEB_ALLOW_HTTP=1, "
                          "or allow_http = true in the server's [dicomweb] secrets); use https://")
    if parts.scheme == "http" and auth is not None and not is_loopback(host):
        raise PacsRefused(f"refused: credentials are not sent to {host} over plain http; use https")
    return parts


def first_part(body: bytes, content_type: str) -> bytes:
    """The first body part of a multipart/related answer (WADO-RS wraps each instance in one)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/") or m is None:
        return body  # a server answering with the bare application/dicom
    delimiter = b"--" + m.group(1).encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise PacsError("the PACS sent a damaged multipart answer")
    head_end = body.find(b"\r\n\r\n", start)
    end = body.find(b"\r\n" + delimiter, head_end + 4)
    if head_end < 0 or end < 0:
        raise PacsError("the PACS sent a damaged multipart answer")
    return body[head_end + 4:end]
