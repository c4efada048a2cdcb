"""`add_embedding` and `add_hparams` of CUDA tensors (docs/gpu.md), driven on CPU: tensors
routed through the GPU path, fake completion events, and every device tensor wrapped so
that a host read of it (`.cpu()`, `.item()`, `.numpy()`, ...) raises, as it would
synchronize on a GPU.

The files (embeddings) and events (the hparams sub-run, decoded with TensorBoard's
protos) are compared with the host path's: the same values given as host tensors.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import fake_events
import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import assert_events_equal, events_of, read_logdir, summary_values
from fake_events import no_sync
from ferroboard import _capture, _core, _device_path
from procs import describe_run, results, run_child
from tensorboard.plugins.projector import projector_config_pb2


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> fake_events.FakeEvents:
    return fake_events.install(monkeypatch)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _files(root: Path) -> dict[str, bytes]:
    """Every non-event file under `root`, by relative path."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if "tfevents" not in name:
                path = Path(dirpath) / name
                out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _config(root: Path) -> list[tuple[str, str]]:
    config = projector_config_pb2.ProjectorConfig()
    from google.protobuf import text_format

    text_format.Parse((root / "projector_config.pbtxt").read_text(), config)
    return [(e.tensor_name, e.tensor_path) for e in config.embeddings]


# -- add_embedding ---------------------------------------------------------------------------

MAT = torch.randn((12, 5), generator=_gen(1))
IMAGES = torch.rand((12, 3, 6, 4), generator=_gen(2))
WORDS = [f"word {i}" for i in range(12)]
ROWS = [[f"w{i}", i % 3] for i in range(12)]

EMBEDDINGS: dict[str, Callable[[Callable], dict]] = {
    "mat": lambda d: {"mat": d(MAT)},
    "mat_bfloat16": lambda d: {"mat": d(MAT.bfloat16())},
    "mat_float64_non_contiguous": lambda d: {"mat": d(MAT.double().t().contiguous().t())},
    "mat_words_images": lambda d: {"mat": d(MAT), "metadata": WORDS, "label_img": d(IMAGES)},
    "host_mat_device_images": lambda d: {"mat": MAT.numpy(), "label_img": d(IMAGES)},
    "device_mat_host_uint8_images": lambda d: {
        "mat": d(MAT),
        "label_img": (IMAGES[:, :1] * 255).to(torch.uint8).numpy(),
    },
    "metadata_header": lambda d: {
        "mat": d(MAT),
        "metadata": ROWS,
        "metadata_header": ["word", "class"],
    },
    "metadata_device_tensor": lambda d: {
        "mat": d(MAT),
        "metadata": d(torch.arange(12) % 4),
        "label_img": d(IMAGES[:, :1]),
    },
}


@pytest.mark.parametrize("tensor_format", ["tsv", "binary"])
@pytest.mark.parametrize("case", sorted(EMBEDDINGS))
def test_embedding_files_are_the_host_paths_once_the_copies_arrived(
    tmp_path, events, case, tensor_format
):
    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_embedding(
            **EMBEDDINGS[case](d), global_step=3, tag="emb/x", tensor_format=tensor_format
        )

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    assert len(events.made) == 1  # one event for all the device arguments
    assert os.path.isdir(tmp_path / "device" / "00003" / "emb%2fx")  # placed at the call
    assert w.poll() == 1
    w._flush_plugins()
    assert _files(tmp_path / "device") == {}  # nothing written before the copies arrived
    events.made[0].done = True
    assert w.poll() == 0
    w.close()
    ours, theirs = _files(tmp_path / "device"), _files(tmp_path / "host")
    assert "00003/emb%2fx/tensors." + ("bytes" if tensor_format == "binary" else "tsv") in ours
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        assert ours[name] == theirs[name], name


def test_config_and_steps_keep_call_order_behind_a_pending_copy(tmp_path, events):
    """A host embedding logged while a device one waits follows it in the projector
    config (and is written after it), as if both were written at their call."""

    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_embedding(MAT.numpy(), tag="first", global_step=1)
        w.add_embedding(d(MAT * 2), tag="second", global_step=2)
        w.add_embedding(MAT.numpy() * 3, metadata=WORDS, tag="third", global_step=3)

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    assert w.poll() == 2  # the device embedding and the host one behind it
    w._flush_plugins()
    assert _config(tmp_path / "device") == [("first:00001", "00001/first/tensors.tsv")]
    assert not (tmp_path / "device" / "00003" / "third" / "tensors.tsv").exists()
    events.made[0].done = True
    w.flush()
    assert [n for n, _ in _config(tmp_path / "device")] == [
        "first:00001",
        "second:00002",
        "third:00003",
    ]
    w.close()
    assert _files(tmp_path / "device") == _files(tmp_path / "host")


def test_a_host_embedding_waits_only_behind_pending_embeddings(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("loss", no_sync(torch.tensor(1.0)), 0)
    w.add_embedding(MAT.numpy())  # nothing for the projector config to wait for
    assert w.poll() == 1  # the scalar only
    w._flush_plugins()
    assert (tmp_path / "00000" / "default" / "tensors.tsv").exists()
    events.made[0].done = True
    w.close()


def test_an_embedding_of_a_url_log_dir_reaches_the_store(tmp_path, events, monkeypatch):
    monkeypatch.setenv("FERROBOARD_STAGING_DIR", str(tmp_path / "staging"))
    url = f"memory://gpu-plugins-{os.getpid()}/run"
    w = ferroboard.SummaryWriter(url)
    w.add_embedding(no_sync(MAT), metadata=WORDS, tag="points")
    events.made[0].done = True
    w.close()  # finishes the entry, then the embedding thread and its uploads
    assert [n for n, _ in _core.list_objects(url) if "tfevents" not in n] == [
        "projector_config.pbtxt"
    ]
    assert sorted(n for n, _ in _core.list_objects(url + "/00000/points")) == [
        "metadata.tsv",
        "tensors.tsv",
    ]
    assert (
        _core.read_object(url, "00000/points/metadata.tsv")
        == "".join(w + "\n" for w in WORDS).encode()
    )


def test_embedding_host_arguments_are_taken_at_the_call(tmp_path, events):
    words = list(WORDS)
    images = IMAGES.numpy().copy()

    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_embedding(d(MAT), metadata=words, label_img=images)

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    words[0] = "changed"  # the caller reuses its objects before the copy completed
    words.append("extra")
    images[:] = 0
    events.made[0].done = True
    w.close()
    assert _files(tmp_path / "device") == _files(tmp_path / "host")


def test_embedding_is_written_by_the_next_writer_call_once_arrived(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(MAT))
    events.made[0].done = True
    _device_path_poll_now(w)
    w.add_scalar("loss", 1.0, 0)  # the throttled poll of an ordinary call
    assert w.poll() == 0
    w._flush_plugins()
    assert (tmp_path / "00000" / "default" / "tensors.tsv").exists()
    w.close()


def _device_path_poll_now(w: ferroboard.SummaryWriter) -> None:
    """Lets the next call's throttled poll run (it runs at most once per millisecond)."""
    w.file_writer._pending._next_poll = 0.0


EMBEDDING_ERRORS: list[tuple[str, Callable, type, str]] = [
    ("mat rank", lambda w: w.add_embedding(no_sync(torch.zeros(5))), ValueError, "mat must be 2-D"),
    (
        "metadata count",
        lambda w: w.add_embedding(no_sync(torch.zeros(3, 2)), metadata=["a", "b"]),
        ValueError,
        "one label per data point",
    ),
    (
        "device metadata count",
        lambda w: w.add_embedding(no_sync(torch.zeros(3, 2)), metadata=no_sync(torch.zeros(2))),
        ValueError,
        "one label per data point",
    ),
    (
        "label_img count",
        lambda w: w.add_embedding(
            no_sync(torch.zeros(3, 2)), label_img=no_sync(torch.zeros(2, 3, 4, 4))
        ),
        ValueError,
        "one image per data point",
    ),
    (
        "label_img channels",
        lambda w: w.add_embedding(np.zeros((3, 2)), label_img=no_sync(torch.zeros(3, 4, 4, 4))),
        ValueError,
        r"\(N, C, H, W\)",
    ),
    (
        "sprite too large to encode",
        lambda w: w.add_embedding(
            no_sync(torch.zeros(2, 2)), label_img=no_sync(torch.zeros(2, 1, 300000, 1))
        ),
        ValueError,
        "label_img",
    ),
    (
        "metadata columns",
        lambda w: w.add_embedding(
            no_sync(torch.zeros(2, 2)), metadata=[[1, 2], [3]], metadata_header=["a", "b"]
        ),
        ValueError,
        "columns",
    ),
    (
        "tensor_format",
        lambda w: w.add_embedding(no_sync(torch.zeros(2, 2)), tensor_format="npy"),
        ValueError,
        "tensor_format",
    ),
    ("tag", lambda w: w.add_embedding(no_sync(torch.zeros(2, 2)), tag=3), TypeError, "tag"),
    (
        "step",
        lambda w: w.add_embedding(no_sync(torch.zeros(2, 2)), global_step="x"),
        TypeError,
        "global_step",
    ),
]


def test_embedding_warnings_at_the_call_point_at_the_caller(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(torch.zeros(2, 2)), global_step=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w.add_embedding(no_sync(torch.zeros(2, 2)), global_step=8)  # the directory exists
        w.add_embedding(
            no_sync(torch.zeros(4, 2)), label_img=no_sync(torch.zeros(4, 1, 1, 5000)), tag="big"
        )
    assert [("exists" in str(c.message), "8192" in str(c.message)) for c in caught] == [
        (True, False),
        (False, True),
    ]
    assert {c.filename for c in caught} == {__file__}
    for event in events.made:
        event.done = True
    w.close()


# -- add_hparams ----------------------------------------------------------------------------

NOW = 1_700_000_123.5


class _Clock:
    """`time` for the plugins module: a fixed `time()` (the sub-run's name and wall time)."""

    @staticmethod
    def time() -> float:
        return NOW


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import ferroboard.plugins

    monkeypatch.setattr(ferroboard.plugins, "time", _Clock)


HPARAMS: dict[str, Callable[[Callable], dict]] = {
    "one_metric": lambda d: {
        "hparam_dict": {"lr": 0.1, "opt": "adam"},
        "metric_dict": {"loss": d(torch.tensor(0.25))},
    },
    "mixed_metrics": lambda d: {
        "hparam_dict": {"lr": 0.1, "deep": True, "layers": 4},
        "metric_dict": {
            "loss": d(torch.tensor([0.5], dtype=torch.float64)),
            "acc": 0.75,
            "bf16": d(torch.tensor(1.5, dtype=torch.bfloat16)),
            "int": d(torch.tensor(7)),
        },
        "global_step": 4,
    },
    "device_hparams_and_domains": lambda d: {
        "hparam_dict": {"lr": d(torch.tensor(0.01)), "flag": d(torch.tensor([True]))},
        "metric_dict": {"loss": 1.0},
        "hparam_domain_discrete": {"flag": [True, False]},
        "run_name": "named",
    },
}


def _events_by_run(logdir: Path) -> dict[str, list]:
    return {
        run: [e for files in per_file for e in files]
        for run, per_file in read_logdir(logdir).items()
    }


@pytest.mark.parametrize("case", sorted(HPARAMS))
def test_hparams_sub_run_is_the_host_paths_written_on_arrival(tmp_path, events, clock, case):
    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_hparams(**HPARAMS[case](d))

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    assert len(events.made) == 1
    run = "named" if case == "device_hparams_and_domains" else str(NOW)
    assert not (tmp_path / "device" / run).exists()  # written when the values arrived
    assert w.poll() == 1
    events.made[0].done = True
    assert w.poll() == 0
    assert (tmp_path / "device" / run).is_dir()
    w.close()
    ours, theirs = _events_by_run(tmp_path / "device"), _events_by_run(tmp_path / "host")
    assert sorted(ours) == sorted(theirs) == [".", run]
    assert summary_values(ours[run])  # something to compare
    assert_events_equal(ours[run], theirs[run], compare_wall_time=False)
    assert {e.wall_time for e in ours[run] if e.HasField("summary")} == {NOW}  # the call's


def test_hparams_values_are_taken_at_the_call(tmp_path, events, clock):
    hparams = {"lr": 0.1}
    metrics = {"loss": torch.tensor(0.5), "acc": np.array([0.25])}

    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_hparams(hparams, {"loss": d(metrics["loss"]), "acc": metrics["acc"]})

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    hparams["lr"] = 0.2  # the caller reuses its objects before the copy completed
    metrics["acc"][0] = 1.0
    events.made[0].done = True
    w.close()
    ours, theirs = _events_by_run(tmp_path / "device"), _events_by_run(tmp_path / "host")
    assert_events_equal(ours[str(NOW)], theirs[str(NOW)], compare_wall_time=False)


HPARAMS_ERRORS: list[tuple[str, Callable, type, str]] = [
    (
        "metric shape",
        lambda w: w.add_hparams({"a": 1}, {"loss": no_sync(torch.ones(2))}),
        ValueError,
        r"metric_dict\['loss'\] must hold exactly one element",
    ),
    (
        "empty hparam",
        lambda w: w.add_hparams({"a": no_sync(torch.ones(0))}, {"loss": 1.0}),
        ValueError,
        r"hparam_dict\['a'\]: an empty tensor",
    ),
    (
        "domain type",
        lambda w: w.add_hparams(
            {"a": no_sync(torch.tensor(1.0))}, {"m": 1.0}, hparam_domain_discrete={"a": ["x"]}
        ),
        TypeError,
        r"hparam_domain_discrete\['a'\]",
    ),
    (
        "metric key",
        lambda w: w.add_hparams({"a": 1}, {3: no_sync(torch.tensor(1.0))}),
        TypeError,
        "metric_dict keys must be str",
    ),
    (
        "hparam_dict type",
        lambda w: w.add_hparams([1], {"m": no_sync(torch.tensor(1.0))}),
        TypeError,
        "hparam_dict must be a dict",
    ),
    (
        "run name",
        lambda w: w.add_hparams({"a": 1}, {"m": no_sync(torch.tensor(1.0))}, run_name="/abs"),
        ValueError,
        "run_name",
    ),
    (
        "step",
        lambda w: w.add_hparams({"a": 1}, {"m": no_sync(torch.tensor(1.0))}, global_step="x"),
        TypeError,
        "global_step",
    ),
]


BAD_CALLS = [("embedding-" + c[0], *c[1:]) for c in EMBEDDING_ERRORS] + [
    ("hparams-" + c[0], *c[1:]) for c in HPARAMS_ERRORS
]


@pytest.mark.parametrize("name,call,error,match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_raise_at_the_call(tmp_path, events, name, call, error, match):
    w = ferroboard.SummaryWriter(str(tmp_path))
    with pytest.raises(error, match=match):
        call(w)
    assert events.made == []  # nothing enqueued
    assert w.poll() == 0
    w.close()
    # Neither an embedding's {step}/{tag} directory nor an hparams sub-run was made.
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


# -- order, errors, capture, fork, exit --------------------------------------------------------


def test_they_hold_no_slot_and_flush_waits_for_them(tmp_path, events, clock):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(MAT))
    w.add_hparams({"lr": 0.1}, {"loss": no_sync(torch.tensor(0.5))})
    w.add_scalar("after", 1.0, 0)
    w.file_writer._core.flush()
    # Written elsewhere: the default run's events are not held back behind them.
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["after"]
    assert w.poll() == 2
    w.flush()
    assert [e.waits for e in events.made] == [1, 1]
    assert (tmp_path / "00000" / "default" / "tensors.tsv").exists()  # flush waited for it
    assert [v.tag for v in summary_values(events_of(tmp_path, str(NOW)))][-1] == "loss"
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["after"]
    w.close()


def test_a_device_error_cancels_them_with_a_count(tmp_path, events, clock):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(MAT))
    w.add_hparams({"lr": 0.1}, {"loss": no_sync(torch.tensor(0.5)), "acc": 0.5})
    w.add_scalar("host", 1.0, 0)
    events.made[0].error = RuntimeError("CUDA error: an illegal memory access was encountered")
    with pytest.warns(
        RuntimeWarning, match=r"1 embedding\(s\) and 5 event\(s\).*illegal memory access"
    ):
        w.close()
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["host"]
    assert not (tmp_path / str(NOW)).exists()
    assert _files(tmp_path) == {}


def test_a_delivery_that_fails_is_reported_by_tag(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(MAT), tag="lost")
    target = tmp_path / "00000" / "lost" / "tensors.tsv"
    target.mkdir()  # the file cannot be written: the thread reports it at flush
    events.made[0].done = True
    with pytest.raises(OSError, match="tensors.tsv"):
        w.flush()
    w.close()


def test_capture_rules_apply(tmp_path, events, monkeypatch):
    w = ferroboard.SummaryWriter(str(tmp_path))
    monkeypatch.setattr(_capture, "capturing", lambda: True)
    with pytest.raises(RuntimeError, match="add_embedding with a CUDA tensor while a CUDA graph"):
        w.add_embedding(no_sync(MAT))
    with pytest.raises(RuntimeError, match="add_hparams with a CUDA tensor while a CUDA graph"):
        w.add_hparams({"a": 1}, {"m": no_sync(torch.tensor(1.0))})
    w.add_embedding(MAT.numpy(), tag="host")  # host values are unaffected
    monkeypatch.setattr(_capture, "capturing", lambda: False)
    w.close()
    assert events.made == []
    assert sorted(p.name for p in (tmp_path / "00000").iterdir()) == ["host"]


def test_capture_policy_skip_drops_them(tmp_path, events, monkeypatch):
    w = ferroboard.SummaryWriter(str(tmp_path), on_cuda_capture="skip")
    monkeypatch.setattr(_capture, "capturing", lambda: True)
    monkeypatch.setattr(_device_path, "_skip_warned", False)
    with pytest.warns(RuntimeWarning, match="skipped"):
        w.add_embedding(no_sync(MAT))
        w.add_hparams({"a": 1}, {"m": no_sync(torch.tensor(1.0))})
    monkeypatch.setattr(_capture, "capturing", lambda: False)
    w.close()
    assert events.made == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == []


def test_a_forked_child_never_touches_its_parents_pending_ones(tmp_path, events, clock):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_embedding(no_sync(MAT), tag="parent")
    w.add_hparams({"lr": 0.1}, {"loss": no_sync(torch.tensor(0.5))}, run_name="parent_run")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            w.add_embedding(MAT.numpy(), tag="child")
            w.poll()
            w.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # 17: the child touched an event
    assert [n for n, _ in _config(tmp_path)] == ["child:00000"]
    for event in events.made:
        event.done = True
    w.close()
    assert (tmp_path / "00000" / "parent" / "tensors.tsv").exists()
    assert [v.tag for v in summary_values(events_of(tmp_path, "parent_run"))][-1] == "loss"


_EXIT_SCRIPT = (
    """
import atexit


def after_ferroboards_exit_hook():  # registered first, so it runs after that hook
    files = w.__dict__.get("_embedding_files")
    report(embedding_thread_open=files is not None and files._core is not None)


atexit.register(after_ferroboards_exit_hook)

"""
    + fake_events.CHILD_EVENTS_NEVER_DONE
    + """w.add_embedding(torch.ones(2, 3) * 0.5, tag="emb")
w.add_hparams({{"lr": 0.1}}, {{"loss": torch.tensor(0.25)}}, run_name="run")
"""
)


@pytest.mark.parametrize("fail", [False, True], ids=["completes", "device-error"])
def test_exit_writes_them_or_reports_them(tmp_path, fail):
    result = run_child(_EXIT_SCRIPT.format(fail=fail, logdir=str(tmp_path)))
    assert result.returncode == 0, describe_run(result)
    # The queue was finished before the embedding thread was closed (and its files,
    # for a URL log dir, uploaded): nothing reached a thread after that.
    assert results(result.stdout) == [{"embedding_thread_open": False}], describe_run(result)
    tsv = tmp_path / "00000" / "emb" / "tensors.tsv"
    if fail:
        assert "1 embedding(s) and 4 event(s)" in result.stderr, describe_run(result)
        assert "unspecified launch failure" in result.stderr
        assert not tsv.exists() and not (tmp_path / "run").exists()
    else:
        assert tsv.read_text() == "0.5\t0.5\t0.5\n0.5\t0.5\t0.5\n"
        assert [n for n, _ in _config(tmp_path)] == ["emb:00000"]
        assert [v.tag for v in summary_values(events_of(tmp_path, "run"))][-1] == "loss"
