"""Reading logs back: ferroboard's reader against tbparse and TensorBoard's
EventAccumulator (size_guidance 0: keep every point), in the same run.

    python benches/reader.py [--reps 3] [--reps-slow 1] [--data DIR] [--only a,b,c,d]
                             [--skip-anchors]

Datasets (written once by ferroboard's writer into DIR, default a temp folder kept
between runs; the files are TensorBoard event files like torch's):

* a: 1 run x 10 tags x 100k steps = 1M scalars in one file;
* b: 20 runs x 5 tags x 10k steps = 1M scalars in 20 files;
* c: 1 run x 500 tags x 50 steps = 25k histograms of 1000 float32 normals (torch's bins);
* d: 20 runs x 10 tags x 100k steps = 20M scalars in 20 files (1M per run, as a). tbparse
  takes minutes per repetition here, so it runs ``--reps-slow`` times (default 1) and
  EventAccumulator (as slow) is left out; the table says how many repetitions each had.

Every measurement runs in a fresh process (imports before the clock starts; the page
cache is warm). Methods:

* ``ferroboard``: ``SummaryReader(d, extra_columns={'dir_name', 'wall_time'}).scalars``
  (``.histograms`` for c), the frame tbparse returns for the same call;
* ``ferroboard numpy``: ``SummaryReader(d).scalars_arrays()`` (no pandas involved);
* ``tbparse``: the same call as the first row;
* ``EventAccumulator``: one per directory holding event files, ``Reload()``, then
  ``Scalars(tag)`` / ``Histograms(tag)`` for every tag;
* on c also ``ferroboard ls``: what ``ferroboard ls`` computes (runs, tags, points, step
  and time ranges), once with its light scan (no payload decoded) and once from the full
  decode that ``SummaryReader`` does (``ls, full decode``).

Prints a Markdown table: median (min-max) seconds over the repetitions; the memory the
measured call added, as the peak resident size during it minus the resident size before it
(VmHWM - VmRSS of /proc/self/status; interpreter and imports excluded); that memory
divided by the decoded data (the frame's contents: 8 bytes per number, each bucket limit
and count included, and the UTF-8 bytes of each tag and directory name); and tbparse's
median divided by each median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATASETS = {
    "a": "1M scalars, 1 file",
    "b": "1M scalars, 20 runs",
    "c": "25k histograms, 1 file",
    "d": "20M scalars, 20 runs x 1M",
}
#: Readers too slow to repeat on the big dataset (``--reps-slow``).
SLOW = ("tbparse", "EventAccumulator")


def generate(root: Path, name: str) -> Path:
    import ferroboard

    out = root / name
    done = out / ".complete"
    if done.exists():
        return out
    rng = np.random.default_rng(0)
    if name == "a":
        with ferroboard.SummaryWriter(str(out), max_queue=100_000) as w:
            values = rng.random((100_000, 10), dtype=np.float32)
            for step in range(100_000):
                for t in range(10):
                    w.add_scalar(f"train/metric_{t}", values[step, t], step, walltime=1.7e9 + step)
    elif name == "b":
        tags = ("loss", "acc", "lr", "val/loss", "val/acc")
        for run in range(20):
            with ferroboard.SummaryWriter(str(out / f"run{run:02d}"), max_queue=100_000) as w:
                values = rng.random((10_000, 5), dtype=np.float32)
                for step in range(10_000):
                    for t, tag in enumerate(tags):
                        w.add_scalar(tag, values[step, t], step, walltime=1.7e9 + step)
    elif name == "d":
        for run in range(20):
            with ferroboard.SummaryWriter(str(out / f"run{run:02d}"), max_queue=100_000) as w:
                values = rng.random((100_000, 10), dtype=np.float32)
                for step in range(100_000):
                    for t in range(10):
                        w.add_scalar(
                            f"train/metric_{t}", values[step, t], step, walltime=1.7e9 + step
                        )
    elif name == "c":
        with ferroboard.SummaryWriter(str(out)) as w:
            for step in range(50):
                for t in range(500):
                    w.add_histogram(
                        f"layer{t}/weight",
                        rng.normal(size=1000).astype(np.float32),
                        step,
                        walltime=1.7e9 + step,
                    )
    done.touch()
    return out


CHILD = r"""
import json, os, sys, time
method, path, kind = sys.argv[1:4]

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0

frame = None
if method == "ferroboard":
    import ferroboard, pandas
    base = status("VmRSS")
    start = time.perf_counter()
    r = ferroboard.SummaryReader(path, extra_columns={"dir_name", "wall_time"},
                                 event_types={kind})
    frame = getattr(r, kind)
    n = len(frame)
elif method == "ferroboard numpy":
    import ferroboard
    base = status("VmRSS")
    start = time.perf_counter()
    n = len(ferroboard.SummaryReader(path, event_types={"scalars"}).scalars_arrays()["step"])
elif method.startswith("ferroboard ls"):
    from ferroboard._cli_scan import read_with_progress, summarize
    base = status("VmRSS")
    start = time.perf_counter()
    data, reports = read_with_progress(path, quiet=True, light="full" not in method)
    n = sum(s.points for s in summarize(data, reports))
elif method == "tbparse":
    import tbparse
    base = status("VmRSS")
    start = time.perf_counter()
    r = tbparse.SummaryReader(path, extra_columns={"dir_name", "wall_time"},
                              event_types={kind})
    frame = getattr(r, kind)
    n = len(frame)
elif method == "EventAccumulator":
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    base = status("VmRSS")
    start = time.perf_counter()
    dirs = sorted({root for root, _, files in os.walk(path)
                   if any("tfevents" in f for f in files)})
    n = 0
    for d in dirs:
        acc = EventAccumulator(d, size_guidance={kind: 0})
        acc.Reload()
        get = acc.Scalars if kind == "scalars" else acc.Histograms
        for tag in acc.Tags()[kind]:
            n += len(get(tag))
seconds = time.perf_counter() - start
added = status("VmHWM") - base
decoded = None
if frame is not None:  # 8 bytes per number, bucket value included; strings' UTF-8 bytes
    decoded = 0
    for c in frame.columns:
        col = frame[c]
        if col.dtype.kind in "iuf":
            decoded += 8 * len(col)
        elif c in ("counts", "limits"):
            decoded += 8 * sum(len(x) for x in col)
        else:
            decoded += sum(len(str(x).encode()) for x in col)
print(json.dumps({"seconds": seconds, "rows": n, "added": added, "decoded": decoded}))
"""


def measure(method: str, path: Path, kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, method, str(path), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--reps-slow",
        type=int,
        default=1,
        help="repetitions of tbparse on dataset d (minutes each)",
    )
    parser.add_argument(
        "--data", default=os.path.join(tempfile.gettempdir(), "ferroboard-reader-bench")
    )
    parser.add_argument("--only", default="a,b,c,d")
    parser.add_argument(
        "--skip-anchors",
        action="store_true",
        help="ferroboard's rows only (no tbparse / EventAccumulator)",
    )
    args = parser.parse_args()
    root = Path(args.data)
    rows = []
    for name in args.only.split(","):
        print(f"writing dataset {name} ...", file=sys.stderr, flush=True)
        path = generate(root, name)
        size = sum(f.stat().st_size for f in path.rglob("*tfevents*"))
        kind = "histograms" if name == "c" else "scalars"
        methods = ["ferroboard"] + (["ferroboard numpy"] if kind == "scalars" else [])
        if name == "c":
            methods += ["ferroboard ls", "ferroboard ls, full decode"]
        if not args.skip_anchors:
            methods += ["tbparse"] + (["EventAccumulator"] if name != "d" else [])
        reps = {m: args.reps_slow if name == "d" and m in SLOW else args.reps for m in methods}
        results: dict[str, list[dict]] = {m: [] for m in methods}
        for m in methods:  # warm the page cache and the imports
            measure(m, path, kind) if m.startswith("ferroboard") else None
        for rep in range(max(reps.values())):
            for m in methods:  # interleaved, so drift on a shared machine hits all alike
                if rep >= reps[m]:
                    continue
                result = measure(m, path, kind)
                results[m].append(result)
                print(
                    f"  {name} rep {rep} {m}: {result['seconds']:.3f} s, "
                    f"+{result['added'] / 1e6:,.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
        base = (
            statistics.median(r["seconds"] for r in results["tbparse"])
            if not args.skip_anchors
            else None
        )
        for m in methods:
            times = [r["seconds"] for r in results[m]]
            med = statistics.median(times)
            added = statistics.median(r["added"] for r in results[m])
            decoded = results[m][-1]["decoded"]
            rows.append(
                (
                    f"{name}: {DATASETS[name]} ({size / 1e6:.1f} MB)",
                    m,
                    len(times),
                    med,
                    min(times),
                    max(times),
                    results[m][-1]["rows"],
                    added,
                    f"{added / decoded:.2f}x" if decoded else "-",
                    f"{base / med:.0f}x" if base else "-",
                )
            )
    print("\nfresh process per measurement; seconds: median (min-max) of n repetitions\n")
    print("| dataset | reader | n | seconds | rows | memory added | / decoded | vs tbparse |")
    print("|---|---|---|---|---|---|---|---|")
    for ds, m, n, med, lo, hi, count, added, per, ratio in rows:
        print(
            f"| {ds} | {m} | {n} | {med:.3f} ({lo:.3f}-{hi:.3f}) | {count:,} "
            f"| {added / 1e6:,.0f} MB | {per} | {ratio} |"
        )


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
