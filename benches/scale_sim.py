"""Scale simulation: a 1,024-rank job logging to S3 every 30 s for 30 days.

For ferroboard, torch and tensorboardX: how many objects, PUT requests and bytes uploaded.

Nothing here is assumed about how each writer uploads: a short real run of each library
against a loopback S3 server (moto on 127.0.0.1) records every PUT at the server, the
per-publish behaviour is read off those requests (header bytes and bytes per interval;
whether each publish re-uploads the whole file or the current segment), the model built
from it is checked against the short run's own totals, and then extrapolated:

* torch and tensorboardX re-upload the whole event file at each flush: publish i sends
  h + i*b bytes, so n publishes send n*h + b*n(n+1)/2 (quadratic in run length);
* ferroboard re-uploads only the current segment, sealed after K publishes: each segment
  sends K*h + b*K(K+1)/2, n/K segments (linear).

Each interval logs `--scalars` scalars and flushes, as HF Trainer, Accelerate and
DeepSpeed do after every log call (torch's and tensorboardX's writers with
``flush_secs=30`` behave the same). Every rank writes (``ranks="all"``, one run per rank);
ferroboard's default (``ranks="auto"``) writes on rank 0 only, shown on its own row.

    python benches/scale_sim.py [--ranks 1024] [--days 30] [--interval 30] [--scalars 16]

Prints a Markdown table. Needs moto[server], boto3, torch, tensorboardX.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from s3_server import ENV, S3Server  # noqa: E402

#: Publishes of one ferroboard segment before it is sealed.
K = 8
#: Intervals of the calibration run.
SHORT_RUN = 40


@dataclass
class Observed:
    """What the server saw during the calibration run of one library."""

    puts: list  # (key, body bytes) of each PUT with a body, in order
    objects: list  # (key, bytes) of each event file in the store at the end

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.puts)


@dataclass
class Model:
    """Per-publish behaviour: header bytes h, bytes per interval b, and how many publishes
    share one object (None: one object for the whole run, re-uploaded whole)."""

    h: float
    b: float
    per_object: int | None

    def totals(self, n: int) -> tuple[int, int, int]:
        """(objects, PUTs, bytes) for n intervals of one rank."""
        if self.per_object is None:
            return 1, n, round(n * self.h + self.b * n * (n + 1) / 2)
        k = self.per_object
        full, rest = divmod(n, k)
        segment = lambda m: m * self.h + self.b * m * (m + 1) / 2  # noqa: E731
        objects = full + (1 if rest else 0)
        return objects, n, round(full * segment(k) + segment(rest))


def run_ferroboard(url: str, intervals: int, scalars: int) -> None:
    import ferroboard

    # flush_secs is ferroboard's publish interval: a short one stands in for 30 s.
    writer = ferroboard.SummaryWriter(url, flush_secs=0.02)
    for i in range(intervals):
        for j in range(scalars):
            writer.add_scalar(f"train/metric{j}", float(i * j), i)
        writer.flush()
        time.sleep(0.04)
    writer.close()


def run_torch(url: str, intervals: int, scalars: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(url)
    for i in range(intervals):
        for j in range(scalars):
            writer.add_scalar(f"train/metric{j}", float(i * j), i)
        writer.flush()
    writer.close()


def run_tensorboardx(url: str, intervals: int, scalars: int) -> None:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(url)
    for i in range(intervals):
        for j in range(scalars):
            writer.add_scalar(f"train/metric{j}", float(i * j), i)
        writer.flush()
    writer.close()


def observe(
    server: S3Server, name: str, run: Callable[[str, int, int], None], scalars: int
) -> Observed:
    bucket = f"sim-{name.lower()}"
    server.client().create_bucket(Bucket=bucket)
    before = len(server.requests)
    run(f"s3://{bucket}/run", SHORT_RUN, scalars)
    puts = [
        (r.path.split("/", 2)[2], r.body_bytes)
        for r in server.requests[before:]
        if r.method == "PUT" and r.body_bytes
    ]
    # Event files only (torch's file system also PUTs an empty "run/" directory marker).
    objects = [(k, data) for k, data in server.objects(bucket, "run/") if "tfevents" in k]
    return Observed(puts, objects)


def fit(observed: Observed) -> Model:
    """h: the header record each object starts with; b: the bytes of one interval's
    events (all event bytes over the intervals); publishes per object: the PUTs of the
    first object, unless the whole run is one object re-uploaded at each flush."""
    first = observed.objects[0][1]
    h = 16 + int.from_bytes(first[:8], "little")  # framing + the header event
    b = sum(len(data) - h for _, data in observed.objects) / SHORT_RUN
    if len(observed.objects) == 1:
        return Model(h=h, b=b, per_object=None)
    first_key = observed.objects[0][0]
    return Model(h=h, b=b, per_object=sum(1 for k, _ in observed.puts if k == first_key))


def human(n: float, unit: str = "B") -> str:
    for prefix in ("", "K", "M", "G", "T", "P", "E"):
        if abs(n) < 1000:
            return f"{n:,.1f} {prefix}{unit}" if prefix else f"{n:,.0f} {unit}"
        n /= 1000
    return f"{n:,.1f} Z{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=1024)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--interval", type=float, default=30, help="seconds between logs")
    parser.add_argument("--scalars", type=int, default=16, help="scalars per log")
    args = parser.parse_args()

    server = S3Server()
    server.start()
    os.environ.update(ENV, S3_ENDPOINT=server.endpoint)
    # TensorBoard's S3 file system (torch's writer goes through it) reads S3_ENDPOINT when
    # it is registered, at import: register a fresh one now that the endpoint is known.
    from tensorboard.compat.tensorflow_stub.io import gfile

    gfile.register_filesystem("s3", gfile.S3FileSystem())
    os.environ.setdefault("FERROBOARD_STAGING_DIR", tempfile.mkdtemp(prefix="ferro-sim-"))
    runs = {"ferroboard": run_ferroboard, "torch": run_torch, "tensorboardX": run_tensorboardx}
    models: dict[str, Model] = {}
    print(
        f"Calibration: {SHORT_RUN} intervals of {args.scalars} scalars, against moto "
        f"on 127.0.0.1 (counted at the server)\n"
    )
    print(
        "| writer | header h (B) | b (B/interval) | publishes per object | PUTs "
        "| bytes uploaded | model: PUTs | model: bytes |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, run in runs.items():
        seen = observe(server, name, run, args.scalars)
        model = fit(seen)
        models[name] = model
        _, puts, predicted = model.totals(SHORT_RUN)
        per = "all (one object)" if model.per_object is None else str(model.per_object)
        print(
            f"| {name} | {model.h:.0f} | {model.b:.0f} | {per} | {len(seen.puts)} | "
            f"{seen.bytes:,} | {puts} | {predicted:,} |"
        )
    print(
        "\n(The model counts one publish per interval; PUTs beyond that in the calibration "
        "run are made at creation and close, a constant per run, left out below.)"
    )
    server.stop()

    n = int(args.days * 86400 / args.interval)
    logged = models["ferroboard"].b * n * args.ranks
    print(
        f"\n{args.ranks:,} ranks, {args.days:g} days, a log + flush every {args.interval:g} s "
        f"({n:,} publishes per rank); {human(logged)} logged in all\n"
    )
    print("| writer | objects | PUT requests | bytes uploaded | uploaded / logged |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows: list[tuple[str, str, int]] = [
        ('ferroboard (ranks="all")', "ferroboard", args.ranks),
        ('ferroboard (default ranks="auto": rank 0)', "ferroboard", 1),
        ("torch", "torch", args.ranks),
        ("tensorboardX", "tensorboardX", args.ranks),
    ]
    for label, name, ranks in rows:
        objects, puts, nbytes = models[name].totals(n)
        rank_logged = models[name].b * n + models[name].h
        print(
            f"| {label} | {objects * ranks:,} | {puts * ranks:,} | {human(nbytes * ranks)} | "
            f"{nbytes / rank_logged:,.1f}x |"
        )


if __name__ == "__main__":
    main()
