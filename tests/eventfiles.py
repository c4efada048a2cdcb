"""Reading and comparing event files, for the parity and round-trip tests.

Every file is read twice: by ferroboard's strict TFRecord reader (which must report a
"clean" file: no torn tail, no CRC error) and by TensorBoard's own `RawEventFileLoader`;
both must yield the same records, which are then decoded with TensorBoard's
`event_pb2.Event`. Comparison is field by field over the decoded protos (so two
encodings of the same value, e.g. packed or not, are equal), ignoring `wall_time`
unless asked, and always ignoring the file header's `wall_time`.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Union

from ferroboard import _core
from google.protobuf.descriptor import FieldDescriptor
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2

PathLike = Union[str, "os.PathLike[str]"]

#: torch's file name: events.out.tfevents.{secs:010d}.{host}.{pid}.{counter}{suffix}
EVENT_FILE_RE = re.compile(
    r"^events\.out\.tfevents\.(?P<secs>\d{10})\.(?P<host>.+)\.(?P<pid>\d+)\.(?P<n>\d+)"
    r"(?P<suffix>.*)$"
)

#: Relative tolerance for HistogramProto.sum and .sum_squares (summation order differs).
SUM_RTOL = 1e-9


def parse_event_file_name(name: str, suffix: str = "") -> dict[str, Any]:
    """The parts of a torch-style event-file name; AssertionError if it is not one."""
    assert name.endswith(suffix), f"{name!r} does not end with suffix {suffix!r}"
    stem = name[: len(name) - len(suffix)] if suffix else name
    host = socket.gethostname()
    prefix = "events.out.tfevents."
    assert stem.startswith(prefix), name
    secs, sep, rest = stem[len(prefix) :].partition(".")
    assert sep and re.fullmatch(r"\d{10}", secs), f"bad seconds field in {name!r}"
    assert rest.startswith(host + "."), f"{name!r} lacks host {host!r}"
    pid, sep, counter = rest[len(host) + 1 :].partition(".")
    assert sep and pid.isdigit() and counter.isdigit(), f"bad pid/counter in {name!r}"
    return {"secs": int(secs), "host": host, "pid": int(pid), "n": int(counter)}


def _sort_key(path: Path) -> tuple:
    m = EVENT_FILE_RE.match(path.name)
    if m is None:
        return (1, 0, 0, path.name)
    return (0, int(m["secs"]), int(m["n"]), path.name)


def event_files(logdir: PathLike) -> dict[str, list[Path]]:
    """Event files under `logdir`, per run directory (relative path, "." for the root).

    A file is an event file when its name contains "tfevents", as TensorBoard decides.
    Files of a run are in creation order (seconds, then the writer counter).
    """
    root = Path(logdir)
    runs: dict[str, list[Path]] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        files = [Path(dirpath) / f for f in filenames if "tfevents" in f]
        if files:
            run = Path(dirpath).relative_to(root).as_posix()
            runs[run] = sorted(files, key=_sort_key)
    return runs


def read_records(path: PathLike) -> list[bytes]:
    """Every record of an event file, checked by both readers."""
    records, status = _core.read_records(os.fspath(path))
    assert status == "clean", f"strict reader: {path}: {status}"
    loader_records = list(RawEventFileLoader(os.fspath(path)).Load())
    assert loader_records == records, (
        f"{path}: TensorBoard's loader read {len(loader_records)} records, "
        f"the strict reader {len(records)}, or their bytes differ"
    )
    return records


def read_events(path: PathLike) -> list[event_pb2.Event]:
    """Every event of one file, decoded with TensorBoard's `Event` proto."""
    return [event_pb2.Event.FromString(r) for r in read_records(path)]


def read_logdir(logdir: PathLike) -> dict[str, list[list[event_pb2.Event]]]:
    """run -> one list of events per event file (in creation order)."""
    return {run: [read_events(p) for p in paths] for run, paths in event_files(logdir).items()}


def events_of(logdir: PathLike, run: str = ".") -> list[event_pb2.Event]:
    """All events of one run, files concatenated in creation order."""
    runs = read_logdir(logdir)
    assert run in runs, f"no event file for run {run!r} in {logdir}: {sorted(runs)}"
    return [e for file_events in runs[run] for e in file_events]


def summary_values(events: Iterable[event_pb2.Event]) -> list[Any]:
    """Every Summary.Value of `events`, in order."""
    return [v for e in events if e.HasField("summary") for v in e.summary.value]


# -- comparison ---------------------------------------------------------------------------


def same_float(x: float, y: float) -> bool:
    """Exact equality, NaN equal to NaN and 0.0 distinct from -0.0."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


def close_sum(x: float, y: float, scale: float) -> bool:
    """`x` and `y` agree to SUM_RTOL of the larger of them and of `scale`.

    `scale` (num * max|value|, or its square) bounds the summation-order error when the
    sum cancels: numpy sums pairwise and BLAS dots in blocks, the core sums in order.
    """
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    bound = max(abs(x), abs(y), scale if math.isfinite(scale) else 0.0)
    return abs(x - y) <= SUM_RTOL * bound


_FLOAT_TYPES = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


def _is_map(field: FieldDescriptor) -> bool:
    mt = field.message_type
    return mt is not None and mt.GetOptions().map_entry


def _histogram_scales(msg: Any) -> dict[str, float]:
    extreme = max(abs(msg.min), abs(msg.max)) if msg.num else 0.0
    return {"sum": msg.num * extreme, "sum_squares": msg.num * extreme * extreme}


def _unknown_count(msg: Any) -> int:
    try:
        from google.protobuf.unknown_fields import UnknownFieldSet
    except ImportError:  # older protobuf
        return 0
    return len(UnknownFieldSet(msg))


def diff_messages(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Differences between two protos of the same type, one line per differing field."""
    out: list[str] = []
    if actual.DESCRIPTOR.full_name != expected.DESCRIPTOR.full_name:
        return [f"{path}: type {actual.DESCRIPTOR.full_name} != {expected.DESCRIPTOR.full_name}"]
    if _unknown_count(actual) != _unknown_count(expected):
        out.append(f"{path}: {_unknown_count(actual)} unknown fields != {_unknown_count(expected)}")
    histogram = actual.DESCRIPTOR.name == "HistogramProto"
    scales = _histogram_scales(expected) if histogram else {}
    for field in actual.DESCRIPTOR.fields:
        name = field.name
        where = f"{path}.{name}" if path else name
        a, e = getattr(actual, name), getattr(expected, name)
        if _is_map(field):
            if dict(a) != dict(e):
                out.append(f"{where}: {dict(a)!r} != {dict(e)!r}")
            continue
        if field.is_repeated:
            if len(a) != len(e):
                out.append(f"{where}: {len(a)} elements != {len(e)}: {_short(a)} != {_short(e)}")
                continue
            for i, (x, y) in enumerate(zip(a, e)):
                out.extend(_diff_value(field, x, y, f"{where}[{i}]", None))
            continue
        if field.has_presence and actual.HasField(name) != expected.HasField(name):
            out.append(
                f"{where}: set={actual.HasField(name)} != set={expected.HasField(name)}"
                f" ({_short(a)} vs {_short(e)})"
            )
            continue
        if histogram and name in ("min", "max") and a == 0.0 and e == 0.0:
            # numpy's min/max of a mix of 0.0 and -0.0 returns whichever zero its
            # reduction order happens to keep (np.max([-0.0, 0.0]) is 0.0, but
            # np.max([0.0, -0.0]) is -0.0): the sign of a zero extreme carries no meaning.
            continue
        out.extend(_diff_value(field, a, e, where, scales.get(name)))
    return out


def _diff_value(field: FieldDescriptor, a: Any, e: Any, where: str, scale: Any) -> list[str]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return diff_messages(a, e, where)
    if field.type in _FLOAT_TYPES:
        ok = close_sum(a, e, scale) if scale is not None else same_float(a, e)
        return [] if ok else [f"{where}: {a!r} != {e!r}"]
    return [] if a == e else [f"{where}: {_short(a)} != {_short(e)}"]


def _short(x: Any, limit: int = 300) -> str:
    text = repr(list(x)) if hasattr(x, "__len__") and not isinstance(x, (str, bytes)) else repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _strip_wall_time(event: event_pb2.Event) -> event_pb2.Event:
    copy = event_pb2.Event()
    copy.CopyFrom(event)
    copy.ClearField("wall_time")
    return copy


def diff_events(
    actual: list[event_pb2.Event],
    expected: list[event_pb2.Event],
    *,
    compare_wall_time: bool = False,
) -> list[str]:
    """Differences between two event lists; wall_time ignored unless asked (and always
    for file headers, whose time is the file's creation)."""
    out = []
    if len(actual) != len(expected):
        out.append(
            f"{len(actual)} events != {len(expected)}:\n  actual   {_kinds(actual)}\n"
            f"  expected {_kinds(expected)}"
        )
    for i, (a, e) in enumerate(zip(actual, expected)):
        header = e.HasField("file_version") and not e.HasField("summary")
        if not compare_wall_time or header:
            a, e = _strip_wall_time(a), _strip_wall_time(e)
        out.extend(diff_messages(a, e, f"event[{i}]"))
    return out


def _kinds(events: list[event_pb2.Event]) -> list[str]:
    kinds = []
    for e in events:
        what = e.WhichOneof("what") or "-"
        if what == "summary":
            what += ":" + ",".join(v.tag for v in e.summary.value)
        kinds.append(f"{what}@{e.step}")
    return kinds


def assert_events_equal(
    actual: list[event_pb2.Event],
    expected: list[event_pb2.Event],
    *,
    compare_wall_time: bool = False,
) -> None:
    diffs = diff_events(actual, expected, compare_wall_time=compare_wall_time)
    assert not diffs, "events differ (actual = ferroboard, expected = torch):\n" + "\n".join(
        diffs[:40]
    )


def assert_logdirs_equal(
    actual_dir: PathLike, expected_dir: PathLike, *, compare_wall_time: bool = False
) -> tuple[dict, dict]:
    """Same runs, same number of files per run, and equal events file by file."""
    actual, expected = read_logdir(actual_dir), read_logdir(expected_dir)
    assert sorted(actual) == sorted(expected), f"runs {sorted(actual)} != {sorted(expected)}"
    for run in expected:
        assert len(actual[run]) == len(expected[run]), (
            f"run {run!r}: {len(actual[run])} event files != {len(expected[run])}"
        )
        for i, (a, e) in enumerate(zip(actual[run], expected[run])):
            diffs = diff_events(a, e, compare_wall_time=compare_wall_time)
            assert not diffs, (
                f"run {run!r}, file {i}: events differ (actual = ferroboard, "
                "expected = torch):\n" + "\n".join(diffs[:40])
            )
    return actual, expected
