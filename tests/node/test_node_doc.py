"""What docs/pacs.md says of the DICOM node's throughput is what `benchmarks/node_throughput.py`
measured (`benchmarks/results/node_throughput.json`)."""
from __future__ import annotations

import json

from conftest import REPO

RECORD = json.loads((REPO / "benchmarks" / "results" / "node_throughput.json").read_text())
DOC = (REPO / "docs" / "pacs.md").read_text()
FLAT = " ".join(DOC.split())


def test_the_node_throughput_table_is_the_benchmarks_own():
    for r in RECORD["results"]:
        assert (f"| {r['side_px']} px, {r['file_mb_mean']:.2f} MB | {r['n']} | {r['films_per_s']:.2f} films/s | "
                f"{r['results_built_s_per_film']:.2f} s | {r['results_sent_s_per_film']:.2f} s |") in DOC


def test_every_benchmarked_film_got_its_sr_and_map_as_the_doc_says():
    assert "Every film was scored and got its SR and map." in FLAT
    for r in RECORD["results"]:
        assert r["outcomes"] == {"stored": r["n"]} and r["held_in_orthanc"] == {"sr": r["n"], "map": r["n"]}
        assert r["storescu_status"] == 0


def test_the_doc_gives_the_load_the_node_was_measured_under_and_sizes_from_the_largest_films():
    before, after = RECORD["loadavg_before"][0], RECORD["loadavg_after"][0]
    assert f"the load average was {before:.1f} before the run and {after:.1f} after" in FLAT
    assert f"{RECORD['cpu_count']} cores shared with other work" in FLAT
    big = max(RECORD["results"], key=lambda r: r["side_px"])
    assert (f"At the measured {big['films_per_s']:.2f} films a second for {big['file_mb_mean']:.0f} MB films, one node "
            f"scores about {big['films_per_s'] * 3600:,.0f} films an hour") in FLAT
    assert f"is about {3000 / big['films_per_s'] / 60:.0f} minutes of work" in FLAT
