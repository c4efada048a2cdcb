"""Writers across processes: a pickled `SummaryWriter` (spawn-mode workers, mp.spawn)
reopens in the receiving process as a new event file in the same log directory, and
`GlobalSummaryWriter` numbers each tag's steps across forked and spawned processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle

import ferroboard
import numpy as np
import pytest
from eventfiles import event_files, read_events
from procs import TESTS_DIR, result, run_child


def _scalars(path) -> list:
    return [
        (v.tag, e.step, v.simple_value)
        for e in read_events(path)
        if e.HasField("summary")
        for v in e.summary.value
        if v.WhichOneof("value") == "simple_value"
    ]


def test_pickle_round_trip_in_process(tmp_path):
    w = ferroboard.SummaryWriter(tmp_path, flush_secs=7, filename_suffix=".x", max_queue=3)
    w.add_scalar("a", 1.0, 0)
    w.add_scalars("s", {"k": 1.0}, 0)
    w.add_embedding(np.eye(3), metadata=["x", "y", "z"])
    w.flush()  # its projector config is on disk before the copy rewrites it
    clone = pickle.loads(pickle.dumps(w))
    assert clone is not w
    assert (clone.log_dir, clone.flush_secs, clone.max_queue, clone.filename_suffix) == (
        str(tmp_path),
        7,
        3,
        ".x",
    )
    clone.add_scalar("a", 2.0, 1)
    clone.add_embedding(np.eye(3) * 2, global_step=1)
    clone.close()
    w.close()
    files = event_files(tmp_path)["."]
    assert len(files) == 2, "the clone writes its own file in the same directory"
    assert all(f.name.endswith(".x") for f in files)
    values = sorted(v for f in files for v in _scalars(f))
    assert values == [("a", 0, 1.0), ("a", 1, 2.0)]
    # The clone's projector config keeps the embedding the original wrote before.
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2


def test_pickle_disabled_writer(tmp_path):
    w = ferroboard.SummaryWriter(tmp_path / "none", write_to_disk=False)
    clone = pickle.loads(pickle.dumps(w))
    clone.add_scalar("a", 1.0)
    clone.close()
    assert not (tmp_path / "none").exists()


def _spawn_worker(writer, rank):
    writer.add_scalar("rank", float(rank), rank)
    writer.add_text("hello", f"from {rank}", rank)
    writer.close()


def test_spawn_mode_processes(tmp_path):
    """The writer is pickled into each spawned worker (as mp.spawn and spawn-mode
    DataLoader workers do); each worker writes its own new file."""
    w = ferroboard.SummaryWriter(tmp_path)
    w.add_scalar("rank", -1.0, 0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_spawn_worker, args=(w, r)) for r in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    w.close()
    files = event_files(tmp_path)["."]
    assert len(files) == 3
    values = sorted(v for f in files for v in _scalars(f))
    assert values == [("rank", 0, -1.0), ("rank", 1, 1.0), ("rank", 2, 2.0)]


def test_torch_multiprocessing_spawn(tmp_path):
    """torch.multiprocessing.spawn pickles the writer into each rank."""
    (tmp_path / "spawnmod.py").write_text(
        "def work(rank, writer):\n"
        "    writer.add_scalar('loss', float(rank), rank)\n"
        "    writer.close()\n"
    )
    logdir = tmp_path / "logs"
    proc = run_child(
        """
        import sys, torch.multiprocessing as tmp
        import ferroboard, spawnmod

        if __name__ == "__main__":
            w = ferroboard.SummaryWriter(sys.argv[1])
            tmp.spawn(spawnmod.work, args=(w,), nprocs=2, join=True)
            w.close()
            report(ok=True)
        """,
        str(logdir),
        env={"PYTHONPATH": os.pathsep.join([str(tmp_path), TESTS_DIR])},
    )
    assert result(proc) == {"ok": True}
    files = event_files(logdir)["."]
    values = sorted(v for f in files for v in _scalars(f))
    assert values == [("loss", 0, 0.0), ("loss", 1, 1.0)]


# -- GlobalSummaryWriter ------------------------------------------------------------------

_GLOBAL = None


def _pool_task(x):
    _GLOBAL.add_scalar("pool", float(x))
    _GLOBAL.add_text("pool_text", f"t{x}")
    return x


def test_global_writer_across_forked_pool(tmp_path):
    global _GLOBAL
    _GLOBAL = w = ferroboard.GlobalSummaryWriter(logdir=tmp_path)
    w.add_scalar("pool", -1.0)
    with mp.get_context("fork").Pool(2) as pool:
        assert sorted(pool.map(_pool_task, range(20))) == list(range(20))
    w.add_image("img", np.zeros((3, 4, 4), np.float32))
    w.add_image("img", np.ones((4, 4, 3), np.float32), dataformats="HWC")
    w.close()
    _GLOBAL = None
    (path,) = event_files(tmp_path)["."]
    events = read_events(path)
    pool = [(e.step, v.simple_value) for e in events for v in e.summary.value if v.tag == "pool"]
    assert [s for s, _ in pool] == list(range(21)), "one step per call, in file order"
    assert sorted(v for _, v in pool) == [-1.0] + [float(x) for x in range(20)]
    texts = [e.step for e in events for v in e.summary.value if v.tag.startswith("pool_text")]
    assert texts == list(range(20))
    images = [e.step for e in events for v in e.summary.value if v.tag == "img"]
    assert images == [0, 1]


def _spawned_global(writer, n):
    for i in range(n):
        writer.add_scalar("spawned", float(i))


def test_global_writer_in_spawned_process(tmp_path):
    w = ferroboard.GlobalSummaryWriter(tmp_path)
    p = mp.get_context("spawn").Process(target=_spawned_global, args=(w, 5))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    w.close()
    (path,) = event_files(tmp_path)["."]
    steps = [e.step for e in read_events(path) for v in e.summary.value if v.tag == "spawned"]
    assert steps == [0, 1, 2, 3, 4]


def test_global_writer_singleton(tmp_path, monkeypatch, capsys):
    from ferroboard import global_writer

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(global_writer, "_writer", None)
    a = ferroboard.GlobalSummaryWriter.getSummaryWriter()
    b = ferroboard.GlobalSummaryWriter.getSummaryWriter()
    assert a is b
    assert "Using the global logger in:" in capsys.readouterr().out
    a.add_text("t", "x")
    assert a.file_writer is not None
    a.close()
    with pytest.raises(TypeError, match="text_string"):
        a.add_text("t", 3)


def test_embeddings_in_a_forked_child(tmp_path):
    """A forked child writes embeddings with its own thread (the parent's does not exist
    there) and never waits on the parent's queue; neither process hangs."""
    proc = run_child(
        """
        import os, sys
        import numpy as np
        import ferroboard

        w = ferroboard.SummaryWriter(sys.argv[1])
        w.add_embedding(np.random.rand(2000, 64), tag="parent_before")  # maybe still queued
        pid = os.fork()
        if pid == 0:
            w.add_embedding(np.eye(3) * 0.5, tag="child")
            w.close()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        w.add_embedding(np.eye(3), tag="parent_after")
        w.close()
        report(child_status=status)
        """,
        str(tmp_path),
    )
    assert result(proc) == {"child_status": 0}
    assert (tmp_path / "00000" / "child" / "tensors.tsv").read_text().startswith("0.5\t0.0")
    for tag in ("parent_before", "parent_after"):
        assert (tmp_path / "00000" / tag / "tensors.tsv").stat().st_size > 0
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert "parent_after:00000" in config and "parent_before:00000" in config
