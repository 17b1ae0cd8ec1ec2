"""One DICOMweb server: search (QIDO-RS), retrieve (WADO-RS) and store (STOW-RS).

Searches and stores go through `dicomweb-client`; an instance is fetched with a plain streamed
GET instead, so its size is checked while it arrives (`io.limits.MAX_FILE_BYTES`) and the bytes
reach `io.ingest.load` untouched, exactly as an upload would.

Why it is built this way:
- one retry policy for every request (urllib3's, on the session): 3 tries with exponential
  back-off on connection errors and 5xx answers, none on 4xx (a wrong password or a missing
  study does not get better by asking again); dicomweb-client's own retrying is switched off;
- TLS certificates are always verified (requests' default; `REQUESTS_CA_BUNDLE` names a
  hospital CA); credentials travel only in the Authorization header, never in the URL;
  a URL carrying `user:password@` is refused, and so is sending credentials over plain
  http to anything but this machine;
- `PacsError` messages are written here, never copied from the exception below: those
  quote URLs, and a query may hold an accession number.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Callable, Iterable, TypeVar
from urllib.parse import ParseResult, urlparse

import pydicom
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from ..io.limits import MAX_FILE_BYTES
from .errors import PacsAuthError, PacsError, PacsUnavailable
from .records import (HEADER_FIELDS, INSTANCE_FIELDS, RADIOGRAPH_MODALITIES, STUDY_FIELDS, InstanceRef, StudySummary,
                      int_or_none, value)

__all__ = ["PacsError", "PacsUnavailable", "PacsAuthError", "BearerAuth", "StudySummary", "InstanceRef",
           "PacsClient", "RADIOGRAPH_MODALITIES", "TIMEOUT", "TRIES"]

TIMEOUT = (5.0, 60.0)  # seconds to connect, seconds between bytes
TRIES = 3
BACKOFF = 0.5  # urllib3: no wait before the 2nd try, then 2 x BACKOFF, doubling
_CHUNK = 1 << 20
_T = TypeVar("_T")



class BearerAuth(AuthBase):
    """`Authorization: Bearer <token>`; its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, auth: AuthBase | None) -> ParseResult:
    """The parsed URL; refuses credentials in it, schemes other than http(s), and plain http with
    credentials to another machine. Messages never repeat the URL (it might hold a password)."""
    try:
        parts = urlparse(url)
        host = parts.hostname or ""
    except ValueError:
        raise PacsError("the DICOMweb URL is not a valid URL") from None
    if parts.username or parts.password or "@" in parts.netloc:
        raise PacsError("the DICOMweb URL must not carry credentials; set PNEUMO_DICOMWEB_USER and "
                        "PNEUMO_DICOMWEB_PASSWORD (or PNEUMO_DICOMWEB_TOKEN) instead")
    if parts.scheme not in ("http", "https") or not host:
        raise PacsError("the DICOMweb URL must start with https:// (or http:// on this machine) and name a host")
    if parts.query or parts.fragment:
        raise PacsError("the DICOMweb URL must not have a query or fragment")
    if parts.scheme == "http" and auth is not None and not _is_loopback(host):
        raise PacsError(f"refusing to send credentials to {host} over plain http; use https")
    return parts


def _first_part(body: bytes, content_type: str) -> bytes:
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


class PacsClient:
    """One DICOMweb server (its base URL, e.g. `https://pacs.example/dicom-web`).

    Args:
        url: the DICOMweb root; no credentials in it.
        auth: `requests` auth (`HTTPBasicAuth`, `BearerAuth`) or None; see `config.auth_from`.
        timeout: (connect, read) seconds for every request.
        tries: attempts per request on connection errors and 5xx answers.
    """

    def __init__(self, url: str, auth: AuthBase | None = None, timeout: tuple[float, float] = TIMEOUT,
                 tries: int = TRIES, backoff: float = BACKOFF) -> None:
        from dicomweb_client.api import DICOMwebClient

        parts = _check_url(url, auth)
        self.url = url.rstrip("/")
        self.where = parts.hostname + (f":{parts.port}" if parts.port else "")  # for messages
        self.timeout = timeout
        self.tries = tries
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = True
        retry = Retry(total=tries - 1, connect=tries - 1, read=tries - 1, status=tries - 1, other=0,
                      backoff_factor=backoff, status_forcelist=range(500, 600),
                      allowed_methods=frozenset({"GET", "POST"}),  # STOW of fixed UIDs is safe to repeat
                      raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # chunk_size: a store is sent as one body that urllib3 can re-send on a retry
        self._dw = DICOMwebClient(self.url, session=self.session, timeout=timeout, chunk_size=MAX_FILE_BYTES)
        self._dw.set_http_retry_params(retry=False)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PacsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- errors ------------------------------------------------------------------------
    def _call(self, fn: Callable[[], _T]) -> _T:
        """Runs one request, turning whatever fails into a `PacsError` worded here."""
        try:
            return fn()
        except requests.HTTPError as exc:
            raise self._http_error(exc.response.status_code if exc.response is not None else 0) from None
        except requests.exceptions.SSLError:
            raise PacsUnavailable(f"the TLS certificate of the PACS at {self.where} could not be verified") from None
        except requests.Timeout:
            raise PacsUnavailable(f"the PACS at {self.where} did not answer in time "
                                  f"({self.timeout[1]:.0f} s, {self.tries} tries)") from None
        except (requests.ConnectionError, requests.exceptions.RetryError):
            raise PacsUnavailable(f"cannot reach the PACS at {self.where} "
                                  f"(connection refused or failed, {self.tries} tries)") from None
        except (ValueError, KeyError, TypeError):  # an answer that is not what DICOMweb promises
            raise PacsError(f"the PACS at {self.where} sent an answer that is not valid DICOMweb") from None

    def _http_error(self, status: int) -> PacsError:
        if status in (401, 403):
            return PacsAuthError(f"the PACS at {self.where} refused the credentials (HTTP {status})")
        if status >= 500:
            return PacsUnavailable(f"the PACS at {self.where} failed (HTTP {status}) on each of {self.tries} tries")
        if status == 404:
            return PacsError(f"not found on the PACS at {self.where} (HTTP 404)")
        return PacsError(f"the PACS at {self.where} rejected the request (HTTP {status})")

    # --- QIDO-RS -----------------------------------------------------------------------
    def check(self) -> None:
        """A cheap authenticated request, so a wrong URL or password fails before any work."""
        self._call(lambda: self._dw.search_for_studies(limit=1, fields=["StudyInstanceUID"]))

    def search_studies(self, accession: str | None = None, date_from: str | None = None, date_to: str | None = None,
                       modalities: Iterable[str] = RADIOGRAPH_MODALITIES, study_uid: str | None = None,
                       limit: int = 1000) -> list[StudySummary]:
        """Studies matching every criterion given (dates as YYYYMMDD, inclusive); one search per
        modality, merged. Patient criteria are deliberately not offered. A search that fills
        `limit` raises instead of returning a silently cut list (servers page differently, and
        not every one honours an offset): narrow it, e.g. to a shorter date range."""
        filters: dict[str, str] = {}
        if accession:
            filters["AccessionNumber"] = accession
        if study_uid:
            filters["StudyInstanceUID"] = study_uid
        if date_from or date_to:
            filters["StudyDate"] = f"{date_from or ''}-{date_to or ''}"
        found: dict[str, StudySummary] = {}
        for modality in list(modalities) or [None]:
            f = dict(filters, **({"ModalitiesInStudy": modality} if modality else {}))
            items = self._call(lambda f=f: self._dw.search_for_studies(search_filters=f, fields=STUDY_FIELDS,
                                                                        limit=limit))
            if len(items) >= limit:
                raise PacsError(f"{limit} or more studies match; narrow the search (a shorter date range)")
            for it in items:
                uid = value(it, "StudyInstanceUID")
                tag = f"{pydicom.datadict.tag_for_keyword('ModalitiesInStudy'):08X}"
                found.setdefault(uid, StudySummary(
                    uid, value(it, "AccessionNumber"), value(it, "StudyDate"),
                    tuple(str(m) for m in it.get(tag, {}).get("Value", [])),
                    int_or_none(value(it, "NumberOfStudyRelatedSeries")),
                    int_or_none(value(it, "NumberOfStudyRelatedInstances"))))
        return sorted(found.values(), key=lambda s: (s.date, s.accession, s.study_uid))

    def instances(self, study_uid: str) -> list[InstanceRef]:
        """Every instance of a study, with what its header says it shows."""
        items = self._call(lambda: self._dw.search_for_instances(study_instance_uid=study_uid,
                                                                  fields=INSTANCE_FIELDS, get_remaining=True))
        refs = [InstanceRef(value(it, "StudyInstanceUID", study_uid), value(it, "SeriesInstanceUID"),
                            value(it, "SOPInstanceUID"), value(it, "SOPClassUID"), value(it, "Modality").upper(),
                            value(it, "ViewPosition").upper(), value(it, "BodyPartExamined").upper(),
                            int_or_none(value(it, "InstanceNumber")))
                for it in items]
        return sorted(refs, key=lambda r: (r.series_uid, r.number if r.number is not None else 0, r.sop_uid))

    def study_header(self, study_uid: str) -> pydicom.Dataset:
        """The study's Patient and General Study attributes, for a report stored in it."""
        items = self._call(lambda: self._dw.search_for_studies(search_filters={"StudyInstanceUID": study_uid},
                                                                fields=HEADER_FIELDS, limit=2))
        if len(items) != 1:
            raise PacsError(f"study not found on the PACS at {self.where}")
        return pydicom.Dataset.from_json(items[0])

    # --- WADO-RS -----------------------------------------------------------------------
    def retrieve(self, ref: InstanceRef, max_bytes: int = MAX_FILE_BYTES) -> bytes:
        """The instance's DICOM file as stored (`transfer-syntax=*`: no transcoding), refused once
        it passes `max_bytes`, so a huge object never sits whole in memory."""
        url = f"{self.url}/studies/{ref.study_uid}/series/{ref.series_uid}/instances/{ref.sop_uid}"
        accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'

        def get() -> bytes:
            with self.session.get(url, headers={"Accept": accept}, stream=True, timeout=self.timeout) as r:
                r.raise_for_status()
                if int(r.headers.get("Content-Length") or 0) > max_bytes + 4096:  # 4 KB for the part headers
                    raise PacsError(f"instance too large (limit is {max_bytes // 2**20} MB)")
                buf = bytearray()
                for chunk in r.iter_content(_CHUNK):
                    buf += chunk
                    if len(buf) > max_bytes + 4096:
                        raise PacsError(f"instance too large (limit is {max_bytes // 2**20} MB)")
                return _first_part(bytes(buf), r.headers.get("Content-Type", ""))
        return self._call(get)

    # --- STOW-RS -----------------------------------------------------------------------
    def store(self, dataset: pydicom.Dataset) -> None:
        """Stores one instance in its study; raises `PacsError` unless the server accepted it."""
        result = self._call(lambda: self._dw.store_instances([dataset],
                                                             study_instance_uid=str(dataset.StudyInstanceUID)))
        failed = getattr(result, "FailedSOPSequence", None) if result is not None else None
        if failed:
            raise PacsError(f"the PACS at {self.where} did not store the report")
