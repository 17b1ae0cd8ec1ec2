"""What the tests, the benchmarks and the scripts share without importing each other: sample
pictures made offline (`non_radiographs`), hostile files crafted in memory (`hostile_files`),
the app served headless on a free port for Chromium (`local_server`), and a real Orthanc with
test studies (`orthanc_server`). Not part of the product: nothing in `pneumo_core` imports it."""

__all__ = ["non_radiographs", "hostile_files", "local_server", "orthanc_server"]
