"""A `requests` session whose every answer is bounded, so one PACS cannot exhaust memory or hold
a request forever, and cannot send us anywhere else.

- **No redirect is followed.** A DICOMweb server has no reason to send one, and following it
  lets the PACS make this machine fetch any URL (another port, another host, plain http). A
  3xx answer is an error in one line.
- **Size:** every answer is read as it arrives and refused once it passes its cap (the JSON
  cap for searches and listings, ingest's file limit for an instance), before it sits whole in
  memory; `Content-Length` is not trusted, only counted bytes.
- **Time:** each answer, headers and body, must arrive whole by a deadline. A per-read timeout
  never fires against a server that sends one byte a second, so a timer shuts the request's
  socket down when the deadline passes, wherever the read is blocked (status line, headers or
  body). Sockets are reached through the connection classes below, which hand theirs to the
  request's watch just before the answer is read.
- `Retry-After` is not obeyed (urllib3 would sleep as long as the server asks): see `client`.
"""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import PacsError, PacsUnavailable

__all__ = ["Bounds", "BoundedSession", "BoundedAdapter"]

_CHUNK = 1 << 20
_local = threading.local()  # the watch of the request this thread is sending


class _Watch:
    """One request's sockets; `fire` shuts them all down, now and any added later."""

    def __init__(self) -> None:
        self.fired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            if self.fired:
                _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:  # shutdown, not close: it wakes a read blocked in another thread
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _watched(cls: type) -> type:
    class Watched(cls):
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            watch = getattr(_local, "watch", None)
            if watch is not None:
                watch.add(self.sock)
            return super().getresponse(*args, **kwargs)
    Watched.__name__ = f"Watched{cls.__name__}"
    return Watched


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _watched(HTTPConnection)


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _watched(HTTPSConnection)


class BoundedAdapter(HTTPAdapter):
    """An adapter whose connections hand their socket to the request's watch, directly or
    through an HTTP proxy (`HTTPS_PROXY`). A SOCKS proxy keeps its own connections, which the
    timer cannot reach: there only the size caps and the per-read timeout hold."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> urllib3.PoolManager:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


@dataclass(frozen=True)
class Bounds:
    """What one answer may cost: `max_bytes` of body, arriving by `deadline` (time.monotonic);
    `too_large` and `too_slow` are the lines said when it does not."""
    max_bytes: int
    deadline: float
    too_large: str
    too_slow: str


class BoundedSession(requests.Session):
    """Every answer read whole here, within its `Bounds` (the session's default, or the ones a
    caller sets with `bounded`), and refused if it is a redirect.

    Args:
        where: the server's host:port, for messages.
        max_bytes: the default body cap (JSON answers).
        seconds: the default time for one whole answer.
    """

    def __init__(self, where: str, max_bytes: int, seconds: float) -> None:
        super().__init__()
        self.where, self.max_bytes, self.seconds = where, max_bytes, seconds
        self.headers["Accept-Encoding"] = "identity"  # a compressed answer could inflate past what was counted

    def default_bounds(self) -> Bounds:
        return Bounds(self.max_bytes, time.monotonic() + self.seconds,
                      f"the PACS at {self.where} sent an answer larger than {self.max_bytes // 2**20} MB; "
                      "it was not read",
                      f"the PACS at {self.where} did not send a whole answer within {self.seconds:.0f} s; stopped")

    @contextmanager
    def bounded(self, bounds: Bounds) -> Iterator[None]:
        """The requests this thread sends inside are held to `bounds` instead of the defaults."""
        before = getattr(_local, "bounds", None)
        _local.bounds = bounds
        try:
            yield
        finally:
            _local.bounds = before

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        b = getattr(_local, "bounds", None) or self.default_bounds()
        left = b.deadline - time.monotonic()
        if left <= 0:
            raise PacsUnavailable(b.too_slow)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        watch = _Watch()
        _local.watch = watch
        timer = threading.Timer(left, watch.fire)
        timer.daemon = True
        timer.start()
        try:
            response = super().send(request, **kwargs)
            if 300 <= response.status_code < 400:
                response.close()
                raise PacsError(f"the PACS at {self.where} answered with a redirect (HTTP {response.status_code}); "
                                "redirects are not followed")
            body = _read(response, b.max_bytes, b.too_large)
            if watch.fired:  # a socket shut mid-headers reads as their end: what came is not the answer
                raise PacsUnavailable(b.too_slow)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            if watch.fired:
                raise PacsUnavailable(b.too_slow) from None
            raise
        finally:
            timer.cancel()
            _local.watch = None
        response._content = body
        response._content_consumed = True
        return response


def _read(response: requests.Response, max_bytes: int, too_large: str) -> bytes:
    """The body, counted as it arrives; refused past `max_bytes` (or when the announced length is)."""
    try:
        announced = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        announced = 0
    if announced > max_bytes:
        response.close()
        raise PacsError(too_large)
    buf = bytearray()
    for chunk in response.iter_content(_CHUNK):
        buf += chunk
        if len(buf) > max_bytes:
            response.close()
            raise PacsError(too_large)
    return bytes(buf)
