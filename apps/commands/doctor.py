"""`asl-edge doctor`: check this machine for what a job needs; exit 1 when that job cannot run here."""

from __future__ import annotations

import argparse
import json

from asl_edge.doctor.context import Facts
from asl_edge.doctor.verdict import JOBS, blocking, diagnose, format_report, report_dict
from asl_edge.errors import SourceError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", choices=JOBS, default="run",
                        help="the job to check for; its missing pieces are failures, the rest warnings (default: run)")
    parser.add_argument("--source", default=None,
                        help="the source the run will read (0, /dev/video0, csi://0, a file): a camera source "
                             "makes the camera checks required")
    parser.add_argument("--json", action="store_true", help="print the checks and the system facts as JSON")


def run(args: argparse.Namespace) -> int:
    if args.source is not None and not args.source.strip():
        # run refuses it too; checked as "no source" it would pass a machine for a run that cannot start
        raise SourceError("--source is empty: pass the source the run will read (0, /dev/video0, csi://0, a URL, "
                          "a video or a folder), or leave --source out")
    facts = Facts()
    results = diagnose(args.job, args.source, facts)
    if args.json:
        print(json.dumps(report_dict(args.job, results, facts, args.source), indent=2, default=str))
    else:
        print(format_report(args.job, results, args.source))
    return 1 if blocking(results) else 0
