"""The node as one object: the receiver, the queue between it and the scorer, the worker, the
sender, and what they share (what was already dealt with, the audit trail).

    with Node(config, Predictor.from_pretrained()) as node:
        node.serve_forever()   # or, in a test, send films and `node.wait_idle()`
"""
from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from typing import TYPE_CHECKING

from ..audit import AuditLog, default_log
from .config import NodeConfig
from .dedupe import Seen
from .receiver import start_receiver
from .sender import Sender, sender_for
from .worker import Builder, Worker, product_results

if TYPE_CHECKING:
    from ..inference.predictor import Predictor

__all__ = ["Node"]

_log = logging.getLogger("pneumo_core.node")


class Node:
    """A DICOM node scoring the films it receives. `threshold` is an operating point name or a
    number, as for `predict`; `sender` and `build` default to the configured destination's
    and the product's result objects."""

    def __init__(self, config: NodeConfig, predictor: Predictor, threshold: str | float | None = "balanced",
                 sender: Sender | None = None, build: Builder = product_results, audit: AuditLog | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.config, self.predictor = config, predictor
        operating_point = "balanced" if threshold is None else str(threshold)
        self.sender = sender if sender is not None else sender_for(config.destination, config.ae_title)
        self.audit = audit if audit is not None else default_log()
        self.seen = Seen()
        self.inbox: queue.Queue = queue.Queue(config.queue_size)
        self.worker = Worker(self.inbox, predictor, operating_point, self.sender, self.seen, self.audit, build)
        self._ssl, self._server = ssl_context, None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when the configuration said 0)."""
        return self._server.server_address[1] if self._server is not None else self.config.port

    def start(self) -> Node:
        """Listens, then starts scoring; a port that cannot be bound raises `OSError` before any thread starts."""
        self._server = start_receiver(self.config, self.inbox, self.seen, self.audit, self._ssl)
        self.worker.start()
        return self

    def wait_idle(self, timeout_s: float) -> bool:
        """Whether every queued film was dealt with within `timeout_s` (films still arriving are not waited for)."""
        deadline = time.monotonic() + timeout_s
        while self.inbox.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def serve_forever(self) -> None:
        """Blocks until `stop` is called (from a signal handler or another thread)."""
        self._stopped.wait()

    def stop(self) -> None:
        """Stops accepting films, lets the worker finish those already queued, then returns."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self.worker.is_alive():
            self.inbox.put(None)
            self.worker.join()
        self._stopped.set()
        _log.info("DICOM node %s stopped: %s", self.config.ae_title, dict(self.worker.outcomes))

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
