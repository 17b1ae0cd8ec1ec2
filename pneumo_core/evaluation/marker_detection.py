"""How well `inference.markers.detect_markers` finds burned-in markers, against films marked by
eye (`data/marker_labels_val.json`: for each film, the cells of a grid x grid partition of the
square film that each marker lies in). A detection is correct when its box meets a marked
cell; a film's marker is found when a correct detection meets it. Cells, not pixel boxes,
because a marker marked by eye on a thumbnail is placed to a cell, not to a pixel.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.preprocess import resize_square
from ..inference.markers import Marker, detect_markers
from ..io.ingest import load

__all__ = ["DEV_FILMS", "labelled_cells", "detector_film", "detector_study"]

DEV_FILMS = 30  # the first films of the labelled list: the detector's thresholds were set looking at these


def labelled_cells(m: Marker, grid: int, side: int) -> set[tuple[int, int]]:
    """The cells of a grid x grid partition of a side x side film that a detection's box meets."""
    e = np.linspace(0, side, grid + 1)
    return {(r, c) for r in range(grid) for c in range(grid)
            if m.top < e[r + 1] and m.bottom > e[r] and m.left < e[c + 1] and m.right > e[c]}


def detector_film(film: np.ndarray, cells: list[list[int]], grid: int) -> dict:
    """One labelled film: detections, how many meet a marked cell, whether a marker was found."""
    marked = {tuple(c) for c in cells}
    found = [labelled_cells(m, grid, film.shape[0]) & marked for m in detect_markers(film)]
    return {"detections": len(found), "correct": sum(bool(f) for f in found), "has_marker": bool(marked),
            "found": bool(marked) and any(found)}


def _detector_summary(rows: list[dict]) -> dict:
    det, ok = sum(r["detections"] for r in rows), sum(r["correct"] for r in rows)
    with_marker = [r for r in rows if r["has_marker"]]
    return {"films": len(rows), "detections": det, "correct": ok, "precision": ok / det if det else None,
            "films_with_marker": len(with_marker), "films_found": sum(r["found"] for r in with_marker),
            "recall": sum(r["found"] for r in with_marker) / len(with_marker) if with_marker else None,
            "films_with_a_false_detection": sum(r["detections"] > r["correct"] for r in rows)}


def detector_study(labels_file: Path, data: Path, size: int = 224) -> dict:
    """The detector against the hand-marked films of `labels_file` (paths relative to `data`),
    decoded and resized square to `size` as the model input is: the development half (the
    first `DEV_FILMS`, looked at while its thresholds were set), the held-out half, and all."""
    labels = json.loads(Path(labels_file).read_text())
    rows = [detector_film(resize_square(load(data / f["file"]).pixels, size), f["marker_cells"], labels["grid"])
            for f in labels["films"]]
    return {"development": _detector_summary(rows[:DEV_FILMS]),
            "held_out": _detector_summary(rows[DEV_FILMS:]), "all": _detector_summary(rows)}
