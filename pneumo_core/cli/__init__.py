"""The command line, `python -m pneumo_core COMMAND`: one module per group of commands, each
registering its subcommands on the parser that `main` builds: `predict` (files, folders or a
PACS study, with `pacs` for the study), `report` (evaluate, models, counts), `site` (site
calibration and its study), `drift` (the drift alarm) and `build` (train, select, recalibrate,
fit-ood)."""
from .main import main

__all__ = ["main"]
