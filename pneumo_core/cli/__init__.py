"""The command line, `python -m pneumo_core COMMAND`: one module per group of commands, each
registering its subcommands on the parser (`main` for scoring, training and evaluation,
`site` for site calibration, `drift` for the drift alarm)."""
from .main import main

__all__ = ["main"]
