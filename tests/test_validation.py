"""Input validation: bad arguments raise at the call, name themselves, and write nothing.

Contract (docs/architecture.md): "The path of one call" step 1 (errors name the argument
and the value), G6 (no record a reader rejects); T12-T16. Every bad call is made
between two good events on a live writer; the file must then be CRC-clean, decode with
TensorBoard's protos, and hold exactly the good events. A failure here is either a call
that did not raise, an error of the wrong type or with an unhelpful message, or a
side effect (a record, a file, a directory) left by a rejected call.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np
import pytest
import torch
from ferroboard import SummaryWriter
from procs import all_event_files, event_files, read_events, scalars, summary_values

# No test may hang CI: each child has its own timeout too.
pytestmark = pytest.mark.timeout(120)

NAN = float("nan")
INF = float("inf")
BAD_TYPE = (TypeError, ValueError)


def arr(*values, dtype=np.float32):
    return np.array(values, dtype=dtype)


def hist(values, **kw):
    return lambda w: w.add_histogram("h", values, 0, **kw)


def raw(limits, counts, **kw):
    args = dict(min=0.0, max=1.0, num=2, sum=1.0, sum_squares=1.0)
    args.update(kw)
    return lambda w: w.add_histogram_raw("r", bucket_limits=limits, bucket_counts=counts, **args)


# Each case: (id, call, accepted exception types, what the message must contain).
# A needle that is a tuple is satisfied by any of its strings.
CASES = [
    # -- tags ---------------------------------------------------------------------------
    ("scalar_tag_int", lambda w: w.add_scalar(5, 1.0, 0), TypeError, ["tag", "int"]),
    ("scalar_tag_none", lambda w: w.add_scalar(None, 1.0, 0), TypeError, ["tag", "None"]),
    ("scalar_tag_bytes", lambda w: w.add_scalar(b"loss", 1.0, 0), TypeError, ["tag", "bytes"]),
    ("text_tag_none", lambda w: w.add_text(None, "x", 0), TypeError, ["tag", "None"]),
    ("histogram_tag_int", lambda w: w.add_histogram(7, arr(1, 2), 0), TypeError, ["tag", "7"]),
    ("tensor_tag_bytes", lambda w: w.add_tensor(b"t", arr(1, 2), 0), TypeError, ["tag", "bytes"]),
    (
        "histogram_raw_tag_none",
        lambda w: w.add_histogram_raw(None, 0, 1, 2, 1, 1, [1, 2], [1, 1]),
        TypeError,
        ["tag", "None"],
    ),
    # lone surrogates cannot be encoded as UTF-8: a record with them would poison readers
    (
        "scalar_tag_surrogate",
        lambda w: w.add_scalar("a\ud800b", 1.0, 0),
        ValueError,
        ["tag", ("\\ud800", "\ud800")],
    ),
    (
        "scalar_tag_surrogate_escape",
        lambda w: w.add_scalar("a\udcffb", 1.0, 0),
        ValueError,
        ["tag", ("\\udcff", "\udcff")],
    ),
    (
        "text_tag_surrogate",
        lambda w: w.add_text("\ud800", "x", 0),
        ValueError,
        ["tag", ("\\ud800", "\ud800")],
    ),
    (
        "histogram_tag_surrogate",
        lambda w: w.add_histogram("\ud800", arr(1, 2), 0),
        ValueError,
        ["tag", ("\\ud800", "\ud800")],
    ),
    (
        "tensor_tag_surrogate",
        lambda w: w.add_tensor("\udcff", arr(1, 2), 0),
        ValueError,
        ["tag", ("\\udcff", "\udcff")],
    ),
    (
        "histogram_raw_tag_surrogate",
        lambda w: w.add_histogram_raw("\ud800", 0, 1, 2, 1, 1, [1, 2], [1, 1]),
        ValueError,
        ["tag", ("\\ud800", "\ud800")],
    ),
    # -- text ---------------------------------------------------------------------------
    (
        "text_surrogate",
        lambda w: w.add_text("t", "ok \ud800 then", 0),
        ValueError,
        ["text_string", ("\\ud800", "\ud800")],
    ),
    ("text_int", lambda w: w.add_text("t", 5, 0), TypeError, ["text_string", "int"]),
    ("text_none", lambda w: w.add_text("t", None, 0), TypeError, ["text_string", "None"]),
    ("text_bytes", lambda w: w.add_text("t", b"abc", 0), TypeError, ["text_string", "bytes"]),
    # -- walltime (deviation from torch: NaN/inf wall_time makes rustboard drop the file) --
    (
        "scalar_walltime_nan",
        lambda w: w.add_scalar("s", 1.0, 0, NAN),
        ValueError,
        ["walltime", "nan"],
    ),
    (
        "scalar_walltime_inf",
        lambda w: w.add_scalar("s", 1.0, 0, INF),
        ValueError,
        ["walltime", "inf"],
    ),
    (
        "scalar_walltime_neg_inf",
        lambda w: w.add_scalar("s", 1.0, 0, -INF),
        ValueError,
        ["walltime", "inf"],
    ),
    (
        "scalar_walltime_str",
        lambda w: w.add_scalar("s", 1.0, 0, "noon"),
        BAD_TYPE,
        ["walltime", "noon"],
    ),
    (
        "scalar_walltime_numpy_nan",
        lambda w: w.add_scalar("s", 1.0, 0, np.float64("nan")),
        ValueError,
        ["walltime", "nan"],
    ),
    (
        "text_walltime_nan",
        lambda w: w.add_text("t", "x", 0, NAN),
        ValueError,
        ["walltime", "nan"],
    ),
    (
        "histogram_walltime_inf",
        lambda w: w.add_histogram("h", arr(1, 2), 0, walltime=INF),
        ValueError,
        ["walltime", "inf"],
    ),
    (
        "histogram_raw_walltime_nan",
        lambda w: w.add_histogram_raw("r", 0, 1, 2, 1, 1, [1, 2], [1, 1], 0, NAN),
        ValueError,
        ["walltime", "nan"],
    ),
    (
        "tensor_walltime_str",
        lambda w: w.add_tensor("t", arr(1, 2), 0, "noon"),
        BAD_TYPE,
        ["walltime", "noon"],
    ),
    (
        "scalars_walltime_nan",
        lambda w: w.add_scalars("m", {"a": 1.0}, 0, NAN),
        ValueError,
        ["walltime", "nan"],
    ),
    # -- global_step --------------------------------------------------------------------
    (
        "scalar_step_str",
        lambda w: w.add_scalar("s", 1.0, "abc"),
        BAD_TYPE,
        ["global_step", "abc"],
    ),
    (
        "scalar_step_nan",
        lambda w: w.add_scalar("s", 1.0, NAN),
        BAD_TYPE,
        ["global_step", "nan"],
    ),
    (
        "scalar_step_inf",
        lambda w: w.add_scalar("s", 1.0, INF),
        (TypeError, ValueError, OverflowError),
        ["global_step", "inf"],
    ),
    (
        "text_step_str",
        lambda w: w.add_text("t", "x", "abc"),
        BAD_TYPE,
        ["global_step", "abc"],
    ),
    (
        "histogram_step_nan",
        lambda w: w.add_histogram("h", arr(1, 2), NAN),
        BAD_TYPE,
        ["global_step", "nan"],
    ),
    (
        "tensor_step_str",
        lambda w: w.add_tensor("t", arr(1, 2), "abc"),
        BAD_TYPE,
        ["global_step", "abc"],
    ),
    (
        "scalar_step_2_63",
        lambda w: w.add_scalar("s", 1.0, 2**63),
        (ValueError, OverflowError),
        ["global_step", str(2**63)],
    ),
    (
        "text_step_below_int64",
        lambda w: w.add_text("t", "x", -(2**63) - 1),
        (ValueError, OverflowError),
        ["global_step", str(-(2**63) - 1)],
    ),
    # -- scalar_value -------------------------------------------------------------------
    (
        "scalar_value_array_3",
        lambda w: w.add_scalar("s", np.array([1.0, 2.0, 3.0]), 0),
        ValueError,
        ["scalar_value", "(3,)"],
    ),
    (
        "scalar_value_tensor_2x2",
        lambda w: w.add_scalar("s", torch.ones(2, 2), 0),
        ValueError,
        ["scalar_value", "(2, 2)"],
    ),
    (
        "scalar_value_list_2",
        lambda w: w.add_scalar("s", [1.0, 2.0], 0),
        ValueError,
        ["scalar_value", "(2,)"],
    ),
    (
        "scalar_value_empty",
        lambda w: w.add_scalar("s", np.array([]), 0),
        ValueError,
        ["scalar_value", "(0,)"],
    ),
    (
        "scalar_value_str",
        lambda w: w.add_scalar("s", "abc", 0),
        BAD_TYPE,
        ["scalar_value", "abc"],
    ),
    (
        "scalar_value_none",
        lambda w: w.add_scalar("s", None, 0),
        BAD_TYPE,
        ["scalar_value", "None"],
    ),
    (
        "scalar_value_complex",
        lambda w: w.add_scalar("s", 1 + 2j, 0),
        BAD_TYPE,
        ["scalar_value", "complex"],
    ),
    (
        "scalar_value_object",
        lambda w: w.add_scalar("s", object(), 0),
        BAD_TYPE,
        ["scalar_value", "object"],
    ),
    # -- histogram values ---------------------------------------------------------------
    ("histogram_empty", hist(np.array([], dtype=np.float32)), ValueError, ["values", "(0,)"]),
    ("histogram_empty_list", hist([]), ValueError, ["values", "(0,)"]),
    (
        "histogram_empty_2d",
        hist(np.zeros((3, 0), dtype=np.float32)),
        ValueError,
        ["values", "(3, 0)"],
    ),
    (
        "histogram_object_dtype",
        hist(np.array([1.0, "a"], dtype=object)),
        BAD_TYPE,
        ["values", "object"],
    ),
    ("histogram_complex", hist(np.array([1 + 1j, 2.0])), BAD_TYPE, ["values", "complex"]),
    ("histogram_str_array", hist(np.array(["a", "b"])), BAD_TYPE, ["values", "U1"]),
    ("histogram_str_list", hist(["a", "b"]), BAD_TYPE, ["values"]),
    ("histogram_ragged", hist([[1.0], [1.0, 2.0]]), BAD_TYPE, ["values"]),
    ("histogram_all_nan", hist(arr(NAN, NAN, NAN)), ValueError, ["values"]),
    # -- bins and max_bins --------------------------------------------------------------
    (
        "bins_not_monotonic",
        hist(arr(1, 2), bins=[0.25, 7.5, 3.5]),
        ValueError,
        ["bins", "7.5", "3.5"],
    ),
    ("bins_with_nan", hist(arr(1, 2), bins=[0.0, NAN, 3.0]), ValueError, ["bins", "nan"]),
    ("bins_one_edge", hist(arr(1, 2), bins=[1.0]), ValueError, ["bins"]),
    ("bins_2d", hist(arr(1, 2), bins=[[0.0, 1.0], [2.0, 3.0]]), ValueError, ["bins", "(2, 2)"]),
    ("bins_zero", hist(arr(1, 2), bins=0), ValueError, ["bins", "0"]),
    ("bins_negative", hist(arr(1, 2), bins=-3), ValueError, ["bins", "-3"]),
    ("bins_numpy_negative", hist(arr(1, 2), bins=np.int64(-2)), ValueError, ["bins", "-2"]),
    ("bins_unknown_name", hist(arr(1, 2), bins="bogus"), ValueError, ["bins", "bogus"]),
    (
        "int_bins_with_nan_values",
        hist(arr(1, NAN, 3), bins=10),
        ValueError,
        ["not finite", "nan"],
    ),
    (
        "int_bins_with_inf_values",
        hist(arr(1, INF), bins=10),
        ValueError,
        ["not finite", "inf"],
    ),
    ("max_bins_zero", hist(arr(1, 2), max_bins=0), BAD_TYPE, ["max_bins", "0"]),
    ("max_bins_negative", hist(arr(1, 2), max_bins=-4), BAD_TYPE, ["max_bins", "-4"]),
    ("max_bins_str", hist(arr(1, 2), max_bins="many"), BAD_TYPE, ["max_bins", "many"]),
    ("max_bins_float", hist(arr(1, 2), max_bins=2.5), BAD_TYPE, ["max_bins", "2.5"]),
    # -- add_histogram_raw --------------------------------------------------------------
    (
        "raw_more_limits",
        raw([1.0, 2.0, 3.0], [1.0, 1.0]),
        ValueError,
        ["bucket_limits", "bucket_counts", "3", "2"],
    ),
    (
        "raw_more_counts",
        raw([1.0], [1.0, 1.0, 0.0, 0.0]),
        ValueError,
        ["bucket_limits", "bucket_counts", "1", "4"],
    ),
    ("raw_min_str", raw([1.0, 2.0], [1.0, 1.0], min="low"), BAD_TYPE, ["min", "low"]),
    ("raw_num_none", raw([1.0, 2.0], [1.0, 1.0], num=None), BAD_TYPE, ["num", "None"]),
    ("raw_counts_str", raw([1.0, 2.0], ["a", "b"]), BAD_TYPE, ["bucket_counts"]),
    ("raw_limits_none", raw(None, [1.0]), BAD_TYPE, ["bucket_limits"]),
    # -- add_tensor ---------------------------------------------------------------------
    (
        "tensor_object_dtype",
        lambda w: w.add_tensor("t", np.array([None, 1]), 0),
        BAD_TYPE,
        ["tensor", "object"],
    ),
    (
        "tensor_str_array",
        lambda w: w.add_tensor("t", np.array(["a"]), 0),
        BAD_TYPE,
        ["tensor", "U1"],
    ),
    # -- add_scalars (each key goes to its own sub-run directory, as in torch) -------------
    ("scalars_not_dict", lambda w: w.add_scalars("m", [1.0], 0), TypeError, ["tag_scalar_dict"]),
    (
        "scalars_main_tag_int",
        lambda w: w.add_scalars(3, {"a": 1.0}, 0),
        TypeError,
        ["main_tag", "int"],
    ),
    (
        "scalars_key_int",
        lambda w: w.add_scalars("m", {1: 1.0}, 0),
        TypeError,
        ["tag_scalar_dict", "int"],
    ),
    (
        "scalars_one_bad_value",
        lambda w: w.add_scalars("m", {"good": 1.0, "bad": "x"}, 0),
        BAD_TYPE,
        ["bad", "x"],
    ),
    (
        "scalars_main_tag_surrogate",
        lambda w: w.add_scalars("m\ud800", {"a": 1.0}, 0),
        ValueError,
        ["main_tag", ("\\ud800", "\ud800")],
    ),
    (
        "scalars_main_tag_surrogate_escape",
        lambda w: w.add_scalars("m\udcff", {"a": 1.0}, 0),
        ValueError,
        ["main_tag", ("\\udcff", "\udcff")],
    ),
    (
        "scalars_key_surrogate",
        lambda w: w.add_scalars("m", {"k\ud800": 1.0}, 0),
        ValueError,
        ["tag_scalar_dict", ("\\ud800", "\ud800")],
    ),
    (
        "scalars_key_surrogate_escape",
        lambda w: w.add_scalars("m", {"k\udcff": 1.0}, 0),
        ValueError,
        ["tag_scalar_dict", ("\\udcff", "\udcff")],
    ),
]

CASE_IDS = [case[0] for case in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS)


def check_message(message: str, needles: list) -> None:
    for needle in needles:
        options = needle if isinstance(needle, tuple) else (needle,)
        assert any(option in message for option in options), (
            f"error message {message!r} does not contain {needle!r}"
        )


def tree(root) -> list:
    """Every file and directory under `root`, relative to it."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.fspath(root)):
        for name in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, name), os.fspath(root)))
    return sorted(out)


def only_good_events(run_dir, n_good: int) -> None:
    """`run_dir` holds one event file, clean, with exactly scalars good@0..n_good-1."""
    files = event_files(run_dir)
    assert len(files) == 1, f"event files: {files}"
    stray = [p for p in tree(run_dir) if p != os.path.basename(files[0])]
    assert not stray, f"rejected calls left files or directories behind: {stray!r}"
    values = summary_values(read_events(files[0]))
    assert values == [("scalar", "good", i, float(i)) for i in range(n_good)]


@pytest.mark.parametrize("name,call,exc,needles", CASES, ids=CASE_IDS)
def test_bad_input_raises_names_it_and_writes_nothing(tmp_path, name, call, exc, needles):
    run = tmp_path / "run"
    w = SummaryWriter(run)
    try:
        w.add_scalar("good", 0.0, 0)
        with pytest.raises(exc) as info:
            call(w)
        check_message(str(info.value), needles)
        w.add_scalar("good", 1.0, 1)  # the writer stays usable
    finally:
        w.close()
    only_good_events(run, 2)


def test_many_bad_calls_on_one_writer_leave_only_the_good_events(tmp_path):
    run = tmp_path / "run"
    w = SummaryWriter(run)
    wrong = []
    try:
        for i, (name, call, _exc, _needles) in enumerate(CASES):
            w.add_scalar("good", float(i), i)
            try:
                call(w)
            except (TypeError, ValueError, OverflowError):
                pass
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # e.g. a Rust panic (pyo3 PanicException)
                wrong.append(f"{name}: {type(exc).__name__}: {exc}")
            else:
                wrong.append(f"{name}: accepted")
        w.add_scalar("good", float(len(CASES)), len(CASES))
        w.flush()
    finally:
        w.close()
    assert not wrong, "bad calls not rejected with TypeError/ValueError:\n" + "\n".join(wrong)
    only_good_events(run, len(CASES) + 1)


def test_rejected_add_scalars_writes_no_key_at_all(tmp_path):
    run = tmp_path / "run"
    with SummaryWriter(run) as w:
        w.add_scalar("good", 0.0, 0)
        with pytest.raises(BAD_TYPE):
            w.add_scalars("m", {"a": 1.0, "b": 2.0, "c": [1.0, 2.0]}, 0)
        w.add_scalars("m", {"a": 3.0}, 1)
    subdirs = sorted(p for p in tree(run) if os.path.isdir(run / p))
    assert subdirs == ["m_a"], subdirs
    (sub_file,) = event_files(run / "m_a")
    assert scalars(read_events(sub_file)) == [("m", 1, 3.0)]


# -- valid edge inputs must not be rejected (positive control) -----------------------------


def test_valid_edge_inputs_are_accepted_verbatim(tmp_path):
    run = tmp_path / "run"
    odd_tags = ["with space", "new\nline", "nul\x00byte", "emoji 🚀/ünï", "x" * 10_000]
    with SummaryWriter(run) as w:
        for i, tag in enumerate(odd_tags):
            w.add_scalar(tag, float(i), i)
        w.add_scalar("np_f32", np.float32(1.5), np.int64(7))
        w.add_scalar("torch_0d", torch.tensor(2.5), torch.tensor(8))
        w.add_scalar("one_elem", np.array([3.5]), 9)
        w.add_scalar("bool", True, 10)
        w.add_scalar("nan", NAN, 11)
        w.add_scalar("inf", -INF, 12)
        w.add_scalar("int64_max", 1.0, 2**63 - 1)
        w.add_scalar("int64_min", 1.0, -(2**63))
        w.add_scalar("neg_step", 1.0, -1)
        w.add_scalar("walltime", 1.0, 13, walltime=1.5e9)
        w.add_text("text", "emoji 🚀, NUL \x00, newline \n", 14)
        w.add_histogram("h_int_bins", np.arange(10.0), 15, bins=4)
        w.add_histogram("h_edges", np.arange(10.0), 16, bins=[0.0, 5.0, 10.0])
        w.add_histogram("h_const", np.full(5, 3.0), 17, bins=3)
        w.add_histogram("h_some_nan", arr(1.0, NAN, 2.0), 18)
        w.add_histogram_raw("raw", 0.0, 2.0, 3, 3.0, 5.0, [1.0, 2.0], [1, 2], 19)
    (path,) = event_files(run)
    events = read_events(path)
    values = summary_values(events)
    got = {(tag, step): payload for _, tag, step, payload in values}
    for i, tag in enumerate(odd_tags):
        assert got[(tag, i)] == float(i), tag
    assert got[("np_f32", 7)] == 1.5
    assert got[("torch_0d", 8)] == 2.5
    assert got[("one_elem", 9)] == 3.5
    assert got[("bool", 10)] == 1.0
    assert math.isnan(got[("nan", 11)])
    assert got[("inf", 12)] == -INF
    assert got[("int64_max", 2**63 - 1)] == 1.0
    assert got[("int64_min", -(2**63))] == 1.0
    assert got[("neg_step", -1)] == 1.0
    assert got[("text/text_summary", 14)] == "emoji 🚀, NUL \x00, newline \n"
    assert got[("h_int_bins", 15)] == 10.0
    assert got[("h_edges", 16)] == 10.0
    assert got[("h_const", 17)] == 5.0
    assert got[("h_some_nan", 18)] == 3.0
    assert got[("raw", 19)] == 3.0
    walltime = [e.wall_time for e in events if e.step == 13]
    assert walltime == [1.5e9]
    assert len(values) == len(odd_tags) + 16


# -- write_to_disk=False ------------------------------------------------------------------


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def test_write_to_disk_false_writes_nothing_and_ignores_garbage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    linux = sys.platform.startswith("linux")
    tasks_before = _task_count() if linux else 0
    threads_before = threading.active_count()
    writers = [SummaryWriter(tmp_path / "run", write_to_disk=False) for _ in range(5)]
    writers.append(SummaryWriter(write_to_disk=False))  # default runs/... directory
    writers.append(SummaryWriter(comment="x", write_to_disk=False))
    garbage = object()
    for w in writers:
        assert w.add_scalar(None, "not a number", "abc", NAN) is None
        w.add_scalar(b"\xff", garbage, NAN, INF)
        w.add_scalars(5, garbage, garbage)
        w.add_text(garbage, 5, "x")
        w.add_text("t\ud800", "\ud800")
        w.add_histogram(None, np.array([], dtype=object), NAN, bins=-1, max_bins="x")
        w.add_histogram("h", garbage)
        w.add_histogram_raw("r", "a", "b", "c", "d", "e", [1, 2, 3], [1])
        w.add_tensor(None, np.array([None]), "abc")
        w.add_scalar("ok", 1.0, 0)
        w.add_histogram("ok", np.arange(10.0), 0)
        w.flush()
        w.close()
        w.close()
    if linux:
        assert _task_count() == tasks_before, "write_to_disk=False started threads"
    assert threading.active_count() == threads_before
    assert tree(tmp_path) == [], f"write_to_disk=False created {tree(tmp_path)}"
    assert all_event_files(tmp_path) == []
