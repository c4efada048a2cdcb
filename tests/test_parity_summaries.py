"""Parity with torch.utils.tensorboard: text, tensors, file header and names, purge
markers, writer lifecycle, and foreign protos through `_get_file_writer()`.

Documented deviation asserted here: float16 / bfloat16 tensors store their own 16-bit
patterns in `half_val` (TensorFlow's definition); torch stores float32 bit patterns.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import ferroboard
import numpy as np
import pytest
import tensorboardX.summary as tbx_summary
import torch
import torch.utils.tensorboard.summary as torch_summary
from eventfiles import (
    diff_messages,
    event_files,
    events_of,
    parse_event_file_name,
    read_logdir,
    summary_values,
)
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboardX.proto import event_pb2 as tbx_event_pb2
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

# -- add_text -------------------------------------------------------------------------------

TEXTS = {
    "ascii": "hello world",
    "empty": "",
    "unicode": "ünïcödé – Ελληνικά – 中文 – العربية",
    "emoji": "😀🚀👩‍👩‍👧‍👦 flags 🇫🇷",
    "markdown": "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```\n*em* **bold**",
    "multiline": "line1\nline2\r\nline3\n",
    "nul": "a\x00b",
    "combining": "e\u0301 a\u0308",
    "long": "lorem ipsum " * 10_000,
    "html": "<b>bold</b> &amp; <script>x</script>",
}


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_add_text(parity, text):
    """DT_STRING tensor of shape [1], tag + '/text_summary', plugin 'text'."""

    def calls(w):
        w.add_text("notes", text, 1)
        w.add_text("ünï/😀", text)
        w.add_text(tag="kw", text_string=text, global_step=np.int64(3), walltime=1.7e9)

    ferro, _ = parity.check(calls)
    values = summary_values(ferro["."][0])
    tags = ["notes/text_summary", "ünï/😀/text_summary", "kw/text_summary"]
    assert [v.tag for v in values] == tags
    assert values[0].tensor.string_val[0].decode("utf-8") == text


# -- add_tensor -----------------------------------------------------------------------------

TENSOR_DTYPES = [
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
    torch.bool,
]
SHAPES = [(), (1,), (5,), (2, 3), (2, 3, 4), (0,), (3, 0)]


def _tensor(dtype: torch.dtype, shape: tuple) -> torch.Tensor:
    n = int(np.prod(shape)) if shape else 1
    base = torch.arange(n, dtype=torch.float64) * 7 - 3 * n
    if dtype == torch.bool:
        return (base.long() % 3 == 0).reshape(shape)
    if dtype.is_floating_point:
        return (base / 3).to(dtype).reshape(shape)
    info = torch.iinfo(dtype)
    return base.clamp(info.min, info.max).to(dtype).reshape(shape)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", TENSOR_DTYPES, ids=str)
def test_add_tensor(parity, dtype, shape):
    t = _tensor(dtype, shape)
    ferro, _ = parity.check(lambda w: w.add_tensor("x", t, 2))
    (v,) = summary_values(ferro["."][0])
    assert [d.size for d in v.tensor.tensor_shape.dim] == list(shape)


SPECIAL_TENSORS = {
    "f32-special": lambda: torch.tensor([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38]),
    "f64-special": lambda: torch.tensor([np.nan, -np.inf, -0.0, 5e-324], dtype=torch.float64),
    "int64-extremes": lambda: torch.tensor([-(2**63), 2**63 - 1, 0]),
    "int32-extremes": lambda: torch.tensor([-(2**31), 2**31 - 1], dtype=torch.int32),
    "int8-extremes": lambda: torch.tensor([-128, 127], dtype=torch.int8),
    "uint8-extremes": lambda: torch.tensor([0, 255], dtype=torch.uint8),
    "transposed": lambda: torch.arange(12.0).reshape(3, 4).t(),
    "sliced": lambda: torch.arange(20, dtype=torch.int64)[::3],
    "expanded": lambda: torch.tensor([1.0, 2.0]).expand(3, 2),
    "requires-grad": lambda: torch.ones(2, 2, requires_grad=True) * 2,
    "random-4d": lambda: torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("make", SPECIAL_TENSORS.values(), ids=SPECIAL_TENSORS.keys())
def test_add_tensor_special_values_and_layouts(parity, make):
    ferro, _ = parity.check(lambda w: w.add_tensor("x", make(), 1, walltime=1.5e9))
    (v,) = summary_values(ferro["."][0])
    assert v.metadata.plugin_data.plugin_name == "tensor"


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
@pytest.mark.parametrize("shape", [(3,), (2, 3)], ids=str)
def test_add_tensor_complex(parity, dtype, shape):
    """Complex tensors: interleaved (real, imaginary) values, as torch's view_as_real."""
    n = int(np.prod(shape))
    real = torch.arange(n, dtype=torch.float64)
    t = torch.complex(real, -real / 3.0)
    t = t.to(dtype).reshape(shape)
    ferro, _ = parity.check(lambda w: w.add_tensor("z", t, 4))
    (v,) = summary_values(ferro["."][0])
    values = v.tensor.scomplex_val if dtype == torch.complex64 else v.tensor.dcomplex_val
    assert list(values) == torch.view_as_real(t).flatten().tolist()
    assert [d.size for d in v.tensor.tensor_shape.dim] == list(shape)


@pytest.mark.parametrize(
    "dtype",
    [np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_],
    ids=lambda d: np.dtype(d).name,
)
def test_add_tensor_accepts_numpy_like_torch_from_numpy(parity, dtype):
    """ferroboard also takes ndarrays: same proto as torch's for torch.from_numpy(a)."""
    a = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    parity.check(
        lambda w: w.add_tensor("x", a, 1), lambda w: w.add_tensor("x", torch.from_numpy(a), 1)
    )


HALF_VALUES = [0.0, -0.0, 1.0, -2.5, 0.1, 65504.0, 6e-8, 1e-5, np.inf, -np.inf, np.nan, 1 / 3]


@pytest.mark.parametrize("shape", [(12,), (3, 4), (2, 3, 2)], ids=str)
def test_float16_tensor_stores_half_bits(parity, shape):
    """Deviation: half_val holds IEEE half bit patterns (torch: float32 bit patterns).
    Everything else (dtype DT_HALF, shape, plugin metadata, tag, step) is torch's."""
    t = torch.tensor(HALF_VALUES, dtype=torch.float16).reshape(shape)
    expected_bits = np.array(HALF_VALUES, np.float16).view(np.uint16).tolist()
    _check_half(parity, t, expected_bits)


@pytest.mark.parametrize("values", [[1.5, -2.0, 1e30, -3e38, 1e-30, 0.1], [0.0]], ids=str)
def test_bfloat16_tensor_stores_bfloat16_bits(parity, values):
    """Deviation: half_val holds the bfloat16 bit patterns (torch: float32 bits of the
    value); dtype DT_BFLOAT16, shape and metadata are torch's."""
    t = torch.tensor(values, dtype=torch.bfloat16)
    expected_bits = t.view(torch.int16).numpy().view(np.uint16).tolist()
    _check_half(parity, t, expected_bits)


def _check_half(parity, t, expected_bits):
    ferro = summary_values(parity.ferro_events(lambda w: w.add_tensor("h", t, 4)))
    torch_ = summary_values(parity.torch_events(lambda w: w.add_tensor("h", t, 4)))
    (f,), (e,) = ferro, torch_
    assert list(f.tensor.half_val) == expected_bits
    # Apart from half_val, the value is torch's.
    f.tensor.ClearField("half_val")
    e.tensor.ClearField("half_val")
    assert not diff_messages(f, e), diff_messages(f, e)


# -- file header and names ------------------------------------------------------------------


def test_file_header_matches_torch(parity):
    ferro, torch_ = parity.check(lambda w: None)
    (f_header,), (t_header,) = ferro["."][0], torch_["."][0]
    assert f_header.file_version == t_header.file_version == "brain.Event:2"
    assert f_header.source_metadata.writer == t_header.source_metadata.writer
    assert f_header.source_metadata.writer == "tensorboard.summary.writer.event_file_writer"
    assert f_header.step == 0 and f_header.wall_time > 0


@pytest.mark.parametrize("suffix", ["", ".v2", "_run.x", ".ünï"])
def test_event_file_name_pattern(tmp_path, suffix):
    """events.out.tfevents.{secs:010d}.{host}.{pid}.{n}{suffix}, as torch names it."""
    before = int(time.time())
    with TorchSummaryWriter(str(tmp_path / "torch"), filename_suffix=suffix) as w:
        w.add_scalar("s", 1.0)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro"), filename_suffix=suffix) as w:
        w.add_scalar("s", 1.0)
    after = int(time.time())
    (t_file,) = event_files(tmp_path / "torch")["."]
    (f_file,) = event_files(tmp_path / "ferro")["."]
    t_parts = parse_event_file_name(t_file.name, suffix)
    f_parts = parse_event_file_name(f_file.name, suffix)
    assert f_parts["host"] == t_parts["host"]
    assert f_parts["pid"] == t_parts["pid"] == os.getpid()
    assert before <= f_parts["secs"] <= after


def test_writers_in_one_directory_get_distinct_increasing_names(tmp_path):
    """Counter n is process-wide: writers opened in the same second never collide."""
    writers = [ferroboard.SummaryWriter(str(tmp_path)) for _ in range(4)]
    for i, w in enumerate(writers):
        w.add_scalar("s", float(i), i)
        w.close()
    files = event_files(tmp_path)["."]
    assert len(files) == 4
    counters = [parse_event_file_name(f.name)["n"] for f in files]
    assert len(set(counters)) == 4
    # Creation order = counter order; each file holds its own writer's scalar.
    by_counter = sorted(files, key=lambda f: parse_event_file_name(f.name)["n"])
    got = [summary_values(read_logdir_file(f))[0].simple_value for f in by_counter]
    assert got == [0.0, 1.0, 2.0, 3.0]


def read_logdir_file(path: Path) -> list:
    from eventfiles import read_events

    return read_events(path)


@pytest.mark.parametrize("suffix", ["", ".suffix"])
def test_filename_suffix_in_every_run(parity, suffix):
    def calls(w):
        w.add_scalar("s", 1.0, 1)
        w.add_scalars("m", {"a": 1.0, "b": 2.0}, 1)

    parity.check(calls, filename_suffix=suffix)
    ferro_dir = parity.root / "ferro0"
    files = [p for paths in event_files(ferro_dir).values() for p in paths]
    assert len(files) == 3
    for f in files:
        parse_event_file_name(f.name, suffix)


# -- purge_step -----------------------------------------------------------------------------


@pytest.mark.parametrize("purge_step", [0, 5, 2**40, np.int64(7)], ids=str)
def test_purge_step_markers(parity, purge_step):
    """Event{step, file_version} then Event{step, session_log START}, once per writer."""

    def calls(w):
        w.add_scalar("s", 1.0, 10)
        w.close()
        w.add_scalar("s", 2.0, 11)  # a new file: torch does not repeat the markers

    ferro, _ = parity.check(calls, purge_step=purge_step)
    first = ferro["."][0]
    assert first[1].file_version == "brain.Event:2" and first[1].step == int(purge_step)
    assert first[2].session_log.status == event_pb2.SessionLog.START
    assert len(ferro["."]) == 2 and len(ferro["."][1]) == 2


def test_purge_step_markers_precede_add_scalars_runs(parity):
    parity.check(lambda w: w.add_scalars("m", {"a": 1.0}, 3), purge_step=2)


# -- lifecycle ------------------------------------------------------------------------------


def test_close_then_reuse_opens_a_new_file(parity):
    def calls(w):
        w.add_scalar("s", 1.0, 0)
        w.close()
        w.close()  # idempotent
        w.add_scalar("s", 2.0, 1)
        w.add_histogram("h", np.arange(3.0), 1)
        w.flush()
        w.add_text("t", "x", 2)

    ferro, _ = parity.check(calls)
    assert len(ferro["."]) == 2


def test_flush_makes_events_readable_before_close(tmp_path):
    """After flush() every event added so far is in the file (torch drains its queue)."""
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for i in range(50):
            w.add_scalar("s", float(i), i)
        w.add_histogram("h", np.arange(100.0), 0)
        w.flush()
        events = events_of(tmp_path)
        assert len(events) == 1 + 51
        assert [v.simple_value for v in summary_values(events)[:50]] == list(range(50))


@pytest.mark.parametrize("spelling", ["positional", "log_dir", "logdir", "pathlib"])
def test_log_dir_spellings(tmp_path, spelling):
    target = tmp_path / "run"
    kwargs = {
        "positional": ((str(target),), {}),
        "log_dir": ((), {"log_dir": str(target)}),
        "logdir": ((), {"logdir": str(target)}),
        "pathlib": ((target,), {}),
    }[spelling]
    with ferroboard.SummaryWriter(*kwargs[0], **kwargs[1]) as w:
        assert os.fspath(w.get_logdir()) == str(target)
        assert os.fspath(w._get_file_writer().get_logdir()) == str(target)
        w.add_scalar("s", 1.0, 1)
    assert len(summary_values(events_of(target))) == 1


def test_context_manager_closes(tmp_path):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("s", 1.0, 1)
    # Closed: the file is complete without any further call.
    assert len(events_of(tmp_path)) == 2


# -- foreign protos through _get_file_writer() ----------------------------------------------


def _torch_hparams():
    return torch_summary.hparams({"lr": 0.1, "opt": "adam", "flag": True}, {"acc": 0.5})


def _tbx_hparams():
    return tbx_summary.hparams({"lr": 0.1, "opt": "adam", "flag": True}, {"acc": 0.5})


TORCH_SUMMARIES = {
    "scalar": lambda: [torch_summary.scalar("s", 1.5)],
    "scalar-new-style": lambda: [torch_summary.scalar("s", 1.5, new_style=True)],
    "histogram": lambda: [torch_summary.histogram("h", np.arange(10.0), bins=10)],
    "histogram-raw": lambda: [torch_summary.histogram_raw("r", 0, 1, 2, 1, 1, [1.0], [2])],
    "text": lambda: [torch_summary.text("t", "héllo 😀")],
    "tensor": lambda: [torch_summary.tensor_proto("x", torch.arange(6).reshape(2, 3))],
    "hparams": lambda: list(_torch_hparams()),
    "pr-curve": lambda: [
        torch_summary.pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.4]))
    ],
}

TBX_SUMMARIES = {
    "scalar": lambda: [tbx_summary.scalar("s", 1.5)],
    "scalar-display-name": lambda: [tbx_summary.scalar("s", 2.5, display_name="S")],
    "histogram": lambda: [tbx_summary.histogram("h", np.arange(10.0), bins=10)],
    "text": lambda: [tbx_summary.text("t", "héllo 😀")],
    "hparams": lambda: list(_tbx_hparams()),
}


def _as_torch_summary(proto):
    """torch's FileWriter only takes its own classes: same bytes, TensorBoard's class."""
    return summary_pb2.Summary.FromString(proto.SerializeToString())


@pytest.mark.parametrize("walltime", [None, 1.25e9])
@pytest.mark.parametrize("step", [None, 4, np.int32(9)], ids=str)
@pytest.mark.parametrize(
    "source,make",
    [("torch", m) for m in TORCH_SUMMARIES.values()] + [("tbx", m) for m in TBX_SUMMARIES.values()],
    ids=[f"torch-{k}" for k in TORCH_SUMMARIES] + [f"tbx-{k}" for k in TBX_SUMMARIES],
)
def test_add_summary_with_foreign_protos(parity, source, make, step, walltime):
    def ferro(w):
        for proto in make():
            w._get_file_writer().add_summary(proto, step, walltime)

    def torch_(w):
        for proto in make():
            w._get_file_writer().add_summary(_as_torch_summary(proto), step, walltime)

    ferro_runs, _ = parity.check(ferro, torch_, compare_wall_time=walltime is not None)
    assert len(ferro_runs["."][0]) == 1 + len(make())


def test_add_summary_accepts_serialized_bytes(parity):
    protos = [torch_summary.scalar("s", 1.5), tbx_summary.text("t", "x")]

    def ferro(w):
        for p in protos:
            w._get_file_writer().add_summary(p.SerializeToString(), 3)

    def torch_(w):
        for p in protos:
            w._get_file_writer().add_summary(_as_torch_summary(p), 3)

    parity.check(ferro, torch_)


def _events(module):
    """Event protos of one library's classes, made fresh for each writer (torch's
    add_event mutates the event it is given)."""
    ev = module
    summary = summary_pb2.Summary if module is event_pb2 else None
    out = [
        ev.Event(step=12, session_log=ev.SessionLog(status=ev.SessionLog.START)),
        ev.Event(session_log=ev.SessionLog(status=ev.SessionLog.CHECKPOINT, checkpoint_path="c")),
        ev.Event(log_message=ev.LogMessage(level=ev.LogMessage.WARN, message="wärn")),
        ev.Event(tagged_run_metadata=ev.TaggedRunMetadata(tag="step1", run_metadata=b"\x0a\x00")),
        ev.Event(graph_def=b"\x0a\x03\x0a\x01a", step=2),
        ev.Event(step=5, wall_time=123.0),  # wall_time is replaced, as torch does
    ]
    if summary is not None:
        out.append(ev.Event(summary=torch_summary.scalar("s", 3.5), step=7))
    else:
        out.append(ev.Event(summary=tbx_summary.scalar("s", 3.5), step=7))
    return out


@pytest.mark.parametrize("walltime", [None, 1.5e9])
@pytest.mark.parametrize("step", [None, 21], ids=str)
@pytest.mark.parametrize("source", ["torch", "tbx"])
def test_add_event_with_foreign_protos(parity, source, step, walltime):
    module = event_pb2 if source == "torch" else tbx_event_pb2

    def ferro(w):
        for e in _events(module):
            w._get_file_writer().add_event(e, step, walltime)

    def torch_(w):
        for e in _events(module):
            e = event_pb2.Event.FromString(e.SerializeToString())
            w._get_file_writer().add_event(e, step, walltime)

    ferro_runs, _ = parity.check(ferro, torch_, compare_wall_time=walltime is not None)
    events = ferro_runs["."][0][1:]
    assert len(events) == len(_events(module))
    if step is None:
        assert [e.step for e in events] == [12, 0, 0, 0, 2, 5, 7]
    if walltime is None:
        assert all(e.wall_time > 1e9 for e in events)


def test_file_writer_methods_mix_with_summary_writer_calls(parity):
    """Lightning's pattern: hparams through the file writer between add_scalar calls."""

    def calls(w):
        w.add_scalar("loss", 1.0, 0)
        exp, ssi, sei = _torch_hparams()
        fw = w._get_file_writer()
        fw.add_summary(exp)
        fw.add_summary(ssi)
        fw.add_summary(sei)
        w.add_scalar("loss", 0.5, 1)

    parity.check(calls)


def test_read_logdir_sees_only_event_files(tmp_path):
    """Sanity of the helper: non-event files are ignored, runs are directories."""
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_scalars("m", {"a": 1.0}, 1)
    (tmp_path / "notes.txt").write_text("x")
    assert sorted(read_logdir(tmp_path)) == [".", "m_a"]


def test_comparison_helper_detects_differences():
    """The comparator the parity tests rely on sees every kind of difference."""
    from eventfiles import diff_events
    from tensorboard.compat.proto import event_pb2 as pb

    def ev(**kw):
        e = pb.Event(step=1, wall_time=2.0)
        e.summary.value.add(tag="h").histo.CopyFrom(
            summary_pb2.HistogramProto(
                min=0.0,
                max=1.0,
                num=2,
                sum=1.0,
                sum_squares=1.0,
                bucket_limit=[0.5, 1.0],
                bucket=[1, 1],
            )
        )
        for k, v in kw.items():
            setattr(e.summary.value[0].histo, k, v)
        return e

    base = ev()
    assert diff_events([base], [ev()]) == []
    assert diff_events([base], [ev(sum=1.0 + 1e-12)]) == []  # within 1e-9 relative
    assert diff_events([base], [ev(sum=1.001)])
    assert diff_events([base], [ev(min=float("nan"))])
    assert diff_events([ev(min=float("nan"))], [ev(min=float("nan"))]) == []
    changed = ev()
    changed.summary.value[0].histo.bucket[1] = 2
    assert diff_events([base], [changed])
    changed = ev()
    changed.summary.value[0].histo.bucket_limit.append(2.0)
    assert diff_events([base], [changed])
    other_time = ev()
    other_time.wall_time = 3.0
    assert diff_events([base], [other_time]) == []
    assert diff_events([base], [other_time], compare_wall_time=True)
    other_step = ev()
    other_step.step = 2
    assert diff_events([base], [other_step])
    assert diff_events([base], [base, base])
    S = summary_pb2.Summary
    neg = pb.Event(summary=S(value=[S.Value(tag="s", simple_value=-0.0)]))
    pos = pb.Event(summary=S(value=[S.Value(tag="s", simple_value=0.0)]))
    unset = pb.Event(summary=S(value=[S.Value(tag="s")]))
    assert diff_events([neg], [pos]) and diff_events([pos], [unset])
    unknown = pb.Event.FromString(pos.SerializeToString() + b"\xa0\x06\x05")
    assert diff_events([unknown], [pos])
