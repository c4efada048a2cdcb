"""Nothing is written outside the log dir, whatever names data gives to sub-runs.

Covered: `add_scalars` sub-runs (keys and main_tag), `add_hparams` run names, and
`add_embedding` folders, each with the escaping inputs of issue 15 (``..``, absolute
paths, NUL) and with symlinks inside the log dir that point out of it. Every test
lists the directories around the log dir before and after, so a write anywhere outside
fails it.

Documented deviations from torch asserted here:
- a separator in an `add_scalars` key is replaced by ``_`` (torch does it in
  `main_tag` only, so a key ``"k/v"`` gives torch the nested run ``m_k/v``, ferroboard
  ``m_k_v``);
- `add_hparams` run names that are absolute or have a ``..`` component, an embedding
  tag ``".."``, and NUL in any of these, raise ValueError naming the argument (torch
  writes where they point, or fails with an OSError from the OS);
- a path that a symlink inside the log dir leads out of it raises ValueError.
"""

from __future__ import annotations

import os
from pathlib import Path

import ferroboard
import numpy as np
import pytest
from eventfiles import event_files, events_of, summary_values
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

MAT = np.arange(12, dtype=np.float32).reshape(4, 3)


def _tree(root: Path, skip: Path) -> set[str]:
    """Every path under `root` except those under `skip` (the log dir)."""
    out = set()
    for dirpath, dirs, names in os.walk(root):
        here = Path(dirpath)
        if here == skip:
            dirs[:] = []
            continue
        out.update(str((here / n).relative_to(root)) for n in dirs + names)
    return out


@pytest.fixture
def logdir(tmp_path: Path):
    """A log dir three levels deep; on exit, asserts nothing appeared outside it."""
    log = tmp_path / "a" / "b" / "c" / "log"
    log.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    before = _tree(tmp_path, log)
    yield log
    assert _tree(tmp_path, log) == before
    assert list((tmp_path / "outside").iterdir()) == []


def _runs(log: Path) -> list[str]:
    return sorted(event_files(log))


# -- add_scalars ---------------------------------------------------------------------------


def test_torch_writes_outside_with_the_issue_inputs(tmp_path):
    """The inputs below do escape with torch (so the tests that follow mean something)."""
    log = tmp_path / "a" / "b" / "c" / "log"
    with TorchSummaryWriter(str(log)) as w:
        w.add_scalars("m", {"../../../x": 1.0}, 0)
        w.add_hparams({"lr": 0.1}, {"acc": 1.0}, run_name="../../../y")
    assert (tmp_path / "a" / "b" / "c" / "x").is_dir()
    assert (tmp_path / "a" / "y").is_dir()


@pytest.mark.parametrize(
    "key,run",
    [
        ("../../../x", "m_.._.._.._x"),
        ("/abs/x", "m__abs_x"),
        ("..", "m_.."),
        ("k/v", "m_k_v"),
    ],
)
def test_add_scalars_key_is_one_folder_inside(logdir, key, run):
    with ferroboard.SummaryWriter(logdir) as w:
        w.add_scalars("m", {key: 1.5}, 3)
    assert _runs(logdir) == sorted([".", run])
    values = summary_values(events_of(logdir, run))
    assert [(v.tag, v.simple_value) for v in values] == [("m", 1.5)]


def test_add_scalars_main_tag_separators_replaced(logdir):
    with ferroboard.SummaryWriter(logdir) as w:
        w.add_scalars("../../y", {"k": 1.0}, 0)
    assert _runs(logdir) == [".", ".._.._y_k"]


def test_add_scalars_key_separator_deviation_against_torch(tmp_path):
    """Same events as torch; only the sub-run's name differs (m_k_v, not m_k/v)."""

    def calls(w):
        for step in range(3):
            w.add_scalars("m", {"k/v": step, "plain": -step}, step)

    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        calls(w)
    with ferroboard.SummaryWriter(tmp_path / "ferro") as w:
        calls(w)
    assert _runs(tmp_path / "torch") == [".", "m_k/v", "m_plain"]
    assert _runs(tmp_path / "ferro") == [".", "m_k_v", "m_plain"]
    for t_run, f_run in [("m_k/v", "m_k_v"), ("m_plain", "m_plain")]:
        t_values = summary_values(events_of(tmp_path / "torch", t_run))
        f_values = summary_values(events_of(tmp_path / "ferro", f_run))
        assert [(v.tag, v.simple_value) for v in f_values] == [
            (v.tag, v.simple_value) for v in t_values
        ]


@pytest.mark.parametrize(
    "main_tag,scalars,arg",
    [("m", {"a\x00b": 1.0}, "tag_scalar_dict key"), ("m\x00", {"a": 1.0}, "main_tag")],
)
def test_add_scalars_nul_rejected(logdir, main_tag, scalars, arg):
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match=f"{arg} cannot contain NUL"):
            w.add_scalars(main_tag, scalars, 0)
    assert _runs(logdir) == ["."]  # no sub-run


def test_add_scalars_symlink_out_of_logdir_rejected(logdir):
    outside = logdir.parents[3] / "outside"
    (logdir / "m_b").symlink_to(outside, target_is_directory=True)
    (logdir / "m_c").symlink_to(outside / "missing")  # dangling: would be created
    with ferroboard.SummaryWriter(logdir) as w:
        for key in ("b", "c"):
            with pytest.raises(ValueError, match="tag_scalar_dict key") as err:
                # "a" comes first and is valid: a rejected call writes no key at all.
                w.add_scalars("m", {"a": 1.0, key: 2.0}, 0)
            message = str(err.value)
            assert f"'{key}'" in message and str(logdir / f"m_{key}") in message
            assert str(outside) in message and "outside the log dir" in message
        w.add_scalars("m", {"a": 3.0}, 1)  # the writer still works
    assert _runs(logdir) == [".", "m_a"]
    assert [v.simple_value for v in summary_values(events_of(logdir, "m_a"))] == [3.0]


def test_add_scalars_symlink_within_logdir_allowed(logdir):
    (logdir / "real").mkdir()
    (logdir / "m_a").symlink_to(logdir / "real", target_is_directory=True)
    with ferroboard.SummaryWriter(logdir) as w:
        w.add_scalars("m", {"a": 1.0}, 0)
    names = [p.name for p in (logdir / "real").iterdir()]
    assert len(names) == 1 and names[0].startswith("events.out.tfevents")


def test_logdir_itself_a_symlink_is_fine(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with ferroboard.SummaryWriter(link) as w:
        w.add_scalars("m", {"a": 1.0}, 0)
        w.add_hparams({"lr": 0.1}, {"acc": 1.0}, run_name="hp")
        w.add_embedding(MAT, tag="e")
    assert _runs(real) == [".", "hp", "m_a"]
    assert (real / "00000" / "e" / "tensors.tsv").is_file()


# -- add_hparams ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_name,message",
    [
        ("../../../y", "run_name cannot contain a '..' component"),
        ("a/../../y", "run_name cannot contain a '..' component"),
        ("..", "run_name cannot contain a '..' component"),
        ("ABS", "run_name must be a path relative to the log dir"),
        ("r\x00", "run_name cannot contain NUL"),
    ],
)
def test_add_hparams_escaping_run_name_rejected(logdir, run_name, message):
    if run_name == "ABS":
        run_name = str(logdir.parents[3] / "outside" / "y")
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match=message) as err:
            w.add_hparams({"lr": 0.1}, {"acc": 1.0}, run_name=run_name)
        assert repr(run_name) in str(err.value)
    assert _runs(logdir) == ["."]  # no sub-run


def test_add_hparams_tensorboardx_name_is_named(logdir):
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match="^name cannot contain a '..'"):
            w.add_hparams({"lr": 0.1}, {"acc": 1.0}, "../y")
        with pytest.raises(ValueError, match="^name must be a path relative"):
            w.add_hparams({"lr": 0.1}, {"acc": 1.0}, name="/y")


@pytest.mark.parametrize("run_name", ["a/b", ".", "x..y", "./c"])
def test_add_hparams_relative_run_names_as_torch(logdir, run_name):
    with ferroboard.SummaryWriter(logdir) as w:
        w.add_hparams({"lr": 0.1}, {"acc": 1.0}, run_name=run_name)
    run = os.path.normpath(run_name)
    events = events_of(logdir, run)
    plugins = [v.metadata.plugin_data.plugin_name for v in summary_values(events)]
    assert plugins[:3] == ["hparams"] * 3


def test_add_hparams_symlink_out_of_logdir_rejected(logdir):
    outside = logdir.parents[3] / "outside"
    (logdir / "link").symlink_to(outside, target_is_directory=True)
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match="run_name='link/sub'.*outside the log dir"):
            w.add_hparams({"lr": 0.1}, {"acc": 1.0}, run_name="link/sub")
    assert _runs(logdir) == ["."]


# -- add_embedding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag,folder",
    [("../../../z", "..%2f..%2f..%2fz"), ("/etc/z", "%2fetc%2fz"), (".", ".")],
)
def test_add_embedding_tag_is_one_folder_inside(logdir, tag, folder):
    with ferroboard.SummaryWriter(logdir) as w:
        w.add_embedding(MAT, tag=tag)
    assert (logdir / "00000" / folder / "tensors.tsv").is_file()


@pytest.mark.parametrize(
    "tag,message", [("..", "tag cannot be '..'"), ("e\x00", "tag cannot contain NUL")]
)
def test_add_embedding_bad_tag_rejected(logdir, tag, message):
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match=message):
            w.add_embedding(MAT, tag=tag)
    assert not (logdir / "00000").exists()
    assert not (logdir / "projector_config.pbtxt").exists()


def test_add_embedding_symlink_out_of_logdir_rejected(logdir):
    outside = logdir.parents[3] / "outside"
    (logdir / "00007").symlink_to(outside, target_is_directory=True)
    with ferroboard.SummaryWriter(logdir) as w:
        with pytest.raises(ValueError, match="tag='e'.*outside the log dir"):
            w.add_embedding(MAT, tag="e", global_step=7)
        w.add_embedding(MAT, tag="e", global_step=8)  # the writer still works
    assert (logdir / "00008" / "e" / "tensors.tsv").is_file()
