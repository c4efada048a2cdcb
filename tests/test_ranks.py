"""Rank-aware writing (issue 13): detection for every launcher, the `ranks` policy, the
no-op of non-writing ranks, and real multi-process launches on CPU with gloo (torchrun,
mp.spawn, Lightning DDP) read back by both TensorBoard loaders."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import ferroboard
import pytest
from ferroboard import ranks
from ferroboard._noop_writer import NoopFileWriter
from ferroboard.ranks import Placement, detect, parse_ranks, parse_ranks_env, rank_dir, writes
from procs import all_event_files, read_events
from reliability_harness import Rustboard, scalars_of
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

CHILD = str(Path(__file__).with_name("ranks_child.py"))

_LAUNCHER_VARS = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "GROUP_RANK",
    "LOCAL_WORLD_SIZE",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_RANK",
    "PMI_SIZE",
    "JSM_NAMESPACE_RANK",
    "JSM_NAMESPACE_SIZE",
    "FERROBOARD_RANKS",
    "FERROBOARD_PER_RANK_DIR",
    "MASTER_ADDR",
    "MASTER_PORT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No launcher variable leaks in from the shell that runs the tests; the one-line
    announcement may be made again in each test."""
    for name in _LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ranks, "_announced", False)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- detection: one environment per launcher ------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, Placement(3, 8, "RANK")),
        ({"RANK": "2"}, Placement(2, None, "RANK")),
        # torchelastic without RANK: node rank x processes per node + local rank
        (
            {"GROUP_RANK": "1", "LOCAL_WORLD_SIZE": "4", "LOCAL_RANK": "2", "WORLD_SIZE": "8"},
            Placement(6, 8, "GROUP_RANK"),
        ),
        ({"LOCAL_RANK": "1"}, None),  # a local rank alone is not a global rank
        ({"SLURM_PROCID": "5", "SLURM_NTASKS": "16"}, Placement(5, 16, "SLURM_PROCID")),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, Placement(0, 1, "SLURM_PROCID")),
        (
            {"OMPI_COMM_WORLD_RANK": "7", "OMPI_COMM_WORLD_SIZE": "12"},
            Placement(7, 12, "OMPI_COMM_WORLD_RANK"),
        ),
        ({"PMI_RANK": "1", "PMI_SIZE": "2"}, Placement(1, 2, "PMI_RANK")),
        (
            {"JSM_NAMESPACE_RANK": "4", "JSM_NAMESPACE_SIZE": "6"},
            Placement(4, 6, "JSM_NAMESPACE_RANK"),
        ),
        # torchrun inside a Slurm allocation: torchrun's variables win
        (
            {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"},
            Placement(1, 2, "RANK"),
        ),
    ],
)
def test_detect_from_environment(env, expected):
    assert detect(env, modules={}) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "zero"}, "RANK='zero' is not an integer"),
        ({"RANK": "-1"}, "RANK='-1' is negative"),
        ({"RANK": "4", "WORLD_SIZE": "4"}, "RANK=4 is not below WORLD_SIZE=4"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "x"}, "SLURM_NTASKS='x'"),
    ],
)
def test_detect_names_a_bad_variable(env, message):
    with pytest.raises(ValueError, match=message):
        detect(env, modules={})


def test_uninitialized_torch_distributed_falls_back_to_the_environment():
    import torch.distributed as dist

    assert not dist.is_initialized()
    modules = {"torch.distributed": dist}
    assert detect({"RANK": "1", "WORLD_SIZE": "2"}, modules) == Placement(1, 2, "RANK")
    assert detect({}, modules) is None


def test_detection_does_not_import_torch():
    code = (
        "import sys, ferroboard, ferroboard.ranks as r; r.detect(); "
        "w = ferroboard.SummaryWriter(sys.argv[1], ranks='zero', rank=1); w.add_scalar('a', 1.0); "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code, os.devnull], check=True, timeout=60)


# -- the policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "placement", "expected"),
    [
        ("auto", None, True),
        ("auto", Placement(0, 1, "SLURM_PROCID"), True),
        ("auto", Placement(0, 4, "RANK"), True),
        ("auto", Placement(1, 4, "RANK"), False),
        ("auto", Placement(2, None, "RANK"), False),  # a rank above 0 is never alone
        ("all", Placement(3, 4, "RANK"), True),
        ("zero", Placement(3, 4, "RANK"), False),
        ("zero", None, True),
        (frozenset({3}), Placement(3, 4, "RANK"), True),
        (frozenset({3}), Placement(0, 4, "RANK"), False),
        (frozenset({0, 7}), Placement(7, 8, "RANK"), True),
        (frozenset({3}), None, False),  # a plain script is rank 0
    ],
)
def test_who_writes(spec, placement, expected):
    assert writes(spec, placement) is expected


def test_a_rank_set_beyond_the_world_size_is_an_error():
    with pytest.raises(ValueError, match=r"ranks=\[4, 9\]: no rank below the world size 4"):
        writes(frozenset({4, 9}), Placement(0, 4, "RANK"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        ("all", "all"),
        ("zero", "zero"),
        (3, frozenset({3})),
        ({0, 7}, frozenset({0, 7})),
        ([1, 2], frozenset({1, 2})),
        (range(2), frozenset({0, 1})),
    ],
)
def test_parse_ranks(value, expected):
    assert parse_ranks(value) == expected


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("first", ValueError, "ranks='first'"),
        (-1, ValueError, "a rank must be >= 0, got -1"),
        (True, TypeError, "ranks must be .* got bool: True"),
        (1.0, TypeError, "got float: 1.0"),
        (set(), ValueError, "no rank would write"),
        ({0, "1"}, TypeError, "a rank must be an int, got str: '1'"),
    ],
)
def test_parse_ranks_rejects(value, error, message):
    with pytest.raises(error, match=message):
        parse_ranks(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", "all"), (" ZERO ", "zero"), ("auto", "auto"), ("3", {3}), ("0, 7", {0, 7})],
)
def test_parse_ranks_env(text, expected):
    assert parse_ranks_env(text) == expected


@pytest.mark.parametrize("text", ["every", "-1", "0,x", ","])
def test_parse_ranks_env_rejects(text):
    with pytest.raises(ValueError, match=f"FERROBOARD_RANKS={text!r}"):
        parse_ranks_env(text)


@pytest.mark.parametrize(
    ("placement", "name"),
    [
        (None, "rank0"),
        (Placement(3, 4, "RANK"), "rank3"),
        (Placement(3, 16, "RANK"), "rank03"),
        (Placement(7, 1000, "RANK"), "rank007"),
        (Placement(12, None, "RANK"), "rank12"),
    ],
)
def test_rank_dir_sorts_numerically(placement, name):
    assert rank_dir("runs/x", placement) == os.path.join("runs/x", name)


# -- the writer on a non-writing rank ---------------------------------------------------------


class Untouchable:
    """Every attribute access and conversion raises (a CUDA scalar must not be read)."""

    def __getattribute__(self, name):
        raise AssertionError(f"argument touched: .{name}")

    def __float__(self):
        raise AssertionError("argument touched: float()")

    def __index__(self):
        raise AssertionError("argument touched: index()")


def test_non_writing_rank_creates_nothing_and_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    tasks_before = len(os.listdir("/proc/self/task"))
    threads_before = threading.active_count()
    writer = ferroboard.SummaryWriter(tmp_path / "run")
    default = ferroboard.SummaryWriter()  # runs/<time>_<host>: not created either
    bomb = Untouchable()
    for w in (writer, default):
        assert w.is_writing is False
        w.add_scalar("loss", bomb, bomb)
        w.add_scalar("loss", bomb, bomb, new_style=True)
        w.add_scalars("m", bomb, bomb)
        w.add_histogram("h", bomb, bomb)
        w.add_image("i", bomb, bomb)
        w.add_text("t", bomb, bomb)
        w.add_hparams(bomb, bomb)
        w.add_embedding(bomb)
        file_writer = w._get_file_writer()
        assert isinstance(file_writer, NoopFileWriter)
        file_writer.add_summary(bomb, bomb)  # Lightning writes hparams this way
        file_writer.add_event(bomb)
        file_writer.flush()
        with w.use_metadata(global_step=3):
            w.add_scalar("x", bomb)
        w.flush()
        w.close()
        w.add_scalar("after close", bomb)
    assert writer.get_logdir() == str(tmp_path / "run")
    assert writer._get_file_writer().get_logdir() == str(tmp_path / "run")
    assert len(os.listdir("/proc/self/task")) == tasks_before
    assert threading.active_count() == threads_before
    assert tree(tmp_path) == []


def test_global_summary_writer_on_a_non_writing_rank(tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    threads_before = threading.active_count()
    writer = ferroboard.GlobalSummaryWriter(tmp_path / "run")
    bomb = Untouchable()
    writer.add_scalar(bomb, bomb)
    writer.add_image(bomb, bomb)
    writer.add_text(bomb, bomb)
    clone = pickle.loads(pickle.dumps(writer))  # what a worker process receives
    clone.add_scalar(bomb, bomb)
    assert threading.active_count() == threads_before  # no drain thread
    writer.flush()
    writer.close()
    assert tree(tmp_path) == []
    monkeypatch.setenv("FERROBOARD_RANKS", "all")
    with ferroboard.GlobalSummaryWriter(tmp_path / "all", per_rank_dir=True) as writer:
        writer.add_scalar("loss", 3.0)
    (path,) = all_event_files(tmp_path)
    assert Path(path).parent == tmp_path / "all" / "rank3"
    assert scalars_of(read_events(path)) == [("loss", 0, 3.0)]


def test_writing_rank_writes_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with ferroboard.SummaryWriter(tmp_path) as writer:
        assert writer.is_writing is True
        writer.add_scalar("loss", 0.25, 1)
    (path,) = all_event_files(tmp_path)
    assert scalars_of(read_events(path)) == [("loss", 1, 0.25)]


def test_a_single_process_writes_and_is_not_announced(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ferroboard")
    with ferroboard.SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", 1.0, 0)
        assert writer.is_writing
        assert "add_scalar" not in writer.__dict__  # settled: the class's hot path
    assert len(all_event_files(tmp_path)) == 1
    assert caplog.records == []


def test_a_plain_script_keeps_the_untouched_hot_path(tmp_path):
    """No re-check is pending in a plain script: add_scalar is the class's method from the
    start (instance attributes would slow every later call)."""
    writer = ferroboard.SummaryWriter(tmp_path)
    assert not any(name.startswith("add_") for name in vars(writer))
    writer.close()


def test_master_port_makes_the_rank_pending_until_the_first_add(tmp_path, monkeypatch):
    """A launcher that gives MASTER_ADDR/PORT but no rank: init_process_group may still
    come; nothing else has started it here, so the writer stays rank 0 and writes."""
    monkeypatch.setenv("MASTER_PORT", "29500")
    writer = ferroboard.SummaryWriter(tmp_path)
    assert "add_scalar" in vars(writer)
    writer.add_scalar("loss", 1.0, 0)
    assert not any(name.startswith("add_") for name in vars(writer))
    writer.close()
    (path,) = all_event_files(tmp_path)
    assert scalars_of(read_events(path)) == [("loss", 0, 1.0)]


def test_may_join_later():
    assert ranks.may_join_later({"MASTER_ADDR": "10.0.0.1"})
    assert not ranks.may_join_later({})  # this test process is no multiprocessing child


def test_rank_zero_announces_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "8")
    caplog.set_level(logging.WARNING, logger="ferroboard.ranks")
    for run in ("a", "b"):
        ferroboard.SummaryWriter(tmp_path / run).close()
    (record,) = caplog.records
    assert "distributed run detected (RANK, world size 8): only rank 0 writes" in record.message


def test_other_ranks_stay_silent(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    caplog.set_level(logging.DEBUG, logger="ferroboard")
    ferroboard.SummaryWriter(tmp_path / "a").close()
    ferroboard.SummaryWriter(tmp_path / "b", ranks="all").close()
    assert caplog.records == []


def test_all_ranks_in_one_directory_warn_on_rank_zero(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    caplog.set_level(logging.WARNING, logger="ferroboard.ranks")
    ferroboard.SummaryWriter(tmp_path, ranks="all").close()
    (record,) = caplog.records
    assert "several ranks write into one run directory" in record.message


# -- arguments and environment overrides ---------------------------------------------------


def test_explicit_rank_and_ranks(tmp_path):
    assert not ferroboard.SummaryWriter(tmp_path / "a", rank=2).is_writing  # auto
    assert not ferroboard.SummaryWriter(tmp_path / "b", rank=2, ranks="zero").is_writing
    w = ferroboard.SummaryWriter(tmp_path / "c", rank=2, ranks={0, 2}, per_rank_dir=True)
    assert w.is_writing and w.get_logdir() == str(tmp_path / "c" / "rank2")
    w.close()
    (path,) = all_event_files(tmp_path)
    assert tree(tmp_path) == ["c", "c/rank2", str(Path(path).relative_to(tmp_path))]


def test_env_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("FERROBOARD_RANKS", "all")
    monkeypatch.setenv("FERROBOARD_PER_RANK_DIR", "1")
    with ferroboard.SummaryWriter(tmp_path) as w:
        assert w.is_writing and w.get_logdir() == str(tmp_path / "rank2")
        w.add_scalar("loss", 2.0, 0)
    assert [Path(p).parent.name for p in all_event_files(tmp_path)] == ["rank2"]
    monkeypatch.setenv("FERROBOARD_RANKS", "0,3")
    assert not ferroboard.SummaryWriter(tmp_path / "x").is_writing


def test_arguments_beat_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("FERROBOARD_RANKS", "all")
    assert not ferroboard.SummaryWriter(tmp_path / "a", ranks="zero").is_writing
    monkeypatch.setenv("FERROBOARD_RANKS", "zero")
    w = ferroboard.SummaryWriter(tmp_path / "b", ranks=[2])
    assert w.is_writing
    w.close()


@pytest.mark.parametrize(
    ("kwargs", "env", "error", "message"),
    [
        ({"ranks": "most"}, {}, ValueError, "ranks='most'"),
        ({"ranks": -2}, {}, ValueError, "got -2"),
        ({"rank": -1}, {}, ValueError, "rank: a rank must be >= 0, got -1"),
        ({"rank": "0"}, {}, TypeError, "rank: a rank must be an int, got str: '0'"),
        ({"per_rank_dir": "yes"}, {}, TypeError, "per_rank_dir must be a bool, got str"),
        ({"rank": 4}, {"WORLD_SIZE": "4", "RANK": "0"}, ValueError, "rank=4 is not below"),
        ({}, {"FERROBOARD_RANKS": "some"}, ValueError, "FERROBOARD_RANKS='some'"),
        ({}, {"FERROBOARD_PER_RANK_DIR": "maybe"}, ValueError, "FERROBOARD_PER_RANK_DIR"),
        ({}, {"RANK": "x"}, ValueError, "RANK='x' is not an integer"),
    ],
)
def test_bad_arguments_are_named(tmp_path, monkeypatch, kwargs, env, error, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error, match=message):
        ferroboard.SummaryWriter(tmp_path / "run", **kwargs)
    assert tree(tmp_path) == []


def test_per_rank_dir_needs_a_log_dir_in_a_distributed_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="per_rank_dir=True needs an explicit log_dir"):
        ferroboard.SummaryWriter(ranks="all", per_rank_dir=True)
    assert tree(tmp_path) == []


def test_pickled_writer_takes_the_receivers_rank(tmp_path, monkeypatch):
    import pickle

    writer = ferroboard.SummaryWriter(tmp_path / "run", ranks="all", per_rank_dir=True)
    assert writer.get_logdir() == str(tmp_path / "run" / "rank0")
    writer.close()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    clone = pickle.loads(pickle.dumps(writer))
    assert clone.get_logdir() == str(tmp_path / "run" / "rank1")
    clone.add_scalar("loss", 1.0, 0)
    clone.close()
    default = pickle.loads(pickle.dumps(ferroboard.SummaryWriter(tmp_path / "d", rank=0)))
    assert not pickle.loads(pickle.dumps(ferroboard.SummaryWriter(tmp_path / "e"))).is_writing
    default.close()
    assert [Path(p).parent.name for p in all_event_files(tmp_path / "run")] == ["rank0", "rank1"]


# -- real launches ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        args, cwd=cwd, env=_child_env(), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _reports(out: Path, n: int) -> list[dict]:
    return [json.loads((out / f"report{rank}.json").read_text()) for rank in range(n)]


def _python_loader(logdir: Path) -> dict:
    """run -> [(step, value)] of tag "loss", as TensorBoard's Python loader sees them."""
    mux = EventMultiplexer().AddRunsFromDirectory(str(logdir)).Reload()
    return {
        run: [(e.step, e.value) for e in mux.Scalars(run, "loss")]
        for run, tags in mux.Runs().items()
        if "loss" in tags["scalars"]
    }


def _rust_loader(logdir: Path, runs: int) -> dict:
    with Rustboard(logdir) as rb:
        got = rb.wait_for(lambda got: len(got) >= runs and all(got.values()))
    return {run: [(s, v) for s, v in tags.get("loss", [])] for run, tags in got.items()}


def test_torchrun_four_ranks(tmp_path):
    """Default: one file with rank 0's events, nothing from the others; ranks="all",
    per_rank_dir=True: four runs that both loaders list with every point."""
    done = _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node=4",
            f"--master-port={_free_port()}",
            CHILD,
            "torchrun",
            str(tmp_path),
        ],
        cwd=tmp_path,
    )
    reports = _reports(tmp_path, 4)
    assert [r["is_writing"] for r in reports] == [True, False, False, False]
    assert all(r["all_reduce"] == 4.0 and r["world"] == 4 for r in reports)
    for r in reports[1:]:  # a non-writing rank starts no thread (Rust threads included)
        assert (r["new_tasks"], r["new_threads"]) == (0, 0)
    assert (done.stdout + done.stderr).count("distributed run detected") == 1

    (default_file,) = all_event_files(tmp_path / "default")
    events = read_events(default_file)
    assert scalars_of(events) == [("loss", step, 0.0) for step in range(5)]
    texts = [v.tensor.string_val for e in events for v in e.summary.value if v.tag != "loss"]
    assert texts == [[b"rank 0"]]
    expected = {"default", str(Path(default_file).relative_to(tmp_path)), "per_rank"}
    for path in all_event_files(tmp_path / "per_rank"):  # one file per rank directory
        relative = Path(path).relative_to(tmp_path)
        expected |= {str(relative.parent), str(relative)}
    expected |= {f"report{rank}.json" for rank in range(4)}
    assert tree(tmp_path) == sorted(expected)

    want = {f"rank{r}": [(step, float(r)) for step in range(5)] for r in range(4)}
    assert [r["per_rank_logdir"] for r in reports] == [
        str(tmp_path / "per_rank" / name) for name in want
    ]
    assert _python_loader(tmp_path / "per_rank") == want
    assert _rust_loader(tmp_path / "per_rank", 4) == want
    assert _rust_loader(tmp_path / "default", 1) == {".": [(s, 0.0) for s in range(5)]}


def test_mp_spawn_rank_found_at_the_first_add(tmp_path):
    """Writers built before init_process_group (mp.spawn sets no variable): rank 1 removes
    the header-only file it opened, or moves to its own rank directory."""
    _run([sys.executable, CHILD, "spawn", str(tmp_path), str(_free_port())], cwd=tmp_path)
    reports = _reports(tmp_path, 2)
    assert all(r["opened_before"] for r in reports)
    assert [r["is_writing"] for r in reports] == [True, False]
    (default_file,) = all_event_files(tmp_path / "default")
    assert scalars_of(read_events(default_file)) == [("loss", s, 0.0) for s in range(3)]
    per_rank = all_event_files(tmp_path / "per_rank")
    assert [Path(p).parent.name for p in per_rank] == ["rank0", "rank1"]
    for rank, path in enumerate(per_rank):
        assert scalars_of(read_events(path)) == [("loss", s, float(rank)) for s in range(3)]


def test_lightning_ddp_two_processes_leave_one_file(tmp_path):
    pytest.importorskip("lightning")
    _run([sys.executable, CHILD, "lightning", str(tmp_path)], cwd=tmp_path)
    assert [r["world"] for r in _reports(tmp_path, 2)] == [2, 2]
    (path,) = all_event_files(tmp_path)
    losses = [s for s in scalars_of(read_events(path)) if s[0] == "train_loss"]
    assert [step for _, step, _ in losses] == [0, 1, 2, 3]
