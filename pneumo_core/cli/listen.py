"""`listen`: run the DICOM node (`node`) until interrupted: films arrive by C-STORE from the
allowed AE titles, each is scored, and a scored film's results go back by DICOMweb
(`--dicomweb URL`, credentials from `PNEUMO_DICOMWEB_USER`/`_PASSWORD` or `_TOKEN`) or by
C-STORE (`--store-to AE@host:port`). TLS: `--tls-cert`/`--tls-key` on the node's port (client
certificates demanded with `--tls-client-ca`), `--store-tls-ca` for results by C-STORE. One
log line per film on stderr; every film's `score` record and every result's `report_stored`
record in the audit trail. docs/pacs.md says how a hospital wires it.

Exit 2 when it cannot start (a bad setting, a model, site or threshold refused, an audit trail
that cannot be written, the port taken); 0 after SIGINT or SIGTERM, once the queued films are done.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

__all__ = ["register"]


def _config(args: argparse.Namespace):
    from ..node import DicomwebDestination, NodeConfig, parse_ae_address
    if bool(args.dicomweb) == bool(args.store_to):
        raise ValueError("give one destination for the results: --dicomweb URL or --store-to AE@host:port")
    destination = DicomwebDestination(args.dicomweb) if args.dicomweb else parse_ae_address(args.store_to)
    return NodeConfig(tuple(args.allow or ()), destination, args.ae_title, args.host, args.port, args.queue,
                      args.queue_wait)


def _tls(args: argparse.Namespace):
    """(the node port's TLS context or None, the C-STORE destination's or None)."""
    from ..node.tls import client_context, server_context
    server = client = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        server = server_context(args.tls_cert, args.tls_key, args.tls_client_ca)
    if args.store_tls_ca:
        if not args.store_to:
            raise ValueError("--store-tls-ca is for results sent by C-STORE (--store-to)")
        client = client_context(args.store_tls_ca, args.tls_cert, args.tls_key)
    return server, client


def _node(args: argparse.Namespace):
    """The node, built but not started; `ValueError` or `PneumoError` saying why not (an audit
    trail that cannot be written included: no film is taken that could not be recorded)."""
    from ..audit import default_log
    from ..audit.readiness import trail_problem
    from ..inference.predictor import Predictor
    from ..node import Node
    from ..node.sender import sender_for

    config = _config(args)
    server_tls, client_tls = _tls(args)
    problem = trail_problem()
    if problem:
        raise ValueError(problem)
    log = default_log()
    predictor = Predictor.from_pretrained(args.model, site=args.site)
    return Node(config, predictor, args.threshold, sender=sender_for(config.destination, config.ae_title, client_tls),
                audit=log, ssl_context=server_tls)


def _stop_on_term(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut short the queued films' drain
    raise KeyboardInterrupt


def _cmd_listen(args: argparse.Namespace) -> int:
    from ..errors import PneumoError
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    try:
        node = _node(args)
        node.start()
    except (ValueError, PneumoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_term)
    print(f"listening as {node.config.ae_title} on {node.config.host}:{node.port}", file=sys.stderr, flush=True)
    try:
        node.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("listen", help="run a DICOM node: score films a PACS sends by C-STORE, send the results back")
    r.add_argument("--allow", action="append", metavar="AE", help="a calling AE title allowed to send films "
                   "(repeat for several; required: no other AE is accepted)")
    r.add_argument("--ae-title", default="PNEUMO", help="the node's own AE title (default PNEUMO)")
    r.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: loopback; 0.0.0.0 for every address)")
    r.add_argument("--port", type=int, default=11112, help="DICOM port (default 11112)")
    r.add_argument("--queue", type=int, default=16, metavar="N", help="films that may wait to be scored (default 16)")
    r.add_argument("--queue-wait", type=float, default=5.0, metavar="S", help="how long a film that finds the queue "
                   "full waits for a place, its sender waiting, before it is answered 0xA700 out of resources and "
                   "the sender retries it later (default 5)")
    r.add_argument("--dicomweb", metavar="URL", help="store the results by STOW-RS into each film's study here")
    r.add_argument("--store-to", metavar="AE@HOST:PORT", help="or send the results by C-STORE to this AE")
    r.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve DICOM over TLS with this certificate (chain), "
                   "also presented to the destination with --store-tls-ca")
    r.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")
    r.add_argument("--tls-client-ca", type=Path, metavar="PEM", help="with TLS: accept only senders whose "
                   "certificate this CA signed (mutual TLS)")
    r.add_argument("--store-tls-ca", type=Path, metavar="PEM", help="with --store-to: send the results over TLS, "
                   "trusting this CA for the destination's certificate")
    r.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    r.add_argument("--threshold", default="balanced", help="balanced, screening, or a number in [0, 1]")
    r.add_argument("--site", metavar="PROFILE", help="a site profile (shipped name or JSON path)")
    r.set_defaults(func=_cmd_listen)
