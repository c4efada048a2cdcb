"""SummaryReader against tbparse on the same logs (written by torch, tensorboardX and
ferroboard), read_events against the values written, and the damage policy."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import ferroboard
import numpy as np
import pytest
import tbparse
from ferroboard.reader import EventFileDamageError, EventFileDamageWarning
from frames import assert_frames_identical
from reader_logs import WRITERS, write_restart, write_runs

EXTRAS = [
    None,
    {"wall_time"},
    {"dir_name"},
    {"dir_name", "file_name", "wall_time"},
]


@pytest.fixture(scope="module", params=WRITERS)
def logdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_runs(tmp_path_factory.mktemp(request.param), request.param)


def readers(path: Path, **kw: object) -> tuple:
    return ferroboard.SummaryReader(path, **kw), tbparse.SummaryReader(str(path), **kw)


@pytest.mark.parametrize("extra", EXTRAS, ids=str)
def test_scalars_equal_tbparse(logdir: Path, extra: set) -> None:
    ours, theirs = readers(logdir, extra_columns=extra)
    expected = theirs.scalars
    assert len(expected) > 100
    assert_frames_identical(ours.scalars, expected)


@pytest.mark.parametrize("extra", [None, {"dir_name"}, {"dir_name", "wall_time"}], ids=str)
def test_pivot_scalars_equal_tbparse(logdir: Path, extra: set) -> None:
    ours, theirs = readers(logdir, pivot=True, extra_columns=extra, event_types={"scalars"})
    assert_frames_identical(ours.scalars, theirs.scalars)


@pytest.mark.parametrize("kind", ["tensors", "text", "hparams"])
@pytest.mark.parametrize("extra", [None, {"dir_name", "file_name", "wall_time"}], ids=str)
def test_other_kinds_equal_tbparse(logdir: Path, kind: str, extra: set) -> None:
    ours, theirs = readers(logdir, extra_columns=extra)
    expected = getattr(theirs, kind)
    assert len(expected) > 0
    assert_frames_identical(getattr(ours, kind), expected)


@pytest.mark.parametrize(
    "extra",
    [None, {"min", "max", "num", "sum", "sum_squares", "wall_time", "dir_name", "file_name"}],
    ids=str,
)
@pytest.mark.parametrize("pivot", [False, True])
def test_histograms_equal_tbparse(logdir: Path, extra: set, pivot: bool) -> None:
    ours, theirs = readers(logdir, extra_columns=extra, pivot=pivot)
    expected = theirs.histograms
    assert len(expected) > 0
    assert_frames_identical(ours.histograms, expected)


def test_tags_and_children_as_tbparse(logdir: Path) -> None:
    ours, theirs = readers(logdir)
    for kind in ("scalars", "tensors", "histograms", "text"):
        assert ours.get_tags(kind) == theirs.get_tags(kind), kind
    assert sorted(ours.get_tags("hparams")) == sorted(theirs.get_tags("hparams"))
    assert list(ours.children) == list(theirs.children)
    for name, child in ours.children.items():
        assert child.log_path == theirs.children[name].log_path
        assert_frames_identical(child.scalars, theirs.children[name].scalars)


def test_event_types_and_arguments_checked(logdir: Path) -> None:
    r = ferroboard.SummaryReader(logdir, event_types={"scalars"})
    with pytest.raises(ValueError, match="event_type is ignored by user: tensors"):
        _ = r.tensors
    with pytest.raises(KeyError, match="extra_columns.*bogus"):
        ferroboard.SummaryReader(logdir, extra_columns={"bogus"})
    with pytest.raises(ValueError, match="extra_columns must be a set"):
        ferroboard.SummaryReader(logdir, extra_columns="dir_name")
    with pytest.raises(ValueError, match="log_path: file or directory not found"):
        ferroboard.SummaryReader(logdir / "missing")


@pytest.mark.parametrize("writer", WRITERS)
def test_restart_keeps_every_value_like_tbparse(tmp_path: Path, writer: str) -> None:
    root = write_restart(tmp_path, writer)
    ours, theirs = readers(root, extra_columns={"wall_time", "file_name"})
    assert_frames_identical(ours.scalars, theirs.scalars)
    ours, theirs = readers(root)
    assert_frames_identical(ours.scalars, theirs.scalars)
    if writer != "tensorboardX":  # its second file has the first's name and replaces it
        assert list(ours.scalars["value"]) == [0, 1, 2, 3, 4, 5, 105, 6, 106, 7, 107, 8, 9]


def test_session_start_in_one_file_purges_like_event_accumulator(tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(tmp_path))
    for s in range(6):
        ev = event_pb2.Event(step=s, wall_time=1.0 + s)
        ev.summary.value.add(tag="x", simple_value=float(s))
        w.add_event(ev)
    w.add_event(event_pb2.Event(step=3, wall_time=9.0, session_log=event_pb2.SessionLog(status=1)))
    ev = event_pb2.Event(step=3, wall_time=10.0)
    ev.summary.value.add(tag="x", simple_value=33.0)
    w.add_event(ev)
    w.close()
    ours, theirs = readers(tmp_path)
    assert_frames_identical(ours.scalars, theirs.scalars)
    assert list(ours.scalars["value"]) == [0.0, 1.0, 2.0, 33.0]


def test_images_and_audio_decoded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (3, 8, 6), dtype=np.uint8)
    sound = np.sin(np.arange(800) / 10.0) * 0.5
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_image("img", img, 4)
        w.add_audio("snd", sound, 2, sample_rate=8000)
    r = ferroboard.SummaryReader(
        tmp_path, extra_columns={"width", "height", "sample_rate", "length_frames", "content_type"}
    )
    images = r.images
    assert list(images.columns) == ["step", "tag", "value", "height", "width"]
    assert images["step"].tolist() == [4]
    np.testing.assert_array_equal(images["value"][0], img.transpose(1, 2, 0))
    assert (images["height"][0], images["width"][0]) == (8, 6)
    audio = r.audio
    assert list(audio.columns) == [
        "step",
        "tag",
        "value",
        "content_type",
        "length_frames",
        "sample_rate",
    ]
    assert audio["value"][0].shape == (800, 1)
    np.testing.assert_allclose(audio["value"][0][:, 0], sound, atol=1 / 16000)
    assert audio["sample_rate"][0] == 8000.0


def test_scalars_arrays_match_the_frame(logdir: Path) -> None:
    r = ferroboard.SummaryReader(logdir, extra_columns={"dir_name", "wall_time"})
    a = r.scalars_arrays()
    df = r.scalars
    np.testing.assert_array_equal(a["step"], df["step"].to_numpy())
    np.testing.assert_array_equal(a["value"], df["value"].to_numpy())
    np.testing.assert_array_equal(a["wall_time"], df["wall_time"].to_numpy())
    assert [a["tags"][i] for i in a["tag"]] == df["tag"].tolist()
    assert [a["dir_names"][i] for i in a["dir_name"]] == df["dir_name"].tolist()


def test_numpy_path_without_pandas(logdir: Path) -> None:
    code = f"""
import sys
sys.modules["pandas"] = None  # import pandas raises ImportError
import ferroboard
r = ferroboard.SummaryReader({str(logdir)!r})
a = r.scalars_arrays()
assert len(a["step"]) > 100 and a["value"].dtype.name == "float64", a
try:
    r.scalars
except ModuleNotFoundError as e:
    assert "pip install pandas" in str(e), e
    print("OK")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "OK", out.stderr


# --- read_events ---------------------------------------------------------------------


def test_read_events_yields_what_was_written(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("a", 0.25, 7, walltime=11.0)
        w.add_histogram("h", np.arange(10.0), 8)
        w.add_text("t", "hello", 9)
    (path,) = tmp_path.iterdir()
    records = list(ferroboard.read_events(path))
    assert records[0].kind == "file_version" and records[0].value == "brain.Event:2"
    by_kind = {r.kind: r for r in records}
    assert by_kind["scalar"][1:6] == (11.0, 7, "scalar", "a", 0.25)
    h = by_kind["histogram"].value
    assert (h["min"], h["max"], h["num"], h["sum"]) == (0.0, 9.0, 10.0, 45.0)
    assert h["counts"].sum() == 10
    t = by_kind["tensor"]
    assert (t.tag, t.plugin, t.step) == ("t/text_summary", "text", 9)
    assert t.value.tolist() == [b"hello"]
    offsets = [r.offset for r in records]
    assert offsets == sorted(offsets) and offsets[0] == 0


# --- damage --------------------------------------------------------------------------


def _scalar_file(tmp_path: Path, n: int = 20) -> Path:
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for s in range(n):
            w.add_scalar("x", float(s), s)
    (path,) = tmp_path.iterdir()
    return path


def _offsets(path: Path) -> list[int]:
    return [r.offset for r in ferroboard.read_events(path)]


def test_torn_tail_is_reported_and_every_whole_record_kept(tmp_path: Path) -> None:
    path = _scalar_file(tmp_path)
    last = _offsets(path)[-1]
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.warns(EventFileDamageWarning, match=rf"{path.name}: torn tail at byte {last}"):
        r = ferroboard.SummaryReader(tmp_path)
    assert r.scalars["value"].tolist() == [float(s) for s in range(19)]
    assert_frames_identical(r.scalars, tbparse.SummaryReader(str(tmp_path)).scalars)
    # A torn tail is what a live writer leaves: strict mode does not raise for it.
    with pytest.warns(EventFileDamageWarning):
        ferroboard.SummaryReader(tmp_path, strict=True)


@pytest.mark.parametrize("where, kind", [(13, "bad data checksum"), (2, "bad length checksum")])
def test_bad_checksum_names_file_and_offset_and_keeps_the_rest(
    tmp_path: Path, where: int, kind: str
) -> None:
    path = _scalar_file(tmp_path)
    offsets = _offsets(path)
    bad = offsets[5]  # the record of step 4
    data = bytearray(path.read_bytes())
    data[bad + where] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.warns(EventFileDamageWarning, match=rf"{path.name}: {kind} at byte {bad}") as w:
        r = ferroboard.SummaryReader(tmp_path)
    assert len([x for x in w if issubclass(x.category, EventFileDamageWarning)]) == 1
    assert r.scalars["value"].tolist() == [float(s) for s in range(20) if s != 4]
    assert r.files[0].damage[0].offset == bad
    with pytest.raises(EventFileDamageError, match=rf"{path}: {kind} at byte {bad}"):
        ferroboard.SummaryReader(tmp_path, strict=True)
    with pytest.raises(EventFileDamageError, match=rf"{kind} at byte {bad}"):
        list(ferroboard.read_events(path, strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EventFileDamageWarning):
            list(ferroboard.read_events(path))


def light_and_full(path: Path) -> tuple:
    from ferroboard._cli_scan import read_with_progress, summarize

    light = read_with_progress(str(path), quiet=True, light=True)
    full = read_with_progress(str(path), quiet=True)
    return light[0], summarize(*light), full[0], summarize(*full)


def test_light_scan_lists_what_the_full_decode_reads(logdir: Path, tmp_path: Path) -> None:
    # `ferroboard ls` reads without payloads: the same runs, tags, kinds, counts, step and
    # wall-time ranges as from the full decode, restarts included.
    for path in (logdir, write_restart(tmp_path / "restart", "ferroboard")):
        light_data, light, full_data, full = light_and_full(path)
        assert light == full and len(full) > 0
    kinds = {s.kind for s in light_and_full(logdir)[1]}
    assert {"scalars", "histograms", "images", "text", "pr_curves", "custom_scalars"} <= kinds
    # ...and it did leave the payloads out.
    light_data, _, full_data, _ = light_and_full(logdir)
    for i in range(len(full_data)):
        assert len(light_data.histograms(i)["limits"]) == 0
        if len(full_data.histograms(i)["step"]):
            assert len(full_data.histograms(i)["limits"]) > 0
        assert all(row[5] == b"" for row in light_data.tensors(i)[0])
        assert all(row[6] == b"" for row in light_data.images(i)[0])
