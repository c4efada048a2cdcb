"""Durability and lifecycle: what a writer leaves on disk when its process ends.

Every scenario runs in a child interpreter (with a hard timeout and a faulthandler
watchdog) and the parent reads the files back with the strict TFRecord reader, decoding
each record with TensorBoard's protos. Contract (docs/architecture.md): G1, G3, G4, G5, G7, G8, G9;
(T01-T05, T20, T24, T25).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import signal
import sys
import textwrap
import time

import pytest
from ferroboard._core import read_records
from procs import (
    all_event_files,
    describe_run,
    event_files,
    expected_values,
    finish,
    mixed_calls,
    read_events,
    result,
    run_child,
    scalars,
    start_child,
    summary_values,
    wait_for_result,
)

# No test may hang CI: each child has its own timeout too.
pytestmark = pytest.mark.timeout(120)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def only_file(log_dir) -> str:
    files = all_event_files(log_dir)
    assert len(files) == 1, f"expected one event file, found {files}"
    return files[0]


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# -- G1: flush() is a durability barrier --------------------------------------------------


@pytest.mark.parametrize("n", [1, 1000])
@pytest.mark.parametrize("max_queue", [1, 10, 1000])
def test_flush_then_os_exit_keeps_every_event(tmp_path, n, max_queue):
    proc = run_child(
        """
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        w = SummaryWriter(sys.argv[1], max_queue=int(sys.argv[2]), flush_secs=3600)
        w.flush()  # on an idle writer
        apply_calls(w, mixed_calls(int(sys.argv[3])))
        w.flush()
        w.flush()  # twice in a row
        os._exit(0)  # no atexit, no close, no destructor
        """,
        str(tmp_path),
        str(max_queue),
        str(n),
    )
    assert proc.returncode == 0, describe_run(proc)
    events = read_events(only_file(tmp_path))
    assert summary_values(events) == expected_values(mixed_calls(n))


# -- G4: exit without close() -------------------------------------------------------------

_EXIT_VARIANTS = {
    # name: (how the script ends, expected exit status)
    "fall_off_end": ("pass", 0),
    "sys_exit_3": ("sys.exit(3)", 3),
    "uncaught_exception": ("raise RuntimeError('boom after logging')", 1),
    "reference_cycle": ("w.cycle = w\ndel w", 0),
    "global_writer_in_module": ("import builtins\nbuiltins.W = w\ndel w", 0),
}


@pytest.mark.parametrize("variant", sorted(_EXIT_VARIANTS))
def test_exit_without_close_keeps_every_event(tmp_path, variant):
    ending, status = _EXIT_VARIANTS[variant]
    body = textwrap.dedent(
        """
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        w = SummaryWriter(sys.argv[1])
        apply_calls(w, mixed_calls(1000))
        """
    )
    proc = run_child(body + ending + "\n", str(tmp_path))
    assert proc.returncode == status, describe_run(proc)
    if variant == "uncaught_exception":
        assert "RuntimeError: boom after logging" in proc.stderr, describe_run(proc)
    assert "at exit failed" not in proc.stdout + proc.stderr, describe_run(proc)
    events = read_events(only_file(tmp_path))
    assert summary_values(events) == expected_values(mixed_calls(1000))


def test_writer_made_in_finished_thread_is_closed_at_exit(tmp_path):
    proc = run_child(
        """
        import threading
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        def work():
            global w
            w = SummaryWriter(sys.argv[1])
            apply_calls(w, mixed_calls(500))
        t = threading.Thread(target=work)
        t.start()
        t.join()
        """,
        str(tmp_path),
    )
    assert proc.returncode == 0, describe_run(proc)
    events = read_events(only_file(tmp_path))
    assert summary_values(events) == expected_values(mixed_calls(500))


def test_global_writer_embeddings_and_files_are_all_closed_at_exit(tmp_path):
    """One exit registry closes everything left open, a GlobalSummaryWriter (whose thread
    writes through a SummaryWriter) before the event files, embedding threads too."""
    proc = run_child(
        """
        import numpy as np
        from ferroboard import GlobalSummaryWriter, SummaryWriter
        g = GlobalSummaryWriter(logdir=sys.argv[1] + "/global")
        for i in range(200):
            g.add_scalar("g", float(i))
        w = SummaryWriter(sys.argv[1] + "/emb")
        w.add_embedding(np.eye(4, dtype=np.float32), metadata=list("abcd"))
        w.add_scalar("s", 1.0, 0)
        """,
        str(tmp_path),
    )
    assert proc.returncode == 0, describe_run(proc)
    assert "at exit failed" not in proc.stdout + proc.stderr, describe_run(proc)
    global_events = read_events(only_file(tmp_path / "global"))
    assert [(t, v) for t, _, v in scalars(global_events)] == [("g", float(i)) for i in range(200)]
    assert [(t, v) for t, _, v in scalars(read_events(only_file(tmp_path / "emb")))] == [("s", 1.0)]
    assert (tmp_path / "emb" / "projector_config.pbtxt").is_file()
    assert (tmp_path / "emb" / "00000" / "default" / "tensors.tsv").read_text().count("\n") == 4


@pytest.mark.parametrize("cycle", [False, True], ids=["plain", "reference_cycle"])
def test_garbage_collected_writer_drains_before_os_exit(tmp_path, cycle):
    proc = run_child(
        """
        import gc
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        w = SummaryWriter(sys.argv[1], flush_secs=3600, max_queue=100000)
        apply_calls(w, mixed_calls(1000))
        if sys.argv[2] == "1":
            w.cycle = w
        del w
        gc.collect()
        os._exit(0)  # the destructor is the only thing that can have saved the events
        """,
        str(tmp_path),
        "1" if cycle else "0",
    )
    assert proc.returncode == 0, describe_run(proc)
    events = read_events(only_file(tmp_path))
    assert summary_values(events) == expected_values(mixed_calls(1000))


# -- G8 + exactly-once under threads ------------------------------------------------------


def test_eight_threads_one_writer_exactly_once_in_order(tmp_path):
    per_thread = 2000
    proc = run_child(
        """
        import threading
        import numpy as np
        from ferroboard import SummaryWriter
        n = int(sys.argv[2])
        w = SummaryWriter(sys.argv[1])
        start = threading.Barrier(10)
        done = threading.Event()
        def producer(k):
            start.wait()
            for step in range(n):
                w.add_scalar(f"thread{k}", step + k / 16, step)
        def histograms():
            start.wait()
            for step in range(50):
                w.add_histogram("hist", np.arange(step + 1, dtype=np.float64), step)
        def flusher():
            start.wait()
            while not done.is_set():
                w.flush()
                time.sleep(0.005)
        threads = [threading.Thread(target=producer, args=(k,)) for k in range(8)]
        threads.append(threading.Thread(target=histograms))
        f = threading.Thread(target=flusher)
        for t in threads + [f]:
            t.start()
        for t in threads:
            t.join()
        done.set()
        f.join()
        w.close()
        report(ok=True)
        """,
        str(tmp_path),
        str(per_thread),
    )
    assert proc.returncode == 0, describe_run(proc)
    assert result(proc)["ok"]
    values = summary_values(read_events(only_file(tmp_path)))
    by_tag: dict = {}
    for kind, tag, step, payload in values:
        by_tag.setdefault(tag, []).append((kind, step, payload))
    assert sorted(by_tag) == ["hist"] + [f"thread{k}" for k in range(8)]
    for k in range(8):
        got = by_tag[f"thread{k}"]
        assert len(got) == per_thread, f"thread{k}: {len(got)} events, want {per_thread}"
        # Exactly once, in call order: the steps on disk are 0..n-1 in order.
        assert [step for _, step, _ in got] == list(range(per_thread)), f"thread{k}"
        assert [v for _, _, v in got] == [s + k / 16 for s in range(per_thread)]
    assert by_tag["hist"] == [("histo", s, float(s + 1)) for s in range(50)]


@pytest.mark.parametrize("max_queue", [1, 10])
def test_interleaved_kinds_reach_the_file_in_call_order(tmp_path, max_queue):
    # Big histograms take far longer to bin than a scalar takes to frame: a writer that
    # encodes on several threads must still write in acceptance order (G8).
    proc = run_child(
        """
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        w = SummaryWriter(sys.argv[1], max_queue=int(sys.argv[2]))
        apply_calls(w, mixed_calls(600, seed=8, big_every=40))
        w.close()
        """,
        str(tmp_path),
        str(max_queue),
    )
    assert proc.returncode == 0, describe_run(proc)
    got = summary_values(read_events(only_file(tmp_path)))
    want = expected_values(mixed_calls(600, seed=8, big_every=40))
    assert [(k, t, s) for k, t, s, _ in got] == [(k, t, s) for k, t, s, _ in want]
    assert got == want


# -- G7: unique names ---------------------------------------------------------------------


def test_processes_starting_in_the_same_second_get_distinct_complete_files(tmp_path):
    n_procs, n_events = 4, 300
    start_at = math.floor(time.time()) + 3.05  # all create their writer in one second
    body = """
        from ferroboard import SummaryWriter
        rank = int(sys.argv[2])
        time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
        w = SummaryWriter(sys.argv[1])
        created = time.time()
        for step in range(int(sys.argv[4])):
            w.add_scalar("loss", float(rank), step)
        path = w.file_writer.event_file_path
        w.close()
        report(pid=os.getpid(), path=path, created=created)
        """
    procs = [
        start_child(body, str(tmp_path), str(rank), repr(start_at), str(n_events))
        for rank in range(n_procs)
    ]
    done = [finish(p) for p in procs]
    for proc in done:
        assert proc.returncode == 0, describe_run(proc)
    reports = [result(proc) for proc in done]
    seconds = {math.floor(r["created"]) for r in reports}
    assert len(seconds) == 1, f"children did not start in the same second: {reports}"
    paths = [r["path"] for r in reports]
    assert len(set(paths)) == n_procs, paths
    assert sorted(paths) == event_files(tmp_path)
    for rank, r in enumerate(reports):
        name = os.path.basename(r["path"])
        assert f".{r['pid']}." in name, f"file name {name} lacks the pid {r['pid']}"
        got = scalars(read_events(r["path"]))
        assert got == [("loss", step, float(rank)) for step in range(n_events)], name


def test_existing_files_with_the_would_be_name_are_never_reused(tmp_path):
    proc = run_child(
        """
        import socket
        from ferroboard import SummaryWriter
        d = sys.argv[1]
        host, pid, now = socket.gethostname(), os.getpid(), int(time.time())
        sentinels = []
        for secs in range(now - 1, now + 6):
            for n in range(4):
                p = os.path.join(d, f"events.out.tfevents.{secs:010d}.{host}.{pid}.{n}")
                with open(p, "wb") as f:
                    f.write(b"sentinel " + p.encode())
                sentinels.append(p)
        paths = []
        for i in range(3):
            w = SummaryWriter(d)
            w.add_scalar("x", float(i), i)
            paths.append(w.file_writer.event_file_path)
            w.close()
        report(sentinels=sentinels, paths=paths)
        """,
        str(tmp_path),
    )
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    for p in r["sentinels"]:
        with open(p, "rb") as f:
            assert f.read() == b"sentinel " + p.encode(), f"{p} was overwritten"
    assert len(set(r["paths"])) == 3
    for i, p in enumerate(r["paths"]):
        assert p not in r["sentinels"]
        assert scalars(read_events(p)) == [("x", i, float(i))]
    assert len(event_files(tmp_path)) == len(r["sentinels"]) + 3


# -- close() and the context manager -------------------------------------------------------


@pytest.mark.parametrize("ending", ["close", "exit"])
def test_add_after_close_opens_a_new_file_and_keeps_the_old_one(tmp_path, ending):
    proc = run_child(
        """
        import hashlib
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        d = sys.argv[1]
        def files():
            return sorted(f for f in os.listdir(d) if f.startswith("events.out"))
        w = SummaryWriter(d)
        for step in range(10):
            w.add_scalar("before", float(step), step)
        old = w.file_writer.event_file_path
        w.close()
        w.close()  # idempotent
        w.flush()  # a no-op after close: must not open a file
        old_digest = hashlib.sha256(open(old, "rb").read()).hexdigest()
        files_after_close = files()
        apply_calls(w, mixed_calls(30))
        new = w.file_writer.event_file_path
        report(old=old, new=new, old_digest=old_digest, files_after_close=files_after_close)
        if sys.argv[2] == "close":
            w.close()
        """,
        str(tmp_path),
        ending,
    )
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    assert r["files_after_close"] == [os.path.basename(r["old"])]
    assert r["new"] != r["old"]
    assert event_files(tmp_path) == sorted([r["old"], r["new"]])
    assert sha256(r["old"]) == r["old_digest"], "the closed file was modified"
    assert scalars(read_events(r["old"])) == [("before", s, float(s)) for s in range(10)]
    assert summary_values(read_events(r["new"])) == expected_values(mixed_calls(30))


@linux_only
@pytest.mark.parametrize("raises", [False, True], ids=["normal", "exception_in_block"])
def test_context_manager_closes_its_file(tmp_path, raises):
    proc = run_child(
        """
        from ferroboard import SummaryWriter
        from procs import apply_calls, mixed_calls
        def open_files():
            out = set()
            for fd in os.listdir("/proc/self/fd"):
                try:
                    out.add(os.readlink(f"/proc/self/fd/{fd}"))
                except OSError:
                    pass
            return out
        raised = None
        try:
            with SummaryWriter(sys.argv[1], flush_secs=3600, max_queue=100000) as w:
                apply_calls(w, mixed_calls(2000))
                path = w.file_writer.event_file_path
                open_inside = os.path.realpath(path) in open_files()
                if sys.argv[2] == "1":
                    raise KeyError("inside the with block")
        except KeyError as exc:
            raised = repr(exc)
        open_after = os.path.realpath(path) in open_files()
        report(path=path, open_inside=open_inside, open_after=open_after, raised=raised)
        os._exit(0)  # nothing but the with block can have saved the events
        """,
        str(tmp_path),
        "1" if raises else "0",
    )
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    assert r["open_inside"], "the event file is not held open while the writer is live"
    assert not r["open_after"], "the event file is still open after the with block"
    assert r["raised"] == ("KeyError('inside the with block')" if raises else None)
    assert summary_values(read_events(r["path"])) == expected_values(mixed_calls(2000))


# -- G3: bounded staleness without flush, and crash consistency ----------------------------


@pytest.mark.parametrize("n", [1, 7])
def test_events_reach_the_file_without_flush(tmp_path, n):
    proc = start_child(
        """
        import numpy as np
        from ferroboard import SummaryWriter
        w = SummaryWriter(sys.argv[1])  # defaults: max_queue=10, flush_secs=120
        n = int(sys.argv[2])
        for step in range(n):
            if step % 3 == 1:
                w.add_histogram("h", np.arange(step + 1.0), step)
            elif step % 3 == 2:
                w.add_text("t", f"text {step}", step)
            else:
                w.add_scalar("s", step * 1.5, step)
        report(path=w.file_writer.event_file_path, accepted=time.time())
        time.sleep(40)  # no flush, no close: only the background writer can save them
        """,
        str(tmp_path),
        str(n),
    )
    try:
        r = wait_for_result(proc, timeout=30)
        deadline = time.monotonic() + 2.0
        while True:
            records, status = read_records(r["path"])
            if len(records) == n + 1 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        latency = time.time() - r["accepted"]
        seen = len(records) - 1
    finally:
        proc.kill()
        finish(proc)
    assert seen == n, f"{seen} of {n} accepted events on disk {latency:.2f} s after the adds"
    assert status == "clean", status
    kinds = [kind for kind, _, _, _ in summary_values(read_events(r["path"]))]
    assert kinds == [["scalar", "histo", "text"][s % 3] for s in range(n)]


@pytest.mark.parametrize("delay", [0.2, 0.5, 0.9])
def test_sigkill_leaves_a_valid_prefix(tmp_path, delay):
    proc = start_child(
        """
        import numpy as np
        from ferroboard import SummaryWriter
        w = SummaryWriter(sys.argv[1])
        report(path=w.file_writer.event_file_path)
        step = 0
        while True:
            w.add_scalar("s", float(step), step)
            if step % 100 == 0:
                w.add_histogram("h", np.arange(1000.0), step)
                time.sleep(0.001)  # keeps the file small enough to check quickly
            step += 1
        """,
        str(tmp_path),
    )
    try:
        r = wait_for_result(proc, timeout=30)
        time.sleep(delay + random.random() * 0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        finish(proc)
    records, status = read_records(r["path"])
    assert status == "clean" or status.startswith("torn_tail@"), status
    events = read_events(r["path"], allow_torn_tail=True)
    steps = [s for tag, s, _ in scalars(events)]
    assert len(steps) > 0, "nothing reached the file before the kill"
    assert steps == list(range(len(steps))), "scalars on disk are not a gap-free prefix"
    hist_steps = [s for k, _, s, _ in summary_values(events) if k == "histo"]
    assert hist_steps == [s for s in range(0, steps[-1] + 1, 100)][: len(hist_steps)]


# -- G9: fork -----------------------------------------------------------------------------

_FORK_SCRIPT = """
import numpy as np
from ferroboard import SummaryWriter
d, mode = sys.argv[1], sys.argv[2]
w = SummaryWriter(d)
for i in range(10):
    w.add_scalar("parent", float(i), i)
if mode.startswith("busy"):
    for i in range(10, 3000):  # the worker is busy writing these when we fork
        w.add_scalar("parent", float(i), i)
    n_parent = 3000
else:
    w.flush()
    n_parent = 10
parent_path = w.file_writer.event_file_path
before = open(parent_path, "rb").read()
pid = os.fork()
if pid == 0:
    import signal
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(20)
    if "write" in mode:
        for i in range(50):
            w.add_scalar("child", float(i), i)
        w.add_histogram("child_h", np.arange(10.0), 0)
    if mode.endswith("close"):
        w.close()
        os._exit(0)
    if mode.endswith("os_exit"):
        w.flush()
        os._exit(0)
    sys.exit(0)  # a normal interpreter exit: atexit runs in the child
deadline = time.monotonic() + 25
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = "hung: killed after 25 s"
        break
    time.sleep(0.01)
after = open(parent_path, "rb").read()
for i in range(n_parent, n_parent + 10):
    w.add_scalar("parent", float(i), i)
w.close()
report(
    parent_pid=os.getpid(), child_pid=pid, status=status, parent_path=parent_path,
    untouched=(after == before) if not mode.startswith("busy") else after.startswith(before),
    n_parent=n_parent + 10,
)
"""


@linux_only
@pytest.mark.parametrize(
    "mode",
    [
        "write_close",
        "write_exit",
        "write_os_exit",
        "nothing_exit",
        "nothing_os_exit",
        "busy_write_exit",
    ],
)
def test_fork_child_writes_its_own_file(tmp_path, mode):
    proc = run_child(_FORK_SCRIPT, str(tmp_path), mode, forks=True)
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    assert r["status"] == 0, (
        f"child exit status {r['status']} (hang or crash)\n{describe_run(proc)}"
    )
    assert r["untouched"], "the child changed the parent's file"
    files = event_files(tmp_path)
    parent_name = os.path.basename(r["parent_path"])
    assert f".{r['parent_pid']}." in parent_name
    got = scalars(read_events(r["parent_path"]))
    assert got == [("parent", i, float(i)) for i in range(r["n_parent"])]
    child_files = [f for f in files if f".{r['child_pid']}." in os.path.basename(f)]
    assert sorted(child_files + [r["parent_path"]]) == files, files
    if "write" in mode:
        assert len(child_files) == 1, f"child files: {child_files}"
        values = summary_values(read_events(child_files[0]))
        assert [(k, t, s) for k, t, s, _ in values] == [
            ("scalar", "child", i) for i in range(50)
        ] + [("histo", "child_h", 0)]
    else:
        for f in child_files:
            assert summary_values(read_events(f)) == [], f"{f} holds events"


@linux_only
def test_fork_pool_workers_write_their_own_files(tmp_path):
    proc = run_child(
        """
        import multiprocessing as mp
        from ferroboard import SummaryWriter
        W = SummaryWriter(sys.argv[1])
        for i in range(5):
            W.add_scalar("parent", float(i), i)
        W.flush()
        def task(k):
            for i in range(10):
                W.add_scalar(f"task{k}", float(i), i)
            W.flush()
            return os.getpid()
        with mp.get_context("fork").Pool(2) as pool:
            pids = pool.map(task, range(6))
        for i in range(5, 10):
            W.add_scalar("parent", float(i), i)
        path = W.file_writer.event_file_path
        W.close()
        report(pids=sorted(set(pids)), path=path, me=os.getpid())
        """,
        str(tmp_path),
        forks=True,
    )
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    assert scalars(read_events(r["path"])) == [("parent", i, float(i)) for i in range(10)]
    tasks: dict = {}
    for f in event_files(tmp_path):
        if f == r["path"]:
            continue
        assert any(f".{pid}." in os.path.basename(f) for pid in r["pids"]), f
        for tag, step, value in scalars(read_events(f)):
            tasks.setdefault(tag, []).append((step, value))
    assert sorted(tasks) == [f"task{k}" for k in range(6)]
    for tag, got in tasks.items():
        assert got == [(i, float(i)) for i in range(10)], tag
