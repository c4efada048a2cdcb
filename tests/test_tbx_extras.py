"""tensorboardX's extras: `export_scalars_to_json` / `scalar_dict`, `use_metadata`,
`write_to_disk=False`."""

from __future__ import annotations

import json
import os

import ferroboard
import numpy as np
import pytest
import tensorboardX
from eventfiles import event_files, events_of


def test_export_scalars_to_json_matches_tensorboardx(tmp_path):
    """Same values, steps and wall times as tensorboardX records; the keys are the
    sub-run directories each writer actually uses (torch's layout for ferroboard)."""

    def calls(w):
        for i in range(5):
            values = {"xsinx": i * np.sin(i / 5), "tanx": np.tan(i / 5)}
            w.add_scalars("run_14h", values, i, 1e9 + i)
        w.add_scalars("other", {"a": 1}, walltime=2e9)

    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    with ferroboard.SummaryWriter(ours_dir) as w:
        calls(w)
        w.export_scalars_to_json(tmp_path / "ours.json")
        assert w.scalar_dict == {}
        w.add_scalars("late", {"z": 3.0}, 7, 3e9)
        late = w.scalar_dict
    with tensorboardX.SummaryWriter(str(theirs_dir)) as w:
        calls(w)
        w.export_scalars_to_json(str(tmp_path / "theirs.json"))
    ours = json.loads((tmp_path / "ours.json").read_text())
    theirs = json.loads((tmp_path / "theirs.json").read_text())
    rename = {
        os.path.join(str(theirs_dir), "run_14h", "xsinx"): f"{ours_dir}/run_14h_xsinx",
        os.path.join(str(theirs_dir), "run_14h", "tanx"): f"{ours_dir}/run_14h_tanx",
        os.path.join(str(theirs_dir), "other", "a"): f"{ours_dir}/other_a",
    }
    assert ours == {rename[k]: v for k, v in theirs.items()}
    assert ours[f"{ours_dir}/other_a"] == [[2e9, None, 1.0]]
    assert late == {f"{ours_dir}/late_z": [[3e9, 7, 3.0]]}


def test_use_metadata(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w:
        with w.use_metadata(global_step=10, walltime=123.0):
            w.add_scalar("a", 1.0)
            w.add_scalar("b", 2.0, 5)  # its own step wins
            w.add_text("t", "x")
            w.add_histogram("h", np.arange(10.0))
            w.add_scalars("s", {"k": 1.0})
        w.add_scalar("after", 3.0)
        with pytest.raises(ValueError, match="global_step and/or walltime"):
            with w.use_metadata():
                pass
        with w.use_metadata(walltime=55.0), pytest.raises(RuntimeError, match="already"):
            with w.use_metadata(global_step=1):
                pass
    events = [e for e in events_of(tmp_path)[1:]]
    got = {e.summary.value[0].tag: (e.step, e.wall_time) for e in events}
    assert got["a"] == (10, 123.0)
    assert got["b"] == (5, 123.0)
    assert got["t/text_summary"] == (10, 123.0)
    assert got["h"] == (10, 123.0)
    assert got["after"][0] == 0 and got["after"][1] != 123.0
    sub = events_of(tmp_path, "s_k")[1]
    assert (sub.step, sub.wall_time) == (10, 123.0)


def test_write_to_disk_false(tmp_path):
    logdir = tmp_path / "nothing"
    w = ferroboard.SummaryWriter(logdir, write_to_disk=False)
    w.add_scalar("a", 1.0)
    w.add_pr_curve("p", [1, 0], [0.5, 0.2])
    w.add_hparams({"a": 1}, {"m": 1.0})
    w.add_embedding(np.eye(2))
    w.add_custom_scalars({"c": {"t": ["Multiline", ["a"]]}})
    with w.use_metadata(global_step=3):
        w.add_scalar("b", 2.0)
    w.export_scalars_to_json(tmp_path / "empty.json")
    assert w.poll() == 0  # nothing waits for GPU values on a writer that writes nothing
    assert w._get_file_writer().poll() == 0
    w.flush()
    w.close()
    assert not logdir.exists()
    assert json.loads((tmp_path / "empty.json").read_text()) == {}
    assert w.get_logdir() == str(logdir)


def test_scalar_dict_memory_is_compact(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w:
        for i in range(1000):
            w.add_scalars("m", {"a": i, "b": -i}, i)
        history = w.__dict__["_scalar_history"]
        assert sum(a.itemsize * len(a) + s.itemsize * len(s) for a, s in history.values()) == (
            2 * 1000 * 24
        )
        assert w.scalar_dict[f"{tmp_path}/m_b"][-1][1:] == [999, -999.0]
    assert len(event_files(tmp_path)) == 3
