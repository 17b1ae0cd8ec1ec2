"""One DICOMweb server: search (QIDO-RS), retrieve (WADO-RS) and store (STOW-RS).

Searches and stores go through `dicomweb-client`; an instance is fetched with a plain streamed
GET instead, so its size is checked while it arrives (`io.limits.MAX_FILE_BYTES`) and the bytes
reach `io.ingest.load` untouched, exactly as an upload would.

Why it is built this way:
- every search names one study or a few days (`rules`): no wildcard, no empty search;
- every UID is checked against the DICOM grammar before it goes into a URL (`rules.check_uid`),
  whether the user typed it or the PACS sent it; a listing with one invalid UID is refused whole;
- one retry policy for every request (urllib3's, on the session): 3 tries with exponential
  back-off on connection errors and 5xx answers, none on 4xx (a wrong password or a missing
  study does not get better by asking again); dicomweb-client's own retrying is switched off;
- https only unless plain http is allowed for a test server (`transport.check_url`); TLS
  certificates are always verified (`REQUESTS_CA_BUNDLE` names a hospital CA); credentials
  travel only in the Authorization header, never in the URL;
- every answer is bounded (`bounded`): no redirect followed, a size cap counted as it arrives
  (JSON answers and instance bodies alike), a deadline for each whole answer, and a time limit
  for each study's listing and retrievals (`config.PacsLimits`); a study listing more than
  `max_instances` is refused. urllib3 does not obey `Retry-After`: a server could ask for
  any wait;
- `PacsError` messages are written here, never copied from the exception below: those
  quote URLs, and a query may hold an accession number.
"""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

import time

import pydicom
import requests
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from ..io.limits import MAX_FILE_BYTES
from .bounded import BoundedAdapter, BoundedSession, Bounds
from .config import PacsLimits, allow_http_from_env, limits_from
from .errors import PacsAuthError, PacsError, PacsRefused, PacsUnavailable
from .records import (HEADER_FIELDS, INSTANCE_FIELDS, RADIOGRAPH_MODALITIES, STUDY_FIELDS, InstanceRef, StudySummary,
                      int_or_none, value)
from .rules import MAX_SEARCH_DAYS, check_accession, check_dates, check_modality, check_uid, is_uid
from .transport import BearerAuth, check_url, first_part

__all__ = ["PacsError", "PacsUnavailable", "PacsAuthError", "PacsRefused", "BearerAuth", "StudySummary",
           "InstanceRef", "PacsClient", "PacsLimits", "RADIOGRAPH_MODALITIES", "TIMEOUT", "TRIES"]

TIMEOUT = (5.0, 60.0)  # seconds to connect, seconds between bytes
TRIES = 3
BACKOFF = 0.5  # urllib3: no wait before the 2nd try, then 2 x BACKOFF, doubling
_T = TypeVar("_T")


class PacsClient:
    """One DICOMweb server (its base URL, e.g. `https://pacs.example/dicom-web`).

    Args:
        url: the DICOMweb root; no credentials in it.
        auth: `requests` auth (`HTTPBasicAuth`, `BearerAuth`) or None; see `config.auth_from`.
        timeout: (connect, read) seconds for every request.
        tries: attempts per request on connection errors and 5xx answers.
        allow_http: plain http for a test server; None reads `PNEUMO_DICOMWEB_ALLOW_HTTP`.
        limits: instances per study, time per study and per answer, JSON answer size; None
            reads the environment (`config.limits_from`).
    """

    def __init__(self, url: str, auth: AuthBase | None = None, timeout: tuple[float, float] = TIMEOUT,
                 tries: int = TRIES, backoff: float = BACKOFF, allow_http: bool | None = None,
                 limits: PacsLimits | None = None) -> None:
        from dicomweb_client.api import DICOMwebClient

        parts = check_url(url, auth, allow_http_from_env() if allow_http is None else allow_http)
        self.url = url.rstrip("/")
        self.where = parts.hostname + (f":{parts.port}" if parts.port else "")  # for messages
        self.timeout = timeout
        self.tries = tries
        self.limits = limits_from() if limits is None else limits
        self._headers: dict[str, pydicom.Dataset] = {}
        self._study_started: dict[str, float] = {}
        self.session = BoundedSession(self.where, self.limits.max_answer_bytes, self.limits.answer_seconds)
        self.session.auth = auth
        self.session.verify = True
        retry = Retry(total=tries - 1, connect=tries - 1, read=tries - 1, status=tries - 1, other=0,
                      backoff_factor=backoff, status_forcelist=range(500, 600),
                      allowed_methods=frozenset({"GET", "POST"}),  # STOW of fixed UIDs is safe to repeat
                      raise_on_status=False, respect_retry_after_header=False)
        adapter = BoundedAdapter(max_retries=retry)
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
        """A cheap authenticated request, so a wrong URL or password fails before any work: it
        asks for a study UID nobody issues (`2.25.0`, the all-zero UUID), so it lists nothing."""
        self._call(lambda: self._dw.search_for_studies(search_filters={"StudyInstanceUID": "2.25.0"}, limit=1,
                                                        fields=["StudyInstanceUID"]))

    def search_studies(self, accession: str | None = None, date_from: str | None = None, date_to: str | None = None,
                       modalities: Iterable[str] = RADIOGRAPH_MODALITIES, study_uid: str | None = None,
                       limit: int = 1000) -> list[StudySummary]:
        """Studies matching every criterion given (dates as YYYYMMDD, inclusive); one search per
        modality, merged. The criteria must name a study (an exact accession number or study
        UID) or a short date range (`rules`); patient criteria are deliberately not offered.
        A search that fills `limit` raises instead of returning a silently cut list (servers
        page differently, and not every one honours an offset)."""
        filters = self._criteria(accession, date_from, date_to, study_uid)
        mods = [check_modality(m) for m in modalities]
        found: dict[str, StudySummary] = {}
        for modality in mods or [None]:
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

    @staticmethod
    def _criteria(accession: str | None, date_from: str | None, date_to: str | None,
                  study_uid: str | None) -> dict[str, str]:
        """The QIDO-RS filters, each checked (`rules`); refused when none names a study or a few days."""
        filters: dict[str, str] = {}
        if accession is not None and accession.strip():
            filters["AccessionNumber"] = check_accession(accession)
        if study_uid is not None:
            filters["StudyInstanceUID"] = check_uid(study_uid, "study")
        if date_from or date_to:
            first, last = check_dates(date_from, date_to)
            filters["StudyDate"] = f"{first}-{last}"
        if not filters:
            raise PacsRefused(f"refused: a search needs an exact accession number or a study date range of at most "
                              f"{MAX_SEARCH_DAYS} days")
        return filters

    def _study_bounds(self, study_uid: str, max_bytes: int, too_large: str) -> Bounds:
        """One answer's bounds within a study: its own deadline, or the study's when sooner (the
        study's clock starts at its first request: the listing, or a first retrieval); refused
        before any request once the study's time has run out."""
        now = time.monotonic()
        study_end = self._study_started.setdefault(study_uid, now) + self.limits.study_seconds
        default = self.session.default_bounds()
        if study_end >= default.deadline:
            return Bounds(max_bytes, default.deadline, too_large, default.too_slow)
        too_slow = (f"the study took longer than its time limit ({self.limits.study_seconds:.0f} s) on the PACS at "
                    f"{self.where}; stopped")
        if study_end <= now:  # nothing more is asked of this study
            raise PacsUnavailable(too_slow)
        return Bounds(max_bytes, study_end, too_large, too_slow)

    def _list_instances(self, study_uid: str) -> list[dict]:
        """The study's listing, page by page, refused once it passes `limits.max_instances`: a
        listing that never ends (every page full) must not grow without limit. A page that adds
        no instance not already listed ends it too (a server that ignores the offset)."""
        cap = self.limits.max_instances
        items: list[dict] = []
        seen: set[str] = set()
        while True:
            bounds = self._study_bounds(study_uid, self.limits.max_answer_bytes,
                                        self.session.default_bounds().too_large)
            with self.session.bounded(bounds):
                page = self._call(lambda: self._dw.search_for_instances(
                    study_instance_uid=study_uid, fields=INSTANCE_FIELDS, offset=len(items),
                    limit=cap + 1 - len(items)))
            new = [it for it in page if value(it, "SOPInstanceUID") not in seen]
            if not new:
                return items
            items += new
            seen.update(value(it, "SOPInstanceUID") for it in new)
            if len(items) > cap:
                raise PacsRefused(f"refused: the study lists more than {cap} instances (at least {len(items)}), the "
                                  "limit set by max_instances (PNEUMO_DICOMWEB_MAX_INSTANCES); nothing was fetched")

    def instances(self, study_uid: str) -> list[InstanceRef]:
        """Every instance of a study, with what its header says it shows. Refused whole when the
        PACS lists an instance of another study or with an invalid UID: each one ends up in a
        URL and in an output line; or more instances than `limits.max_instances`."""
        check_uid(study_uid, "study")
        items = self._list_instances(study_uid)
        refs = [InstanceRef(value(it, "StudyInstanceUID", study_uid), value(it, "SeriesInstanceUID"),
                            value(it, "SOPInstanceUID"), value(it, "SOPClassUID"), value(it, "Modality").upper(),
                            value(it, "ViewPosition").upper(), value(it, "BodyPartExamined").upper(),
                            int_or_none(value(it, "InstanceNumber")))
                for it in items]
        bad = sum(r.study_uid != study_uid or not (is_uid(r.series_uid) and is_uid(r.sop_uid)) for r in refs)
        if bad:
            raise PacsRefused(f"refused: the PACS listed {bad} instance{'s' if bad > 1 else ''} with an invalid or "
                              "foreign UID; the study was not read")
        return sorted(refs, key=lambda r: (r.series_uid, r.number if r.number is not None else 0, r.sop_uid))

    def study_header(self, study_uid: str) -> pydicom.Dataset:
        """The study's Patient and General Study attributes, for a report stored in it (asked
        once per study and client: a job storing one report per film asks once)."""
        check_uid(study_uid, "study")
        if study_uid not in self._headers:
            items = self._call(lambda: self._dw.search_for_studies(search_filters={"StudyInstanceUID": study_uid},
                                                                    fields=HEADER_FIELDS, limit=2))
            if len(items) != 1:
                raise PacsError(f"study not found on the PACS at {self.where}")
            self._headers[study_uid] = pydicom.Dataset.from_json(items[0])
        return self._headers[study_uid]

    # --- WADO-RS -----------------------------------------------------------------------
    def retrieve(self, ref: InstanceRef, max_bytes: int = MAX_FILE_BYTES) -> bytes:
        """The instance's DICOM file as stored (`transfer-syntax=*`: no transcoding), refused once
        it passes `max_bytes`, so a huge object never sits whole in memory; within the answer's
        and the study's time limits."""
        url = (f"{self.url}/studies/{check_uid(ref.study_uid, 'study')}/series/{check_uid(ref.series_uid, 'series')}"
               f"/instances/{check_uid(ref.sop_uid, 'instance')}")
        accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'

        def get() -> bytes:
            r = self.session.get(url, headers={"Accept": accept}, timeout=self.timeout)
            r.raise_for_status()
            return first_part(r.content, r.headers.get("Content-Type", ""))
        bounds = self._study_bounds(ref.study_uid, max_bytes + 4096,  # 4 KB for the part headers
                                    f"instance too large (limit is {max_bytes // 2**20} MB)")
        with self.session.bounded(bounds):
            return self._call(get)

    # --- STOW-RS -----------------------------------------------------------------------
    def has_instance(self, study_uid: str, sop_uid: str) -> bool:
        """Whether the study already holds an instance with this SOP Instance UID."""
        check_uid(study_uid, "study")
        check_uid(sop_uid, "instance")
        items = self._call(lambda: self._dw.search_for_instances(
            study_instance_uid=study_uid, search_filters={"SOPInstanceUID": sop_uid}, fields=["SOPInstanceUID"]))
        return any(value(it, "SOPInstanceUID") == sop_uid for it in items)

    def store(self, dataset: pydicom.Dataset) -> None:
        """Stores one instance in its study; raises `PacsError` unless the server accepted it."""
        for keyword, what in (("StudyInstanceUID", "study"), ("SeriesInstanceUID", "series"),
                              ("SOPInstanceUID", "instance")):
            check_uid(str(dataset.get(keyword, "")), what)
        result = self._call(lambda: self._dw.store_instances([dataset],
                                                             study_instance_uid=str(dataset.StudyInstanceUID)))
        failed = getattr(result, "FailedSOPSequence", None) if result is not None else None
        if failed:
            raise PacsError(f"the PACS at {self.where} did not store the report")
