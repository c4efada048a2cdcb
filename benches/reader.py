"""Reading logs back: ferroboard's reader against tbparse and TensorBoard's
EventAccumulator (size_guidance 0: keep every point), in the same run.

    python benches/reader.py [--reps 3] [--data DIR] [--only a,b,c] [--skip-anchors]

Datasets (written once by ferroboard's writer into DIR, default a temp folder kept
between runs; the files are TensorBoard event files like torch's):

* a: 1 run x 10 tags x 100k steps = 1M scalars in one file;
* b: 20 runs x 5 tags x 10k steps = 1M scalars in 20 files;
* c: 1 run x 500 tags x 50 steps = 25k histograms of 1000 float32 normals (torch's bins).

Every measurement runs in a fresh process (imports before the clock starts; the page
cache is warm). Methods:

* ``ferroboard``: ``SummaryReader(d, extra_columns={'dir_name', 'wall_time'}).scalars``
  (``.histograms`` for c), the frame tbparse returns for the same call;
* ``ferroboard numpy``: ``SummaryReader(d).scalars_arrays()`` (no pandas involved);
* ``tbparse``: the same call as the first row;
* ``EventAccumulator``: one per directory holding event files, ``Reload()``, then
  ``Scalars(tag)`` / ``Histograms(tag)`` for every tag.

Prints a Markdown table: median (min-max) seconds over the repetitions, the peak resident
memory of the process (interpreter and imports included), and tbparse's median divided by
each median.
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
}


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
if method == "ferroboard":
    import ferroboard, pandas
    start = time.perf_counter()
    r = ferroboard.SummaryReader(path, extra_columns={"dir_name", "wall_time"},
                                 event_types={kind})
    n = len(getattr(r, kind))
elif method == "ferroboard numpy":
    import ferroboard
    start = time.perf_counter()
    n = len(ferroboard.SummaryReader(path, event_types={"scalars"}).scalars_arrays()["step"])
elif method == "tbparse":
    import tbparse
    start = time.perf_counter()
    r = tbparse.SummaryReader(path, extra_columns={"dir_name", "wall_time"},
                              event_types={kind})
    n = len(getattr(r, kind))
elif method == "EventAccumulator":
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
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
import resource
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - start, "rows": n, "rss_mb": rss}))
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
        "--data", default=os.path.join(tempfile.gettempdir(), "ferroboard-reader-bench")
    )
    parser.add_argument("--only", default="a,b,c")
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
        if not args.skip_anchors:
            methods += ["tbparse", "EventAccumulator"]
        times: dict[str, list[float]] = {m: [] for m in methods}
        counts: dict[str, int] = {}
        rss: dict[str, float] = {}
        for m in methods:  # warm the page cache and the imports
            measure(m, path, kind) if m.startswith("ferroboard") else None
        for rep in range(args.reps):
            for m in methods:  # interleaved, so drift on a shared machine hits all alike
                result = measure(m, path, kind)
                times[m].append(result["seconds"])
                counts[m] = result["rows"]
                rss[m] = max(rss.get(m, 0.0), result["rss_mb"])
                print(
                    f"  {name} rep {rep} {m}: {result['seconds']:.3f} s",
                    file=sys.stderr,
                    flush=True,
                )
        base = statistics.median(times["tbparse"]) if "tbparse" in times else None
        for m in methods:
            med = statistics.median(times[m])
            rows.append(
                (
                    f"{name}: {DATASETS[name]} ({size / 1e6:.1f} MB)",
                    m,
                    med,
                    min(times[m]),
                    max(times[m]),
                    counts[m],
                    rss[m],
                    f"{base / med:.0f}x" if base else "-",
                )
            )
    print(
        f"\n{args.reps} repetitions each, fresh process per measurement; "
        f"seconds: median (min-max)\n"
    )
    print("| dataset | reader | seconds | rows | peak RSS | vs tbparse |")
    print("|---|---|---|---|---|---|")
    for ds, m, med, lo, hi, n, mb, ratio in rows:
        print(f"| {ds} | {m} | {med:.3f} ({lo:.3f}-{hi:.3f}) | {n:,} | {mb:,.0f} MB | {ratio} |")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
