"""What the tests, the benchmarks and the scripts share without importing each other: sample
pictures made offline (`non_radiographs`) and the app served headless on a free port for
Chromium (`local_server`). Not part of the product: nothing in `pneumo_core` imports it."""

__all__ = ["non_radiographs", "local_server"]
