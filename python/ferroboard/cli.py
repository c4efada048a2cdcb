"""The ``ferroboard`` command: ``ls``, ``export``, ``verify`` and ``demo``.

Exit codes (docs/reader.md):

* 0: success (``verify``: every record of every file is valid);
* 1: damaged records (``verify``; ``ls`` and ``export`` only with ``--strict``);
* 2: usage error: bad arguments, a missing log path, an optional package missing;
* 3: ``verify`` found torn tails only (the last record of a live or killed writer);
* 4: a file could not be read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Optional

EXIT_OK, EXIT_DAMAGED, EXIT_USAGE, EXIT_TORN, EXIT_IO = 0, 1, 2, 3, 4


class UsageError(Exception):
    """Reported as ``ferroboard: error: ...`` with exit code 2."""


def _existing(path: str) -> str:
    if not os.path.exists(path):
        raise UsageError(f"LOGDIR: no such file or directory: {path}")
    return path


def _damage_notes(reports: list, strict: bool) -> int:
    """Prints damage to stderr; the exit code it calls for."""
    code = EXIT_OK
    for r in reports:
        if not r.clean:
            print(f"warning: {r.describe()}", file=sys.stderr)
            if strict and r.corrupt:
                code = EXIT_DAMAGED
    return code


def cmd_ls(args: argparse.Namespace) -> int:
    from ._cli_scan import format_wall, read_with_progress, summarize

    data, reports = read_with_progress(
        _existing(args.logdir), check_crc=not args.no_crc, quiet=args.quiet, light=True
    )
    rows = summarize(data, reports)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    else:
        runs: dict[str, list] = {}
        for r in rows:
            runs.setdefault(r.run, []).append(r)
        for f in reports:
            runs.setdefault(f.dir_name or ".", [])
        width = max([len(r.tag) for r in rows] + [3])
        kind_width = max([len(r.kind) for r in rows] + [11])
        for run in sorted(runs):
            files = [f for f in reports if (f.dir_name or ".") == run]
            size = sum(f.size for f in files)
            walls = [
                w for f in files for w in (f.first_wall_time, f.last_wall_time) if w is not None
            ]
            span = f"{format_wall(min(walls))} .. {format_wall(max(walls))}" if walls else "-"
            print(
                f"{run}  ({len(files)} file{'s' * (len(files) != 1)}, {size / 1e6:,.2f} MB, {span})"
            )
            for r in runs[run]:
                if r.first_step is None:
                    print(f"  {r.kind:<{kind_width}} {r.tag:<{width}}  {r.detail}")
                    continue
                steps = (
                    f"step {r.first_step}"
                    if r.first_step == r.last_step
                    else f"steps {r.first_step}..{r.last_step}"
                )
                print(f"  {r.kind:<{kind_width}} {r.tag:<{width}}  {r.points:>9,} points  {steps}")
    return _damage_notes(reports, args.strict)


def _kind_outputs(output: str, kinds: list[str]) -> list[tuple[str, str]]:
    """``(kind, file)``: the output itself for one kind, else ``<stem>.<kind><ext>``."""
    if len(kinds) == 1:
        return [(kinds[0], output)]
    stem, ext = os.path.splitext(output)
    return [(k, f"{stem}.{k}{ext}") for k in kinds]


def cmd_export(args: argparse.Namespace) -> int:
    from ._cli_export import (
        AGGREGATES,
        ExportError,
        aggregate_table,
        long_table,
        pattern,
        scalars,
        wide_table,
        write,
    )
    from ._cli_export_kinds import KINDS, kind_table
    from ._cli_scan import read_with_progress

    fmt = args.format or os.path.splitext(args.output)[1].lstrip(".").lower() or "csv"
    fmt = {"jsonl": "json", "pq": "parquet"}.get(fmt, fmt)
    if fmt not in ("csv", "json", "parquet"):
        raise UsageError(f"--format: unknown format {fmt!r}; choose csv, json or parquet")
    kinds = [k.strip() for k in args.kind.split(",") if k.strip()]
    if kinds == ["all"]:
        kinds = list(KINDS)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise UsageError(f"--kind: unknown kinds {bad}; choose from {', '.join(KINDS)} or all")
    ops: list[str] = []
    if args.aggregate:
        ops = [o.strip() for o in args.aggregate.split(",") if o.strip()]
        bad = [o for o in ops if o not in AGGREGATES]
        if bad or not ops:
            raise UsageError(
                f"--aggregate: unknown statistics {bad}; choose from {', '.join(AGGREGATES)}"
            )
    if (ops or args.wide) and kinds != ["scalars"]:
        raise UsageError("--wide and --aggregate apply to --kind scalars only")
    if args.media_dir and not {"images", "audio"} & set(kinds):
        raise UsageError("--media-dir needs --kind images, audio or all")
    core_kinds = {"text": "tensors", "hparams": "tensors"}
    data, reports = read_with_progress(
        _existing(args.logdir),
        sorted({core_kinds.get(k, k) for k in kinds}),
        check_crc=not args.no_crc,
        quiet=args.quiet,
    )
    code = _damage_notes(reports, args.strict)
    try:
        run_rx, tag_rx = pattern("run", args.run), pattern("tag", args.tag)
        for kind, output in _kind_outputs(args.output, kinds):
            if kind == "scalars":
                cols = scalars(data, len(reports), args.run, args.tag)
                if ops:
                    table = aggregate_table(cols, ops, args.wide)
                else:
                    table = wide_table(cols) if args.wide else long_table(cols)
            else:
                table = kind_table(data, reports, kind, fmt, run_rx, tag_rx, args.media_dir)
            n = write(table, output, fmt)
            if not args.quiet:
                print(f"wrote {n:,} rows to {output}", file=sys.stderr)
    except ExportError as e:
        raise UsageError(str(e)) from e
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    from ._cli_scan import read_with_progress

    _, reports = read_with_progress(_existing(args.logdir), [], check_crc=True, quiet=args.quiet)
    torn = damaged = 0
    for r in reports:
        if r.corrupt:
            damaged += 1
            print(f"DAMAGED  {r.describe()}")
        elif r.torn_tail:
            torn += 1
            print(f"TORN     {r.describe()}")
        elif not args.quiet:
            print(f"OK       {r.path}: {r.records:,} records, {r.size:,} bytes")
    clean = len(reports) - torn - damaged
    print(
        f"{len(reports)} event files, {sum(r.records for r in reports):,} valid records: "
        f"{clean} clean, {torn} with a torn tail, {damaged} damaged"
    )
    if damaged:
        return EXIT_DAMAGED
    return EXIT_TORN if torn else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    demo_main(["--logdir", args.logdir] if args.logdir else [])
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ferroboard",
        description="Read TensorBoard logs: list, export and verify them (files written by "
        "ferroboard, torch, tensorboardX or TensorFlow).",
        epilog="exit codes: 0 ok; 1 damaged records; 2 usage error; 3 torn tails only "
        "(verify); 4 read or write error",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("logdir", metavar="LOGDIR", help="a log directory or one event file")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
        sp.add_argument(
            "--no-crc",
            action="store_true",
            help="skip the checksum checks (faster; damage may go unnoticed)",
        )
        sp.add_argument(
            "--strict",
            action="store_true",
            help="exit 1 if a record is damaged (a warning otherwise)",
        )

    ls = sub.add_parser(
        "ls",
        help="runs, tags per plugin, points, step and time ranges",
        description="List runs, tags per plugin, point counts, step ranges "
        "and first/last wall time.",
    )
    common(ls)
    ls.add_argument("--json", action="store_true", help="one JSON object per (run, tag)")
    ls.set_defaults(func=cmd_ls)

    ex = sub.add_parser(
        "export",
        help="every point of every run, of any kind, to CSV, JSON Lines or Parquet",
        description="Write every point of every run (or those matching --run/--tag) to "
        "one file per kind. scalars: long format (run, tag, step, wall_time, value) or "
        "wide (--wide: step, wall_time, one column per tag, and run when there are "
        "several), or --aggregate over runs. tensors: dtype, shape and the values "
        "flattened row-major (JSON/Parquet: the list `values`, or `strings` for text "
        "tensors; CSV: `value` is a one-element tensor's value, else the JSON text of "
        "the flat list). histograms: JSON/Parquet one row per histogram with min, max, "
        "num, sum, sum_squares and the lists limits and counts; CSV one row per bucket "
        "(limit: its right edge, count). text: value. hparams: run, name, value (CSV and "
        "Parquet: as text, JSON for non-strings). images, audio: one row per item with "
        "width/height or sample_rate/length_frames/content_type, bytes (encoded size) "
        "and file (the PNG/WAV written under --media-dir, else empty).",
    )
    common(ex)
    ex.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file; with several kinds, one file per kind: <stem>.<kind><ext>",
    )
    ex.add_argument(
        "--format",
        choices=("csv", "json", "parquet"),
        help="default: from the output's extension (csv otherwise); json writes "
        "JSON Lines; parquet needs pyarrow",
    )
    ex.add_argument(
        "--kind",
        default="scalars",
        metavar="KINDS",
        help="comma-separated from scalars, tensors, histograms, text, hparams, images, "
        "audio, or all (default: scalars)",
    )
    ex.add_argument(
        "--media-dir",
        metavar="DIR",
        help="write each image (PNG as stored) and audio clip (WAV) as a file under DIR: "
        "<run>/<tag>/<step>_<n>.<ext>",
    )
    ex.add_argument("--wide", action="store_true", help="one column per tag")
    ex.add_argument("--tag", metavar="REGEX", help="only tags matching (re.search)")
    ex.add_argument("--run", metavar="REGEX", help="only runs matching (re.search)")
    ex.add_argument(
        "--aggregate",
        metavar="STATS",
        help="statistics over the runs per tag and step, comma-separated from "
        "mean,std,min,max,count (each run's last value at a step)",
    )
    ex.set_defaults(func=cmd_export)

    ve = sub.add_parser(
        "verify",
        help="check every record; exit non-zero on damage",
        description="Check the framing and both checksums of every record "
        "and that it decodes; print one line per file.",
    )
    ve.add_argument("logdir", metavar="LOGDIR", help="a log directory or one event file")
    ve.add_argument(
        "-q", "--quiet", action="store_true", help="print only damaged files and the summary"
    )
    ve.set_defaults(func=cmd_verify)

    de = sub.add_parser(
        "demo",
        help="write the demo run (scalars, histograms, media, plugins)",
        description="Write the demo run; tensorboard --logdir shows it.",
    )
    de.add_argument(
        "logdir", metavar="LOGDIR", nargs="?", help="run directory (default: runs/<date>_<host>)"
    )
    de.set_defaults(func=cmd_demo)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as e:
        p.error(str(e))  # exits with 2
    except ModuleNotFoundError as e:
        print(f"ferroboard: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"ferroboard: error: {e}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
