"""Running out of memory never ends the training process (issue 15).

Every argument that multiplies memory (`rescale`, `bins` counts and numpy strategies,
image grids, video frames, embedding sprites) either raises an error naming the argument,
the size it would produce and the limit, before anything is allocated; or, when memory
runs out on the writer thread all the same, that one event is dropped with a
`RuntimeWarning` naming its tag and size, and every other event is written. A copy on
the calling thread that does not fit raises `MemoryError`.

Each scenario runs in a child interpreter under `RLIMIT_AS`: the child warms up every
thread pool and allocator arena, then limits its address space to what it uses plus a
fixed headroom (so the test means the same on 2 cores and on 64), makes the call, logs
one more event and closes. The parent checks that the child exited normally, that the
events before and after are in the file (strict parser, TensorBoard's protos), and the
call's outcome. Rust's default on a failed allocation is to abort the process (SIGABRT),
which these tests would see as a non-zero exit.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from procs import describe_run, result, run_child
from reliability_harness import check_file, fault_env, ferroboard_only

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"),
    ferroboard_only("memory limits and fault injection of ferroboard's core"),
]

GIB = 1 << 30
LIMIT = 2**31  # bytes an event must stay under

#: The child: `SETUP` runs before the limit (its arrays count as used memory), `CALL`
#: after it. Warnings and the outcome are reported with the event file's path.
CHILD = """
import resource, warnings
import numpy as np
from ferroboard import SummaryWriter

def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

logdir, headroom, warm = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "warm"
w = SummaryWriter(logdir)
if warm:
    # Every pool thread and malloc arena exists before the limit is set.
    w.add_image("warm/image", np.random.rand(3, 600, 600), 0)
    w.add_histogram("warm/hist", np.random.rand(300000), 0)
    w.add_histogram("warm/hist", np.random.rand(300000), 0, bins=30)
    w.flush()
SETUP
limit = vm_size() + headroom
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    w.add_scalar("before", 1.0, 1)
    try:
        CALL
        outcome = "accepted"
    except (ValueError, MemoryError) as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    w.add_scalar("after", 2.0, 2)
    w.flush()
    dropped = w.dropped_events
    path = w.file_writer.event_file_path
    w.close()
report(outcome=outcome, dropped=dropped, dropped_after_close=w.dropped_events, path=path,
       warnings=[str(c.message) for c in caught if issubclass(c.category, RuntimeWarning)])
"""


def run_limited(
    tmp_path, setup: str, call: str, headroom: int, env: dict | None = None, warm: bool = True
) -> tuple[dict, list]:
    """Runs one call under the limit; returns the report and the (tag, step) of every
    event of the file after its header. Fails unless the child exited normally."""
    body = CHILD.replace("SETUP", textwrap.dedent(setup).strip() or "pass").replace("CALL", call)
    proc = run_child(
        body, str(tmp_path), str(headroom), "warm" if warm else "cold", env=env, timeout=120
    )
    assert proc.returncode == 0, describe_run(proc)
    r = result(proc)
    events = check_file(r["path"])[1:]
    return r, [(v.tag, e.step) for e in events for v in e.summary.value]


def assert_around(events: list) -> None:
    """The events logged just before and after the call are both in the file."""
    assert ("before", 1) in events and ("after", 2) in events, events
    assert events.index(("before", 1)) < events.index(("after", 2)), events


def assert_rejected(r: dict, *parts: str) -> None:
    assert r["outcome"].startswith("ValueError: "), r
    for part in parts:
        assert part in r["outcome"], (part, r["outcome"])
    assert r["dropped"] == 0 and not r["warnings"], r


def assert_named_error_or_dropped(r: dict, events: list, arg: str, tag: str) -> None:
    """The call raised an error naming `arg`, or its event was dropped on the worker
    with a warning naming `tag` and the size that did not fit, and never written."""
    if r["outcome"] == "accepted":
        assert r["dropped"] == 1, r
        (warning,) = r["warnings"]
        assert f"tag {tag!r}" in warning.replace('"', "'"), warning
        assert "out of memory" in warning and "bytes" in warning, warning
        assert all(t != tag for t, _ in events), events
    else:
        assert r["outcome"].split(":")[0] in ("ValueError", "MemoryError"), r
        assert arg in r["outcome"], r


def test_a_child_under_the_limit_logs_normally(tmp_path):
    """The setting itself: warm-up, limit, scalars, close, exit 0."""
    r, events = run_limited(tmp_path, "", "w.add_histogram('small', np.arange(10.0), 3)", GIB)
    assert r["outcome"] == "accepted" and r["dropped"] == 0 and not r["warnings"], r
    assert_around(events)
    assert ("small", 3) in events


def test_the_issue_repro_raises_instead_of_aborting(tmp_path):
    """add_image_with_boxes(tag, np.zeros((3, 100, 100)), boxes, step, rescale=1000):
    30 GB of pixels. Before: SIGABRT on the worker thread, every queued event lost."""
    r, events = run_limited(
        tmp_path,
        "boxes = np.array([[10.0, 10.0, 50.0, 50.0]])",
        "w.add_image_with_boxes('boxed', np.zeros((3, 100, 100)), boxes, 3, rescale=1000)",
        2 * GIB,
    )
    assert_rejected(r, "rescale:", "100000×100000", "30000000000 bytes", str(LIMIT))
    assert_around(events)


@pytest.mark.parametrize(
    "setup, call, parts",
    [
        pytest.param(
            "x = np.random.rand(100)",
            "w.add_histogram('h', x, 3, bins=10**9)",
            ["bins:", "1000000000 buckets", str(LIMIT)],
            id="int-bins",
        ),
        pytest.param(
            # A tiny spread and a huge range: 'fd' asks for ~5e16 bins.
            "x = np.concatenate([np.arange(100) * 1e-9, [1e9]])",
            "w.add_histogram('h', x, 3, bins='fd')",
            ["bins='fd':", "buckets", str(LIMIT)],
            id="fd-strategy",
        ),
        pytest.param(
            # (2, 1, 50000, 1): 100 KB of images, a 50000x50000 square sprite.
            "mat = np.zeros((2, 3)); imgs = np.zeros((2, 1, 50000, 1))",
            "w.add_embedding(mat, label_img=imgs, global_step=3)",
            ["label_img (the sprite)", "50000×50000", "7500000000 bytes", str(LIMIT)],
            id="sprite",
        ),
        pytest.param(
            # Two clips side by side: a frame 80000 pixels wide from 80 KB.
            "v = np.zeros((2, 1, 1, 1, 40000), np.uint8)",
            "w.add_video('v', v, 3)",
            ["vid_tensor", "65535"],
            id="gif-width",
        ),
    ],
)
def test_size_amplifying_arguments_are_rejected_before_allocating(tmp_path, setup, call, parts):
    """Each would ask for gigabytes (or more than exists) from kilobytes of input; the
    call raises ValueError naming the argument, the size and the limit, under a limit
    that leaves 1 GiB (so anything allocated first would fail instead)."""
    r, events = run_limited(tmp_path, setup, call, GIB)
    assert_rejected(r, *parts)
    assert_around(events)


def test_a_rescaled_image_that_fits_an_event_but_not_memory_is_dropped(tmp_path):
    """rescale=250 of a 100x100 image: 25000x25000x3 = 1.875 GB of pixels, under the
    2 GiB limit, but more than the 1 GiB left to the process. The worker cannot
    allocate them: that event is dropped with a warning, the others are written."""
    r, events = run_limited(
        tmp_path,
        "boxes = np.array([[10.0, 10.0, 50.0, 50.0]])",
        "w.add_image_with_boxes('big', np.zeros((3, 100, 100)), boxes, 3, rescale=250)",
        GIB,
    )
    assert r["outcome"] == "accepted", r
    assert_named_error_or_dropped(r, events, "rescale", "big")
    assert "1875000000 bytes" in r["warnings"][0], r["warnings"]
    assert_around(events)


def test_many_bins_within_the_event_limit_fail_without_ending_the_process(tmp_path):
    """bins=10**8 is under the event limit (8e8 bytes of edges), but the edges, their
    copy and the binning counters need more than the 1 GiB left: MemoryError from the
    call, or the event dropped on the worker, never an abort."""
    r, events = run_limited(
        tmp_path, "x = np.random.rand(1000)", "w.add_histogram('many', x, 3, bins=10**8)", GIB
    )
    assert_named_error_or_dropped(r, events, "bins", "many")
    assert_around(events)


def test_a_snapshot_that_does_not_fit_raises_memory_error(tmp_path):
    """The caller's copy of a 600 MB array with 512 MiB left: MemoryError naming the
    argument and the bytes, from the add_* call. (Its data starts 4 bytes past a
    multiple of 8, so it is copied, not binned where it lies: see the next test.)"""
    r, events = run_limited(
        tmp_path,
        "raw = np.ones(75_000_001); values = raw.view(np.uint8)[4:600_000_004].view(float)",
        "w.add_histogram('big', values, 3)",
        GIB // 2,
    )
    assert r["outcome"].startswith("MemoryError: "), r
    assert "the copy of values" in r["outcome"] and "600000000 bytes" in r["outcome"], r
    assert_around(events)


def test_a_first_histogram_larger_than_the_memory_left_is_binned_where_it_lies(tmp_path):
    """The same 600 MB with 512 MiB left, 8-byte aligned: no buffer the writer keeps
    fits it, so it is binned in place, needing no copy, and logged (runtime/cold_binning.rs)."""
    r, events = run_limited(
        tmp_path, "values = np.ones(75_000_000)", "w.add_histogram('big', values, 3)", GIB // 2
    )
    assert r["outcome"] == "accepted" and r["dropped"] == 0 and not r["warnings"], r
    assert ("big", 3) in events, events
    assert_around(events)


def test_grids_and_videos_are_checked_against_the_event_limit(tmp_path):
    """With the limit lowered to 1 MB (fault-injection build), a grid of 9 small images
    (padded to 16 cells, gray to RGB: 5x the input) and a video of 3 clips (padded to
    4) are rejected before their copy, naming the argument, the size and the limit."""
    r, events = run_limited(
        tmp_path,
        "",
        "w.add_images('grid', np.zeros((9, 1, 300, 300), bool), 3)",
        GIB,
        env=fault_env("max_event_bytes:1000000"),
        warm=False,
    )
    assert_rejected(r, "img_tensor (the grid):", "2400×600", "4320000 bytes", "1000000")
    assert_around(events)
    r, events = run_limited(
        tmp_path,
        "",
        "w.add_video('clip', np.zeros((3, 10, 1, 200, 200), np.uint8), 3)",
        GIB,
        env=fault_env("max_event_bytes:1000000"),
        warm=False,
    )
    assert_rejected(r, "vid_tensor:", "10 frames of 800×200", "1600000 bytes", "1000000")
    assert_around(events)


def test_an_injected_worker_allocation_failure_drops_exactly_that_event(tmp_path):
    """`oom@encode:2,oom@encode:4` (fault-injection build): the writer thread's first
    fallible allocation for the 2nd event (an image) and the 4th (a histogram) fails.
    Those two are dropped with warnings naming them; every other event is on disk in
    order, and the process goes on and exits normally."""
    r, events = run_limited(
        tmp_path,
        "",
        """w.add_image('img', np.random.rand(3, 64, 64), 3)
        w.add_text('note', 'kept', 3)
        w.add_histogram('hist', np.random.rand(1000), 3)
        w.add_tensor('t', np.arange(6.0), 3)""",
        GIB,
        env=fault_env("oom@encode:2,oom@encode:4"),
        warm=False,
    )
    assert r["outcome"] == "accepted" and r["dropped"] == 2, r
    assert r["dropped_after_close"] == 2, r  # the count outlives the closed file
    assert events == [
        ("before", 1),
        ("note/text_summary", 3),
        ("t", 3),
        ("after", 2),
    ], events
    img, hist = r["warnings"]
    assert "'img'" in img.replace('"', "'") and "out of memory" in img, img
    assert "'hist'" in hist.replace('"', "'") and "out of memory" in hist, hist
