"""`predict`: score files, folders or a PACS study, one JSON (or CSV) line per film on
stdout in input order, streaming; optional heatmaps (`--cam`) and, for a PACS study, reports
stored back in it (`cli.pacs`). Each film's audit record is written before its line is printed.
Exit 0 all scored, 1 some failed, 2 usage error, an audit trail that cannot be written (refused
before the first film, or the run stopped at the film whose record failed)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..audit import AuditLog, cli_user, default_log
from ..audit.readiness import trail_problem
from ..errors import PneumoError

if TYPE_CHECKING:
    from ..inference.prediction import Prediction

__all__ = ["register"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _scan(paths: list[Path]) -> list[Path]:
    from ..io.scan import scan_paths
    files, notes = scan_paths(paths)
    for note in notes:
        print(note, file=sys.stderr)
    return files


class _Usage(Exception):
    """A usage error: one `error:` line on stderr, exit 2, before any film is scored."""


def _audit_score(log: AuditLog, pred: Prediction, user: str) -> None:
    """One `score` record per film, as the app writes: a PACS instance by its UID, a file by
    the sha256 of the bytes that were read and scored (never its name or path, and never a
    second read: a file refused for its size is recorded without one)."""
    ids = {"model": pred.model, "outcome": pred.status}
    if pred.file.startswith("dicomweb:"):
        ids["instance_uid"] = pred.file.rsplit("/", 1)[1]
    elif pred.sha256 is not None:
        ids["sha256"] = pred.sha256
    log.append(user, "score", **ids)


def _writable_trail() -> AuditLog:
    """The trail, refused before anything is scored when it cannot be written: no result
    without its record (the app refuses the same way, by recording before it shows)."""
    log = default_log()
    problem = trail_problem(log)  # the launcher's check too: one rule for what a usable trail is
    if problem:
        raise _Usage(f"{problem}; nothing was scored")
    return log


def _cmd_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..models.bundle import DATA_DIR
    from ..evaluation.out_of_fold import honest_prediction

    try:
        log = _writable_trail()
        job, files = _inputs(args)
        if isinstance(job, int):  # the PACS side already said why
            return job
        predictor, threshold, cam_writer = _scorer(args)
    except _Usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = (["file", "status", "probability", "label", "threshold", "model", "warnings", "error"]
            + (["site"] if predictor.site is not None else []) + (["cam"] if cam_writer else [])
            + (job.keys if job else []))
    write = _line_writer(args.format, keys)
    errors, printed, user = 0, 0, cli_user()
    predictions = (job.predictions(predictor, threshold, args.batch_size) if job
                   else predictor.predict_sources(((f, str(f)) for f in files), threshold, batch_size=args.batch_size))
    try:
        for pred in tqdm(predictions, total=job.total if job else len(files),
                         desc="predict", unit="img", file=sys.stderr, disable=args.quiet):
            try:  # the record first: a result is printed (or a report stored) only once it is recorded
                _audit_score(log, pred, user)
            except (OSError, PneumoError) as exc:
                print(f"error: the audit trail could not be written ({_why(exc)}); stopped after {printed} "
                      "result(s), the rest were not printed", file=sys.stderr)
                return 2
            pred = honest_prediction(pred, predictor, DATA_DIR)  # a test film under a test-fitted profile: out of fold
            rec, report_failed = _record(pred, job, cam_writer)
            errors += pred.error is not None or report_failed
            write(rec)
            printed += 1
    finally:
        close = getattr(predictions, "close", None)
        if close is not None:  # a PACS job closes its connection
            close()
    return 1 if errors or (job and job.failures) else 0


def _why(exc: BaseException) -> str:
    """An audit failure in one line: the system's reason for an OSError, the trail's own words otherwise."""
    return (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else str(exc)


def _record(pred: Prediction, job, cam_writer) -> tuple[dict, bool]:
    """The film's line, and whether its report failed: its prediction, the stored report's
    name, its heatmap; a report or a heatmap that fails is a warning on this film's line,
    never the end of the batch."""
    failed = False
    try:
        extra = job.extra(pred) if job else {}  # first: a report that could not be stored adds a warning
    except Exception as exc:  # noqa: BLE001 - rendering or storing one film's report must not stop the batch
        pred.warnings.append(f"report not stored ({type(exc).__name__})")
        extra, failed = {"report": None}, True
    rec = pred.to_record()
    rec.update(extra)
    if cam_writer:
        rec["cam"] = None
        if pred.probability is not None:  # no heatmap for what was not read or not assessed
            try:
                rec["cam"] = cam_writer.write(pred)
            except Exception as exc:  # noqa: BLE001 - a heatmap failure must not stop the batch
                rec["warnings"].append(f"heatmap not written ({type(exc).__name__})")
    return rec, failed


def _inputs(args: argparse.Namespace):
    """(a PACS job or its exit code, None) for --dicomweb, else (None, the files to score)."""
    if args.dicomweb or args.study or args.accession or args.store_report:  # a study from a PACS
        from .pacs import open_job
        return open_job(args), []
    if not args.paths:
        raise _Usage("no PATH given")
    files = _scan(args.paths)
    if not files:
        raise _Usage("nothing to score in the given paths")
    return None, files


def _scorer(args: argparse.Namespace):
    """(predictor, threshold, heatmap writer or None), each refused with a usage error."""
    from ..calibration.site import SiteProfileError
    from ..inference.predictor import Predictor, ThresholdError
    from ..models.bundle import WeightsError

    try:
        predictor = Predictor.from_pretrained(args.model, site=args.site)
        threshold = predictor.threshold(args.threshold)
    except (WeightsError, ThresholdError, SiteProfileError) as exc:
        raise _Usage(str(exc)) from None
    if not args.cam:
        return predictor, threshold, None
    from ..inference.saliency import CamWriter
    try:
        return predictor, threshold, CamWriter(predictor, args.cam, method=args.cam_method)
    except (ValueError, OSError) as exc:
        raise _Usage(str(exc)) from None


def _line_writer(fmt: str, keys: list[str]):
    """One flushed stdout line per record: JSON, or CSV under a header (cells a spreadsheet cannot execute)."""
    import csv
    import json

    from ..io.spreadsheet import csv_cell

    if fmt != "csv":
        def write(rec: dict) -> None:
            sys.stdout.write(json.dumps(rec) + "\n")
            sys.stdout.flush()
        return write
    writer = csv.DictWriter(sys.stdout, fieldnames=keys, lineterminator="\n")
    writer.writeheader()

    def write_csv(rec: dict) -> None:
        writer.writerow({k: csv_cell(v) for k, v in dict(rec, warnings="; ".join(rec["warnings"])).items()})
        sys.stdout.flush()
    return write_csv


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("predict", help="score image files or folders; one JSON (or CSV) line per file on stdout")
    r.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    r.add_argument("--model", default=None, help="shipped model name or folder (default efficientnet_lite0)")
    r.add_argument("--threshold", default="balanced", help="balanced, screening, or a number in [0, 1]")
    r.add_argument("--site", metavar="PROFILE", help="a site profile (shipped name or JSON path): site-calibrated "
                   "probability and thresholds")
    r.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    r.add_argument("--batch-size", type=_positive_int, default=32)
    r.add_argument("--cam", type=Path, metavar="OUTDIR", help="also write, per scored film, <stem>.<method>.png (the heatmap over the model's input image) and <stem>.<method>.npy (the map: float32, [0, 1], the model's input size); 'cam' holds the PNG path")
    r.add_argument("--cam-method", default=None, help="saliency method (default: the model's, chosen on validation by a cost-first rule: layercam-occ3 for efficientnet_lite0, linear-occlusion for paper_cnn; occlusion is exact, about 200 forward passes per film; see docs/saliency.md)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--dicomweb", metavar="URL", help="score a study from this DICOMweb server instead of PATHs "
                   "(credentials from PNEUMO_DICOMWEB_USER/_PASSWORD or PNEUMO_DICOMWEB_TOKEN)")
    r.add_argument("--study", metavar="UID", help="with --dicomweb: the StudyInstanceUID")
    r.add_argument("--accession", metavar="ACC", help="with --dicomweb: the study's accession number; required with "
                                                    "--store-report, and checked against the study before a report is "
                                                    "stored")
    r.add_argument("--store-report", action="store_true",
                   help="with --dicomweb: store each scored film's report in its study (Encapsulated PDF)")
    r.set_defaults(func=_cmd_predict)
