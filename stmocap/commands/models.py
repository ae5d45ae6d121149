"""``stmocap models``: which files each profile needs, where to get them, and whether they are here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_models(args: argparse.Namespace) -> int:
    from stmocap.models.checkpoints import PROFILES, check_file, files_for, models_dir

    root = args.dir or models_dir()
    given = {"hmr2": args.hmr2, "hmr2-config": args.hmr2_config, "densepose-cse": args.densepose,
             "smpl": args.smpl, "temporal": args.checkpoint}
    if args.hmr2 is not None and args.hmr2_config is None:  # upstream layout: two folders up
        given["hmr2-config"] = Path(args.hmr2).parent.parent / "model_config.yaml"
    profiles = [args.profile] if args.profile else list(PROFILES)
    problems: list[str] = []
    print(f"model files (user-supplied ones are looked for in {root}; set $STMOCAP_MODELS or --dir)")
    for profile in profiles:
        print(f"\nprofile {profile}:")
        for f in files_for(profile):
            status = check_file(f, f.path(given.get(f.key), root), deep=args.check)
            if not status.found:
                state = "MISSING" if f.required else "absent (optional)"
            elif status.problem:
                state = "BAD"
            else:
                state = "ok (checked)" if args.check else "found"
            print(f"  {f.key:<20} {state:<18} {status.path}")
            print(f"  {'':<20} {f.description}")
            if f.option != "(built in)":
                print(f"  {'':<20} get it: {f.source}; or pass {f.option} PATH")
            print(f"  {'':<20} sha256: {f.sha256 or 'not published upstream (keys and shapes checked)'}"
                  + (f"; this file: {status.sha256}" if status.sha256 and status.sha256 != f.sha256 else ""))
            if status.problem and (f.required or status.found):
                problems.append(status.line())
    if args.check and problems:
        for line in problems:
            print(f"stmocap: error: {line}", file=sys.stderr)
        return 2
    if not args.check:
        print("\n(found = present; `stmocap models --check` loads and verifies every file)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="which model files each profile needs, where to get them, whether they are here",
        description="List the model files of each profile (lite: shipped; paper: HMR2.0, DensePose-CSE, "
                    "optional SMPL and temporal weights the user brings), where to obtain each, the "
                    "expected sha256 where known, and whether each is found. --check loads every "
                    "file and verifies it (format, sha256, keys and shapes); a wrong, truncated or "
                    "mismatched file is one line naming the file and the problem, and the exit "
                    "status is 2.")
    p.add_argument("--profile", choices=["lite", "paper"], help="only this profile (default: both)")
    p.add_argument("--check", action="store_true", help="load and verify every file (slow for big files)")
    p.add_argument("--dir", type=Path, help="folder holding the user's model files "
                                            "(default: $STMOCAP_MODELS or ~/.cache/stmocap/models)")
    p.add_argument("--hmr2", type=Path, help="HMR2.0 checkpoint (epoch=35-step=1000000.ckpt)")
    p.add_argument("--hmr2-config", type=Path, help="its model_config.yaml (default: two folders up)")
    p.add_argument("--densepose", type=Path, help="DensePose-CSE model-zoo .pkl")
    p.add_argument("--smpl", type=Path, help="SMPL_NEUTRAL.pkl")
    p.add_argument("--checkpoint", type=Path, help="temporal network checkpoint (stmocap train)")
    p.set_defaults(func=cmd_models)
