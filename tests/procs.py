"""Helpers for tests that run ferroboard in child processes and read event files back.

A crash, exit or fork scenario runs as ``sys.executable -c SCRIPT`` with a hard timeout,
and the script arms a faulthandler watchdog, so a hang becomes a failure with stack
dumps instead of a stuck CI job. Files are read with the core's strict TFRecord reader
and decoded with TensorBoard's own protos (an independent decoder).
"""

from __future__ import annotations

import glob
import json
import os
import select
import subprocess
import sys
import textwrap
import time
from typing import Any, Optional

from ferroboard._core import read_records
from tensorboard.compat.proto.event_pb2 import Event

#: Hard limit for one child process (seconds).
CHILD_TIMEOUT = 60
#: The child's own watchdog: dumps every thread's stack and exits before CHILD_TIMEOUT.
WATCHDOG = 45

_PRELUDE = """\
import faulthandler, json, os, sys, time
{arm}
def report(**kw):
    sys.stdout.write("RESULT " + json.dumps(kw) + "\\n")
    sys.stdout.flush()
"""
# faulthandler's watchdog thread does not survive fork(): a forked child that exits
# normally (or re-arms it) blocks forever on its lock. Scripts that fork use an alarm.
_FAULTHANDLER = "faulthandler.dump_traceback_later({watchdog}, exit=True)"
_ALARM = "import signal; signal.signal(signal.SIGALRM, signal.SIG_DFL); signal.alarm({watchdog})"


def script(body: str, watchdog: int = WATCHDOG, forks: bool = False) -> str:
    """`body` (dedented) after a prelude that arms a watchdog and defines `report`.

    With `forks`, the watchdog is a SIGALRM (not inherited by forked children) instead
    of faulthandler's thread, which a forked child cannot shut down.
    """
    arm = (_ALARM if forks else _FAULTHANDLER).format(watchdog=watchdog)
    return _PRELUDE.format(arm=arm) + textwrap.dedent(body)


TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def child_env(extra: Optional[dict] = None) -> dict:
    """The environment of a child: unbuffered, and able to `import procs`."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (TESTS_DIR, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONOPTIMIZE", None)
    if extra:
        env.update(extra)
    return env


def run_child(
    body: str,
    *args: str,
    timeout: float = CHILD_TIMEOUT,
    cwd: Optional[str] = None,
    env: Optional[dict] = None,
    forks: bool = False,
) -> subprocess.CompletedProcess:
    """Runs `body` in a fresh interpreter (`sys.argv[1:]` = `args`) and waits for it.

    Set `forks` when the script calls `os.fork()` (see `script`).
    """
    return subprocess.run(
        [sys.executable, "-c", script(body, forks=forks), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=child_env(env),
    )


def start_child(
    body: str, *args: str, cwd: Optional[str] = None, env: Optional[dict] = None
) -> subprocess.Popen:
    """Starts `body` in a fresh interpreter without waiting; stdout is a text pipe."""
    return subprocess.Popen(
        [sys.executable, "-c", script(body), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env(env),
    )


def describe_run(proc: Any) -> str:
    """rc, stdout and stderr of a finished child, for assertion messages."""
    return f"rc={proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def results(stdout: str) -> list:
    """Every `report(...)` the child made, in order."""
    return [
        json.loads(line[len("RESULT ") :])
        for line in stdout.splitlines()
        if line.startswith("RESULT ")
    ]


def result(proc: Any) -> dict:
    """The last `report(...)` of a finished child; fails the test if there is none."""
    found = results(proc.stdout)
    assert found, f"child reported nothing\n{describe_run(proc)}"
    return found[-1]


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The next stdout line of a running child, or '' on EOF or after `timeout` seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return ""
    return proc.stdout.readline()


def wait_for_result(proc: subprocess.Popen, timeout: float) -> dict:
    """Reads a running child's stdout until its next `report(...)` line."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        line = read_line(proc, max(left, 0.0))
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
        if not line or left <= 0:
            raise AssertionError(f"child reported nothing within {timeout} s; stdout: {seen}")
        seen.append(line)


def finish(proc: subprocess.Popen, timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess:
    """Waits for a Popen child (killing it after `timeout`) and returns what it printed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"child hung for {timeout} s\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# -- reading event files ------------------------------------------------------------------


def event_files(log_dir: Any) -> list:
    """Event files directly in `log_dir`, sorted by name."""
    return sorted(glob.glob(os.path.join(os.fspath(log_dir), "events.out.tfevents.*")))


def all_event_files(root: Any) -> list:
    """Event files anywhere under `root`."""
    return sorted(
        glob.glob(os.path.join(os.fspath(root), "**", "events.out.tfevents.*"), recursive=True)
    )


def read_events(path: Any, allow_torn_tail: bool = False) -> list:
    """Every Event of a file, after checking that its framing is clean.

    The first record must be the `brain.Event:2` header; it is not returned.
    """
    records, status = read_records(os.fspath(path))
    if allow_torn_tail:
        assert status == "clean" or status.startswith("torn_tail@"), f"{path}: {status}"
    else:
        assert status == "clean", f"{path}: {status}"
    events = [Event.FromString(r) for r in records]
    assert events, f"{path}: no records at all (not even the header)"
    assert events[0].file_version == "brain.Event:2", f"{path}: first event {events[0]}"
    for event in events:
        assert event.wall_time == event.wall_time, f"{path}: NaN wall_time in {event}"
    return events[1:]


def summary_values(events: list) -> list:
    """`(kind, tag, step, payload)` for every summary value, in file order.

    kind is "scalar", "histo", "text", "tensor" or "other"; payload is the scalar's value,
    the histogram's `num`, the text, or the tensor's shape.
    """
    out = []
    for event in events:
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            which = value.WhichOneof("value")
            if which == "simple_value":
                out.append(("scalar", value.tag, event.step, value.simple_value))
            elif which == "histo":
                out.append(("histo", value.tag, event.step, value.histo.num))
            elif which == "tensor" and value.metadata.plugin_data.plugin_name == "text":
                text = b"".join(value.tensor.string_val).decode("utf-8")
                out.append(("text", value.tag, event.step, text))
            elif which == "tensor":
                dims = tuple(d.size for d in value.tensor.tensor_shape.dim)
                out.append(("tensor", value.tag, event.step, dims))
            else:
                out.append(("other", value.tag, event.step, value))
    return out


def scalars(events: list) -> list:
    """`(tag, step, value)` of every scalar, in file order."""
    return [(tag, step, v) for kind, tag, step, v in summary_values(events) if kind == "scalar"]


# -- workloads shared by parent (expected values) and child (the calls) --------------------


def mixed_calls(n: int, seed: Optional[int] = None, big_every: int = 0) -> list:
    """A deterministic mix of `(kind, tag, step, arg)` calls, one step per call.

    Without `seed`: n scalars, a histogram every 10th and a text every 25th step. With
    `seed`: n calls of random kinds (scalar, histogram, text, tensor) and, when
    `big_every` is set, a 200k-value histogram every `big_every` calls (slow to bin, so a
    writer that encodes out of order would show it).
    """
    calls = []
    if seed is None:
        for i in range(n):
            calls.append(("scalar", "loss", i, i * 0.5))
            if i % 10 == 0:
                calls.append(("histo", "weights", i, 100 + i % 7))
            if i % 25 == 0:
                calls.append(("text", "note", i, f"step {i} \u2713"))
        return calls
    import random

    rng = random.Random(seed)
    for i in range(n):
        if big_every and i % big_every == big_every - 1:
            calls.append(("histo", "big", i, 200_000))
            continue
        kind = rng.choice(["scalar", "histo", "text", "tensor"])
        arg = {
            "scalar": i * 0.25,
            "histo": rng.randint(1, 500),
            "text": f"call {i}",
            "tensor": (rng.randint(1, 4), rng.randint(1, 4)),
        }[kind]
        calls.append((kind, kind[0], i, arg))
    return calls


def apply_calls(writer: Any, calls: list) -> None:
    """Makes the `add_*` calls that `mixed_calls` describes."""
    import numpy as np

    for kind, tag, step, arg in calls:
        if kind == "scalar":
            writer.add_scalar(tag, arg, step)
        elif kind == "histo":
            writer.add_histogram(tag, np.linspace(-1.0, 1.0, arg, dtype=np.float32), step)
        elif kind == "text":
            writer.add_text(tag, arg, step)
        elif kind == "tensor":
            writer.add_tensor(tag, np.zeros(arg, dtype=np.float32), step)
        else:
            raise ValueError(kind)


def expected_values(calls: list) -> list:
    """What `summary_values` must return for a file holding exactly `calls`."""
    out = []
    for kind, tag, step, arg in calls:
        if kind == "scalar":
            out.append(("scalar", tag, step, float(arg)))
        elif kind == "histo":
            out.append(("histo", tag, step, float(arg)))
        elif kind == "text":
            out.append(("text", tag + "/text_summary", step, arg))
        else:
            out.append(("tensor", tag, step, tuple(arg)))
    return out
