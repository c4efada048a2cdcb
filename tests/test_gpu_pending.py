"""Order, completion, cancellation, flush, close, fork, exit and capture rules of values
computed on a GPU (docs/gpu.md), driven on CPU with fake completion events.

CPU tensors are routed through the GPU path (the reductions are real torch ops), and
each completion event is a `FakeEvent` whose `query()` the test controls, standing in for
a `torch.cuda.Event` whose work has or has not yet run. What the file holds is read back
with TensorBoard's protos.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import fake_events
import ferroboard
import pytest
import torch
from eventfiles import events_of, summary_values
from ferroboard import _capture, _device_path, _dynamo, _pending
from procs import describe_run, run_child


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> fake_events.FakeEvents:
    return fake_events.install(monkeypatch)


def logged(logdir: Any) -> list[tuple[int, str, Any]]:
    """(step, tag, value or histogram count) of every summary value on disk."""
    out = []
    for e in events_of(logdir):
        for v in e.summary.value:
            kind = v.WhichOneof("value")
            value = v.simple_value if kind == "simple_value" else v.histo.num
            out.append((e.step, v.tag, value))
    return out


def core_flush(w: ferroboard.SummaryWriter) -> None:
    """The core's barrier alone: writes what precedes the first unfilled slot."""
    w.file_writer._core.flush()


def test_a_pending_value_holds_back_later_events_until_its_event_completes(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("a", 1.0, 0)
    w.add_scalar("d", torch.tensor(2.0), 1)
    w.add_histogram("h", torch.arange(10.0), 2)
    w.add_scalar("b", 3.0, 3)
    core_flush(w)
    assert logged(tmp_path) == [(0, "a", 1.0)]
    assert w.poll() == 2  # nothing completed: both still pending
    events.made[1].done = True  # the histogram's work ran first: still held back
    assert w.poll() == 2
    core_flush(w)
    assert logged(tmp_path) == [(0, "a", 1.0)]
    events.made[0].done = True
    assert w.poll() == 0
    core_flush(w)
    assert logged(tmp_path) == [(0, "a", 1.0), (1, "d", 2.0), (2, "h", 10.0), (3, "b", 3.0)]
    w.close()


def test_step_and_wall_time_are_taken_at_the_call(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    before = time.time()
    w.add_scalar("d", torch.tensor(2.0), 5)
    after = time.time()
    time.sleep(0.05)
    events.made[0].done = True
    w.add_scalar("e", torch.tensor(3.0), 6, walltime=123.0)
    events.made[1].done = True
    w.close()
    first, second = [e for e in events_of(tmp_path) if e.HasField("summary")]
    assert first.step == 5 and before <= first.wall_time <= after
    assert (second.step, second.wall_time) == (6, 123.0)


def test_the_next_writer_call_finishes_completed_entries_at_most_once_per_ms(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("d", torch.tensor(2.0), 0)
    queue = w.file_writer._pending
    start = time.perf_counter()
    for i in range(2000):
        w.add_scalar("x", float(i), i)
    elapsed_ms = (time.perf_counter() - start) * 1000
    event = events.made[0]
    assert 1 <= event.queries <= elapsed_ms + 2, (event.queries, elapsed_ms)
    assert len(queue) == 1
    event.done = True
    time.sleep(0.002)
    w.add_text("t", "any call polls", 0)
    assert len(queue) == 0
    w.close()
    assert logged(tmp_path)[0] == (0, "d", 2.0)


def test_flush_waits_for_every_pending_value(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("d", torch.tensor(2.0), 0, new_style=True, double_precision=True)
    w.add_histograms({"p": torch.ones(4), "q": torch.zeros(3)}, 1)
    w.add_scalar("b", 3.0, 2)
    w.flush()
    assert [e.waits for e in events.made] == [1, 1]
    tags = [v.tag for v in summary_values(events_of(tmp_path))]
    assert tags == ["d", "p", "q", "b"]
    (d,) = [v for v in summary_values(events_of(tmp_path)) if v.tag == "d"]
    assert d.tensor.double_val == [2.0]  # new_style, double precision: torch's layout
    w.close()


def test_a_device_error_cancels_the_pending_events_with_a_count(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("d1", torch.tensor(1.0), 0)
    w.add_scalar("d2", torch.tensor(2.0), 1)
    w.add_scalar("host", 3.0, 2)
    events.made[0].error = RuntimeError("CUDA error: an illegal memory access was encountered")
    with pytest.warns(RuntimeWarning, match=r"2 event\(s\).*illegal memory access"):
        assert w.poll() == 0
    w.add_scalar("later", 4.0, 3)
    w.close()
    assert logged(tmp_path) == [(2, "host", 3.0), (3, "later", 4.0)]


def test_close_cancels_what_cannot_arrive_and_still_closes(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("host", 1.0, 0)
    w.add_histogram("d", torch.ones(3), 1)
    events.made[0].error = RuntimeError("CUDA error: device-side assert triggered")
    with pytest.warns(RuntimeWarning, match=r"1 event\(s\).*device-side assert"):
        w.close()
    assert logged(tmp_path) == [(0, "host", 1.0)]
    w.add_scalar("reopened", 2.0, 2)  # a later call opens a new file, as after any close
    w.close()


def test_a_value_that_fails_on_the_host_is_reported_by_tag(tmp_path, events):
    """Integer bins need the data's range, known only once the copy arrived: an all-NaN
    tensor then fails where the host path would have raised at the call."""
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_histogram("nan", torch.full((3,), float("nan")), 0, bins=10)
    w.add_scalar("b", 1.0, 1)
    with pytest.warns(RuntimeWarning, match=r"1 event\(s\).*tag 'nan'.*all 3 values are NaN"):
        w.flush()
    w.close()
    assert logged(tmp_path) == [(1, "b", 1.0)]


def test_a_full_queue_waits_for_its_oldest_entry(tmp_path, events, monkeypatch):
    monkeypatch.setattr(_pending, "MAX_PENDING_ENTRIES", 3)
    w = ferroboard.SummaryWriter(str(tmp_path))
    for i in range(5):
        w.add_scalar("d", torch.tensor(float(i)), i)
    assert [e.waits for e in events.made] == [1, 1, 0, 0, 0]
    assert len(w.file_writer._pending) == 3
    w.close()
    assert [s for s, _, _ in logged(tmp_path)] == [0, 1, 2, 3, 4]


def test_a_forked_child_never_touches_its_parents_pending_values(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("parent", torch.tensor(1.0), 0)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            w.add_scalar("child", 2.0, 1)
            w.poll()
            w.flush()
            w.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # 17: the child touched the event
    events.made[0].done = True
    w.close()
    runs = {tuple(logged_file) for logged_file in _per_file(tmp_path)}
    assert runs == {((0, "parent", 1.0),), ((1, "child", 2.0),)}


def _per_file(logdir: Any) -> list[list]:
    from eventfiles import event_files, read_events

    out = []
    for path in event_files(logdir)["."]:
        values = []
        for e in read_events(path):
            for v in e.summary.value:
                values.append((e.step, v.tag, v.simple_value))
        out.append(values)
    return out


# -- CUDA graph capture ---------------------------------------------------------------


def test_logging_during_a_capture_raises_and_says_why(tmp_path, events, monkeypatch):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("before", torch.tensor(1.0), 0)
    monkeypatch.setattr(_capture, "capturing", lambda: True)
    with pytest.raises(RuntimeError, match="CUDA graph is being captured.*on_cuda_capture"):
        w.add_scalar("s", torch.tensor(1.0), 1)
    with pytest.raises(RuntimeError, match="CUDA graph is being captured"):
        w.add_histogram("h", torch.ones(3), 1)
    w.add_scalar("host", 2.0, 2)  # host values are unaffected
    assert w.poll() == 1 and events.made[0].queries == 0  # no query during a capture
    with pytest.raises(RuntimeError, match="flush after the capture"):
        w.flush()
    monkeypatch.setattr(_capture, "capturing", lambda: False)
    w.close()
    assert logged(tmp_path) == [(0, "before", 1.0), (2, "host", 2.0)]


def test_capture_policy_skip_drops_such_calls_with_one_warning(tmp_path, events, monkeypatch):
    w = ferroboard.SummaryWriter(str(tmp_path), on_cuda_capture="skip")
    monkeypatch.setattr(_capture, "capturing", lambda: True)
    monkeypatch.setattr(_device_path, "_skip_warned", False)
    with pytest.warns(RuntimeWarning, match="skipped") as caught:
        w.add_scalar("s", torch.tensor(1.0), 1)
        w.add_histograms({"h": torch.ones(3), "host": [1.0, 2.0]}, 1)
    assert len(caught) == 1
    monkeypatch.setattr(_capture, "capturing", lambda: False)
    w.close()
    assert logged(tmp_path) == [(1, "host", 2.0)]
    with pytest.raises(ValueError, match="on_cuda_capture must be 'raise' or 'skip'"):
        ferroboard.SummaryWriter(str(tmp_path), on_cuda_capture="ignore")


def test_capture_detection_never_initializes_cuda():
    """A process that never used CUDA is not capturing, and asking does not start CUDA
    (on a machine with a GPU, initializing would cost seconds and device memory)."""
    assert not torch.cuda.is_initialized()
    assert _capture.capturing() is False
    assert not torch.cuda.is_initialized()


# -- torch.compile ---------------------------------------------------------------------


def test_torch_compile_breaks_the_graph_at_writer_calls(tmp_path, events):
    import torch._dynamo

    w = ferroboard.SummaryWriter(str(tmp_path))  # after Dynamo is loaded: files skipped
    assert _dynamo.is_skipped(_device_path.__file__).skipped

    def step(x: torch.Tensor) -> torch.Tensor:
        y = x * 2
        w.add_scalar("loss", y.sum(), 0)
        w.add_histogram("y", y, 0)
        return y + 1

    torch._dynamo.reset()
    explained = torch._dynamo.explain(step)(torch.ones(3))
    reasons = " ".join(str(b.reason) for b in explained.break_reasons)
    assert explained.graph_break_count >= 1 and "compiler.disable" in reasons, reasons
    compiled = torch.compile(step, backend="eager")
    assert compiled(torch.ones(3)).tolist() == [3.0, 3.0, 3.0]
    for event in events.made:
        event.done = True
    w.close()
    values = logged(tmp_path)
    assert values[-2:] == [(0, "loss", 6.0), (0, "y", 3.0)]


# -- interpreter exit --------------------------------------------------------------------

_EXIT_SCRIPT = (
    fake_events.CHILD_EVENTS_NEVER_DONE
    + """w.add_scalar("host", 1.0, 0)
w.add_scalar("device", torch.tensor(2.0), 1)
w.add_scalar("host", 3.0, 2)
report(done=True)
"""
)


@pytest.mark.parametrize("fail", [False, True], ids=["completes", "device-error"])
def test_exit_waits_for_pending_values_or_reports_them(tmp_path, fail):
    result = run_child(_EXIT_SCRIPT.format(fail=fail, logdir=str(tmp_path)))
    assert result.returncode == 0, describe_run(result)
    expected = [(0, "host", 1.0), (1, "device", 2.0), (2, "host", 3.0)]
    if fail:
        expected.pop(1)
        assert "1 event(s)" in result.stderr and "unspecified launch failure" in result.stderr
    assert logged(tmp_path) == expected


def test_add_scalar_of_a_device_tensor_checks_its_arguments(tmp_path, events):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match="exactly one element"):
            w.add_scalar("s", torch.ones(2), 0)
        with pytest.raises(TypeError, match="tag must be a str"):
            w.add_scalar(3, torch.ones(1), 0)
        with pytest.raises(TypeError, match="global_step must be an integer"):
            w.add_scalar("s", torch.ones(1), "x")
        with pytest.raises(TypeError, match="real number"):
            w.add_scalar("s", torch.ones(1, dtype=torch.complex64), 0)
    assert events.made == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ferroboard.SummaryWriter(str(tmp_path / "ok")) as w:
            for dtype in (torch.float16, torch.bfloat16, torch.int64, torch.bool):
                w.add_scalar(str(dtype), torch.ones((1, 1), dtype=dtype), 0)
    assert [v for _, _, v in logged(tmp_path / "ok")] == [1.0] * 4
