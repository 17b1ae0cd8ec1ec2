"""`verify`: is every file of a model's bundle present, intact and made for its weights?"""
from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..models.bundle import WeightsError, list_models, resolve_model_dir
    from ..models.manifest import verify_bundle

    try:
        dirs = [resolve_model_dir(args.model)] if args.model else [resolve_model_dir(m) for m in list_models()]
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = False
    for d in dirs:
        problems = verify_bundle(d)
        for p in problems:
            print(f"{d.name}/{p}", file=sys.stderr)
        if not problems:
            print(f"{d.name}: every file present, intact and made for its weights")
        failed |= bool(problems)
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a model bundle's files against its manifest",
                       description="Exit 0 when every file of the bundle is present, matches manifest.json and, "
                                   "where it records one, the weights' sha256; else exit 1, one line per problem.")
    p.add_argument("--model", help="a shipped model's name or a bundle directory (default: every shipped model)")
    p.set_defaults(func=_cmd_verify)
