"""The hypothesis fuzz of the public API, run in its own interpreter by
test_reliability_fuzz.py (so that a crash fails one test instead of the whole run).

Usage: python reliability_fuzz_child.py ROOT MAX_EXAMPLES [memory]

Each example opens a writer in a fresh directory under ROOT and makes a random sequence
of calls (random methods, argument types, shapes, dtypes and values, including NaN, inf,
huge integers, lone surrogates, bytes and None). Each call must either return or raise
TypeError, ValueError or OverflowError; nothing else (no SystemError, ZeroDivisionError,
IndexError, RuntimeError, ...), no warning that an accepted event was dropped, and no
crash. After close(), every file must be one TensorBoard's readers accept: whole records
with valid CRCs, each an Event that decodes (protobuf checks UTF-8), finite wall times, a
file_version header first, and EventAccumulator must load the directory.

With `memory`, the process runs under RLIMIT_AS (what it uses after a warm-up plus
1 GiB) and the calls mix in size-amplifying arguments (rescale, bin counts and numpy
strategies on spiky data, image grids, video clips, embedding sprites): MemoryError is
allowed too, and so is an event dropped by the worker with an "out of memory" warning.
"""

from __future__ import annotations

import itertools
import os
import sys
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reliability_harness import check_file, event_files

if os.environ.get("FERROBOARD_RELIABILITY_WRITER") == "torch":
    from torch.utils.tensorboard import SummaryWriter
else:
    from ferroboard import SummaryWriter

ALLOWED = (TypeError, ValueError, OverflowError)

DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.complex64,
]

arrays = hnp.arrays(
    dtype=st.sampled_from(DTYPES),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
)
image_like = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.float32, np.float64, np.bool_, np.int64]),
    shape=st.sampled_from(
        [(3, 8, 8), (8, 8, 3), (1, 4, 4), (4, 4), (2, 3, 4, 4), (0, 4, 4), (5, 4, 4), (4, 4, 1)]
    ),
)
strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a\udcffb", "\ud800", "", "a/b", "nul\x00", "\U0001f680", "x" * 300]),
)
numbers = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    st.complex_numbers(),
)
anything = st.one_of(
    numbers,
    strings,
    st.binary(max_size=6),
    arrays,
    st.lists(st.floats(), max_size=4),
    st.dictionaries(st.text(max_size=4), st.floats(), max_size=2),
)


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` about 85% of the time: most calls get far enough to exercise the core."""
    return st.integers(0, 99).flatmap(lambda r: valid if r < 85 else invalid)


tags = mostly(
    st.one_of(st.text(max_size=12), st.sampled_from(["loss", "a/b", "nul\x00", "\U0001f680"])),
    st.one_of(
        st.sampled_from(["a\udcffb", "\ud800"]), st.none(), st.integers(), st.binary(max_size=4)
    ),
)
steps = mostly(
    st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=3)),
)
walltimes = mostly(
    st.one_of(st.none(), st.floats(min_value=-1e12, max_value=1e12)),
    st.one_of(st.floats(), st.integers(min_value=-(10**400), max_value=10**400), st.just("x")),
)
formats = st.sampled_from(["CHW", "HWC", "HW", "NCHW", "NHWC", "XYZ", "chw", "NTCHW", ""])


def call(name: str, *args: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.just(name), st.tuples(*args))


calls = st.one_of(
    call(
        "add_scalar",
        tags,
        mostly(st.one_of(st.floats(), st.integers()), anything),
        steps,
        walltimes,
    ),
    call("add_scalars", tags, st.dictionaries(tags, numbers, max_size=3), steps, walltimes),
    call("add_text", tags, mostly(strings, anything), steps, walltimes),
    call(
        "add_histogram",
        tags,
        mostly(arrays, anything),
        steps,
        st.one_of(
            st.just("tensorflow"),
            st.just("tensorflow"),
            st.sampled_from(["auto", "fd", "bogus"]),
            st.integers(-2, 40),
            arrays,
        ),
        walltimes,
    ),
    call(
        "add_histogram_raw",
        tags,
        numbers,
        numbers,
        numbers,
        numbers,
        numbers,
        st.one_of(arrays, st.lists(st.floats(), max_size=4)),
        st.one_of(arrays, st.lists(st.floats(), max_size=4)),
        steps,
    ),
    call("add_tensor", tags, mostly(arrays, anything), steps, walltimes),
    call("add_image", tags, mostly(image_like, arrays), steps, walltimes, formats),
    call("add_images", tags, mostly(image_like, arrays), steps, walltimes, formats),
    call(
        "add_audio",
        tags,
        mostly(
            hnp.arrays(
                st.sampled_from([np.float32, np.float64, np.int16]),
                st.sampled_from([(100,), (2, 50), (50, 2), (0,), (1, 1)]),
            ),
            anything,
        ),
        steps,
        mostly(st.integers(1, 50000), st.one_of(st.floats(), st.integers(-5, 0))),
        walltimes,
    ),
    call(
        "add_video",
        tags,
        st.one_of(
            hnp.arrays(
                np.uint8, st.sampled_from([(1, 2, 3, 4, 4), (1, 1, 1, 2, 2), (1, 0, 3, 4, 4)])
            ),
            arrays,
        ),
        steps,
        mostly(st.integers(1, 60), st.one_of(st.floats(), st.integers(-2, 0))),
        walltimes,
    ),
    call(
        "add_pr_curve",
        tags,
        mostly(hnp.arrays(np.int64, 8, elements=st.integers(0, 1)), arrays),
        mostly(hnp.arrays(np.float32, 8, elements=st.floats(0, 1, width=32)), arrays),
        steps,
        mostly(st.integers(2, 200), st.integers(-2, 1)),
    ),
    call(
        "add_mesh",
        tags,
        mostly(hnp.arrays(np.float32, st.sampled_from([(1, 4, 3), (2, 3, 3), (1, 0, 3)])), arrays),
        st.one_of(st.none(), hnp.arrays(np.uint8, st.sampled_from([(1, 4, 3), (1, 3, 3)]))),
        st.one_of(st.none(), hnp.arrays(np.int32, st.sampled_from([(1, 2, 3), (1, 1, 3)]))),
        st.none(),
        steps,
    ),
    call(
        "add_hparams",
        st.dictionaries(strings, st.one_of(numbers, strings), max_size=3),
        st.dictionaries(strings, numbers, max_size=2),
    ),
    call("flush"),
    call("close"),
)

counter = itertools.count()
ROOT = sys.argv[1]
#: (method, outcome) -> count, printed at the end to show what the fuzz exercised.
OUTCOMES: dict = {}


def verify(d: str) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = set()
    for path in event_files(d):
        check_file(path)
        runs.add(os.path.dirname(path))
    for run in sorted(runs):
        EventAccumulator(run, size_guidance={"scalars": 0, "tensors": 0}).Reload()


# -- size-amplifying arguments (the `memory` mode) ------------------------------------------
#
# Small inputs with arguments that multiply memory: each call must raise an allowed error
# (MemoryError included), or be accepted and either written or dropped by the worker with
# an "out of memory" warning, while the process runs under RLIMIT_AS.

boxes = hnp.arrays(np.float64, (2, 4), elements=st.floats(0, 64))
#: Valid steps: the calls below are about sizes, so they should reach the core.
good_steps = st.integers(0, 1000)
#: Data whose spread is tiny and range huge: numpy's strategies ask for ~1e16 bins.
spiky = st.sampled_from(
    [
        np.concatenate([np.arange(100) * 1e-9, [1e9]]),
        np.concatenate([np.zeros(50), np.arange(50) * 1e-12, [1e12]]),
        np.random.default_rng(0).random(200),
    ]
)
amplifying = st.one_of(
    call(
        "add_image_with_boxes",
        st.just("boxed"),
        hnp.arrays(np.float32, st.sampled_from([(3, 8, 8), (1, 16, 4), (3, 100, 100)])),
        boxes,
        good_steps,
        st.just(None),
        st.sampled_from([0.5, 1, 40, 250, 1000, 1e6, 1e12]),
    ),
    call(
        "add_histogram",
        st.just("bins"),
        spiky,
        good_steps,
        st.one_of(
            st.sampled_from([10, 10**5, 10**7, 3 * 10**7, 10**8, 10**9, 10**12, 2**70]),
            st.sampled_from(["auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"]),
        ),
    ),
    call(
        "add_images",
        st.just("grid"),
        st.sampled_from([(9, 1, 1, 4000), (64, 1, 40, 40), (3, 1, 2000, 2000)]).map(
            lambda shape: np.zeros(shape, np.uint8)
        ),
        good_steps,
    ),
    call(
        "add_video",
        st.just("clips"),
        st.sampled_from([(3, 2, 1, 8, 20000), (9, 4, 1, 64, 64), (2, 1, 1, 1, 40000)]).map(
            lambda shape: np.zeros(shape, np.uint8)
        ),
        good_steps,
    ),
    call(
        "add_embedding",
        st.just(np.zeros((2, 3))),
        st.none(),
        st.sampled_from([(2, 1, 50000, 1), (2, 3, 8, 8), (2, 1, 1, 30000)]).map(np.zeros),
        good_steps,
    ),
)


def run_examples(sequence: list, allowed: tuple, drop_ok: str | None) -> None:
    """One example: a writer, the calls, close, then the files must read back. A dropped
    event fails the example unless its warning contains `drop_ok`."""
    d = os.path.join(ROOT, f"ex{next(counter):04d}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w = SummaryWriter(d)
        try:
            for name, args in sequence:
                try:
                    getattr(w, name)(*args)
                    outcome = "ok"
                except allowed as exc:
                    outcome = type(exc).__name__
                OUTCOMES[name, outcome] = OUTCOMES.get((name, outcome), 0) + 1
        finally:
            w.close()
    dropped = [str(c.message) for c in caught if "dropped an event" in str(c.message)]
    unexpected = [m for m in dropped if drop_ok is None or drop_ok not in m]
    assert not unexpected, f"accepted events were dropped by the writer: {unexpected}"
    OUTCOMES["(worker)", "dropped"] = OUTCOMES.get(("(worker)", "dropped"), 0) + len(dropped)
    verify(d)


# Both fuzzes: deterministic in CI; FERROBOARD_FUZZ_RANDOM=1 explores new examples each run.
FUZZ_SETTINGS = settings(
    max_examples=int(sys.argv[2]),
    deadline=None,
    database=None,
    derandomize=os.environ.get("FERROBOARD_FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
)


@FUZZ_SETTINGS
@given(st.lists(calls, min_size=1, max_size=6))
def fuzz(sequence: list) -> None:
    run_examples(sequence, ALLOWED, drop_ok=None)


@FUZZ_SETTINGS
@given(st.lists(st.one_of(amplifying, amplifying, amplifying, calls), min_size=1, max_size=4))
def fuzz_memory(sequence: list) -> None:
    run_examples(sequence, (*ALLOWED, MemoryError), drop_ok="out of memory")


def limit_address_space(headroom: int) -> None:
    """RLIMIT_AS at what the process uses now plus `headroom`, after a warm-up that
    starts every thread pool (and its allocator arenas)."""
    import resource
    import tempfile

    with SummaryWriter(tempfile.mkdtemp(dir=ROOT)) as w:
        w.add_image("warm", np.random.rand(3, 600, 600), 0)
        w.add_histogram("warm", np.random.rand(300000), 0)
        w.add_histogram("warm", np.random.rand(300000), 0, bins=30)
        w.flush()
    with open("/proc/self/status") as f:
        used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (used + headroom, used + headroom))


if __name__ == "__main__":
    np.seterr(all="ignore")
    if sys.argv[3:] == ["memory"]:
        limit_address_space(1 << 30)
        fuzz_memory()
    else:
        fuzz()
    for (name, outcome), n in sorted(OUTCOMES.items()):
        print(f"{name:20} {outcome:14} {n}", file=sys.stderr)
    print("RESULT {}", flush=True)
