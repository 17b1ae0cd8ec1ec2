"""What every screen stands on: where the shipped files are (`paths`), the cached loaders
(`resources`), the background warm-up (`warmup`) and how code waits for it (`readiness`), and
the words and numbers the pages print (`formatting`)."""

__all__ = ["paths", "resources", "warmup", "readiness", "formatting"]
