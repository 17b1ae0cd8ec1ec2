"""What the tests, the benchmarks and the scripts share without importing each other: sample
pictures made offline. Not part of the product: nothing in `pneumo_core` imports it."""

__all__ = ["non_radiographs"]
