"""ferroboard's Lightning `TensorBoardLogger` against Lightning's own, on real fits.

The same 2-epoch CPU fit (tests/lightning_model.py) runs once with Lightning's stock logger
(torch's writer) and once with ferroboard's: every event must be equal (tags, steps,
scalar values, histograms, the hparams plugin data and the graph, decoded). Then: a fit
in a child process where neither `tensorboard` nor `tensorboardX` is installed, pickling
and a `ddp_spawn` fit on 2 CPU processes, the other ranks of `ddp`, the README example,
and `pytorch_lightning`. Skipped only when Lightning is not importable.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

if all(importlib.util.find_spec(name) is None for name in ("lightning", "pytorch_lightning")):
    pytest.skip("neither lightning nor pytorch_lightning is installed", allow_module_level=True)

import ferroboard  # noqa: E402
import lightning_model  # noqa: E402
from eventfiles import (  # noqa: E402
    diff_events,
    diff_messages,
    event_files,
    events_of,
    parse_event_file_name,
    read_events,
)
from lightning_children import Children  # noqa: E402
from procs import describe_run, result  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402
from tensorboard.compat.proto.graph_pb2 import GraphDef  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

#: package -> (Lightning's package, ferroboard's module for it)
PACKAGES = {
    "lightning": ("lightning.pytorch", "ferroboard.integrations.lightning"),
    "pytorch_lightning": ("pytorch_lightning", "ferroboard.integrations.pytorch_lightning"),
}


def _packages(name: str) -> tuple[Any, Any]:
    lightning_name, ferro_name = PACKAGES[name]
    pytest.importorskip(lightning_name.partition(".")[0])
    return importlib.import_module(lightning_name), importlib.import_module(ferro_name)


@pytest.fixture
def lightning_pkgs() -> tuple[Any, Any]:
    """(lightning.pytorch, ferroboard.integrations.lightning)."""
    return _packages("lightning")


@pytest.fixture(scope="module", autouse=True)
def children(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Children]:
    """The child-process tests' children, started before the first test of the file so
    that they run alongside the in-process tests (tests/lightning_children.py)."""
    started = Children.start(tmp_path_factory.mktemp("lightning_children"))
    yield started
    started.stop()


def _fit(package: Any, logger: Any) -> None:
    package.seed_everything(0, verbose=False)
    model = lightning_model.module_class(package)()
    trainer = package.Trainer(**lightning_model.trainer_kwargs(package, logger))
    trainer.fit(model, lightning_model.make_loader())


# -- comparing two runs event by event ----------------------------------------------------


def _split(event: Event) -> tuple[str, Event, Optional[Any]]:
    """(label, the event without its map-bearing bytes, those bytes decoded).

    A GraphDef's attributes and the hparams' values are protobuf maps, whose order on the
    wire is unspecified: they are compared decoded.
    """
    copy = Event()
    copy.CopyFrom(event)
    if event.HasField("graph_def"):
        copy.graph_def = b""
        return "(graph_def)", copy, GraphDef.FromString(event.graph_def)
    if event.HasField("summary"):
        assert len(event.summary.value) == 1, f"Lightning writes one value per event: {event}"
        value = copy.summary.value[0]
        plugin = value.metadata.plugin_data
        if plugin.plugin_name == "hparams":
            decoded = plugin_data_pb2.HParamsPluginData.FromString(plugin.content)
            plugin.content = b""
            return value.tag, copy, decoded
        return value.tag, copy, None
    what = event.WhichOneof("what")
    if what == "tagged_run_metadata":
        return f"(run metadata {event.tagged_run_metadata.tag})", copy, None
    return f"({what})", copy, None


def _event_diffs(ours: list, theirs: list) -> list[str]:
    """Differences between two `_split` lists, one line each."""
    if [label for label, _, _ in ours] != [label for label, _, _ in theirs]:
        return [f"labels {[x[0] for x in ours]} != {[x[0] for x in theirs]}"]
    diffs = []
    for i, ((label, a, a_blob), (_, e, e_blob)) in enumerate(zip(ours, theirs)):
        diffs += [f"{label}: {d}" for d in diff_events([a], [e])]
        if e_blob is not None:
            diffs += [f"{label}[{i}] decoded: {d}" for d in diff_messages(a_blob, e_blob)]
    return diffs


def comparison_table(ours: list, theirs: list) -> str:
    """Markdown: tag, events in each run, whether every event of the tag is equal."""
    labels = list(dict.fromkeys(label for label, _, _ in theirs + ours))
    rows = ["| tag | stock | ferroboard | equal |", "|---|---:|---:|---|"]
    for label in labels:
        a = [x for x in ours if x[0] == label]
        e = [x for x in theirs if x[0] == label]
        equal = len(a) == len(e) and not _event_diffs(a, e)
        rows.append(f"| `{label}` | {len(e)} | {len(a)} | {'yes' if equal else '**no**'} |")
    return "\n".join(rows)


@pytest.mark.parametrize("package_name", ["lightning", "pytorch_lightning"])
def test_fit_writes_the_stock_loggers_events(package_name: str, tmp_path: Path) -> None:
    package, ferro = _packages(package_name)
    assert issubclass(ferro.TensorBoardLogger, package.loggers.TensorBoardLogger)
    stock = package.loggers.TensorBoardLogger(tmp_path / "stock", log_graph=True)
    ours = ferro.TensorBoardLogger(tmp_path / "ferroboard", log_graph=True)
    _fit(package, stock)
    _fit(package, ours)
    assert type(stock.experiment).__module__ == "torch.utils.tensorboard.writer"
    assert isinstance(ours.experiment, ferroboard.SummaryWriter)

    assert sorted(event_files(ours.log_dir)) == sorted(event_files(stock.log_dir)) == ["."]
    theirs_split = [_split(e) for e in events_of(stock.log_dir)]
    ours_split = [_split(e) for e in events_of(ours.log_dir)]
    table = comparison_table(ours_split, theirs_split)
    print(f"\n{package_name}:\n{table}")
    diffs = _event_diffs(ours_split, theirs_split)
    assert not diffs, "\n".join(diffs[:40]) + "\n" + table

    # The run really has every kind of event, so equality means something.
    labels = [label for label, _, _ in ours_split]
    steps = lightning_model.EPOCHS * lightning_model.STEPS_PER_EPOCH
    assert labels.count("train_loss") == steps
    assert labels.count("weights/first") == labels.count("direct/epoch") == lightning_model.EPOCHS
    assert labels.count("lr-SGD") == lightning_model.EPOCHS
    assert labels.count("hp_metric") == 1 + lightning_model.EPOCHS  # -1 first, then each epoch
    assert labels.count("(graph_def)") == 1 and "(run metadata step1)" in labels
    hparams = {label: blob for label, _, blob in ours_split if label.startswith("_hparams_/")}
    assert sorted(hparams) == [
        "_hparams_/experiment",
        "_hparams_/session_end_info",
        "_hparams_/session_start_info",
    ]
    start = hparams["_hparams_/session_start_info"].session_start_info
    assert dict(start.hparams)["lr"].number_value == 0.1
    assert dict(start.hparams)["optimizer"].string_value == "sgd"
    experiment = hparams["_hparams_/experiment"].experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hp_metric"]
    assert (Path(ours.log_dir) / "hparams.yaml").read_text() == (
        Path(stock.log_dir) / "hparams.yaml"
    ).read_text()


def test_log_hyperparams_metrics_and_direct_calls(lightning_pkgs, tmp_path: Path) -> None:
    """Calls outside a fit: explicit metrics (a dict, or one value as hp_metric), a step,
    nested and non-primitive parameters, and add_* on `experiment`; same as stock."""
    package, ferro = lightning_pkgs

    def calls(logger: Any) -> None:
        params = {"lr": 0.5, "net": {"depth": 3, "act": "relu"}, "sizes": [1, 2]}
        logger.log_hyperparams(params, {"hp_metric": 0.25, "val/acc": 0.5}, step=3)
        logger.log_hyperparams({"batch": 16}, 0.75)
        logger.log_metrics({"loss": 1.5, "grouped": {"a": 1.0, "b": 2.0}}, step=4)
        logger.experiment.add_text("note", "hello", 5)
        logger.finalize("success")

    stock = package.loggers.TensorBoardLogger(tmp_path, name="stock", version=0)
    ours = ferro.TensorBoardLogger(tmp_path, name="ferro", version=0)
    calls(stock)
    calls(ours)
    theirs_runs, ours_runs = event_files(stock.log_dir), event_files(ours.log_dir)
    assert sorted(ours_runs) == sorted(theirs_runs)  # add_scalars' sub-runs too
    for run in theirs_runs:
        theirs_split = [_split(e) for e in events_of(stock.log_dir, run)]
        ours_split = [_split(e) for e in events_of(ours.log_dir, run)]
        diffs = _event_diffs(ours_split, theirs_split)
        assert not diffs, f"run {run}:\n" + "\n".join(diffs[:40])
    main = [label for label, _, _ in (_split(e) for e in events_of(ours.log_dir))]
    assert main.count("_hparams_/session_start_info") == 2
    assert {"hp_metric", "val/acc", "loss", "note/text_summary"} <= set(main)


def test_boolean_hyperparameters_stay_booleans(lightning_pkgs, tmp_path: Path) -> None:
    """The one documented difference: torch's `hparams` (the stock logger's) stores True
    as the number 1.0; ferroboard's `summary.hparams` stores a boolean, as tensorboardX
    and TensorBoard's own API do."""
    package, ferro = lightning_pkgs
    values = {}
    for kind, cls in (
        ("stock", package.loggers.TensorBoardLogger),
        ("ours", ferro.TensorBoardLogger),
    ):
        logger = cls(tmp_path, name=kind, version=0)
        logger.log_hyperparams({"augment": True, "lr": 0.1})
        logger.finalize("success")
        [start] = [
            blob
            for label, _, blob in (_split(e) for e in events_of(logger.log_dir))
            if label == "_hparams_/session_start_info"
        ]
        values[kind] = dict(start.session_start_info.hparams)
    assert values["stock"]["augment"].number_value == 1.0
    assert values["ours"]["augment"].WhichOneof("kind") == "bool_value"
    assert values["ours"]["augment"].bool_value is True
    assert values["ours"]["lr"] == values["stock"]["lr"]


def test_default_hp_metric_off_writes_no_hparams(lightning_pkgs, tmp_path: Path) -> None:
    _, ferro = lightning_pkgs
    logger = ferro.TensorBoardLogger(tmp_path, version=0, default_hp_metric=False)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"loss": 1.0}, 0)
    logger.finalize("success")
    labels = [label for label, _, _ in (_split(e) for e in events_of(logger.log_dir))]
    assert labels == ["(file_version)", "loss"]
    assert "lr: 0.1" in (Path(logger.log_dir) / "hparams.yaml").read_text()


def test_writer_arguments_and_bad_input(lightning_pkgs, tmp_path: Path) -> None:
    _, ferro = lightning_pkgs
    logger = ferro.TensorBoardLogger(tmp_path, version=0, filename_suffix=".x", flush_secs=7)
    writer = logger.experiment
    assert writer.flush_secs == 7 and writer.log_dir == logger.log_dir
    logger.finalize("success")
    [path] = event_files(logger.log_dir)["."]
    assert path.name.endswith(".x")
    with pytest.raises(TypeError, match="'flush_sec'"):
        ferro.TensorBoardLogger(tmp_path, flush_sec=7)
    with pytest.raises(TypeError, match="log_dir="):
        ferro.TensorBoardLogger(tmp_path, log_dir=str(tmp_path / "elsewhere"))
    with pytest.raises(ValueError, match="save_dir='s3://bucket/logs'"):
        ferro.TensorBoardLogger("s3://bucket/logs")


# -- processes ----------------------------------------------------------------------------


def test_pickling_before_and_after_the_writer_exists(lightning_pkgs, tmp_path: Path) -> None:
    """Lightning pickles the logger into `ddp_spawn` workers; a copy carries the
    configuration, never the writer, and writes its own file in the same directory."""
    _, ferro = lightning_pkgs
    logger = ferro.TensorBoardLogger(tmp_path, name="p", version=0, max_queue=3)
    before = pickle.loads(pickle.dumps(logger))
    assert type(before) is ferro.TensorBoardLogger
    before.log_metrics({"a": 1.0}, step=0)
    before.finalize("success")
    logger.log_metrics({"a": 2.0}, step=1)  # creates the original's writer
    after = pickle.loads(pickle.dumps(logger))
    assert after._experiment is None and after.log_dir == logger.log_dir
    assert after._kwargs == {"max_queue": 3}
    after.log_metrics({"a": 3.0}, step=2)
    assert isinstance(after.experiment, ferroboard.SummaryWriter)
    assert after.experiment is not logger.experiment
    after.finalize("success")
    logger.finalize("success")
    files = event_files(logger.log_dir)["."]
    assert len(files) == 3
    values = sorted(
        (e.step, e.summary.value[0].simple_value)
        for path in files
        for e in read_events(path)
        if e.HasField("summary")
    )
    assert values == [(0, 1.0), (1, 2.0), (2, 3.0)]


def test_other_ranks_write_nothing(lightning_pkgs, tmp_path: Path, monkeypatch) -> None:
    """Under `ddp` every rank builds its own logger; the Trainer sets each process's rank
    on `rank_zero_only` (shared by both Lightning packages), and only rank 0 writes."""
    from ferroboard.integrations._lightning_logger import rank_zero_only
    from lightning.fabric.utilities.rank_zero import rank_zero_only as lightning_rank

    assert lightning_rank is rank_zero_only  # the one the logger reads
    if importlib.util.find_spec("pytorch_lightning") is not None:
        from pytorch_lightning.utilities.rank_zero import rank_zero_only as pl_rank

        assert pl_rank is rank_zero_only
    _, ferro = lightning_pkgs
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = ferro.TensorBoardLogger(tmp_path, name="r", version=0, log_graph=True)
    assert type(logger.experiment).__name__ == "_DummyExperiment"
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"a": 1.0}, step=0)
    logger.experiment.add_scalar("b", 2.0, 0)
    logger.save()
    logger.finalize("success")
    assert not (tmp_path / "r").exists()


def test_ddp_spawn_fit_on_two_cpu_processes(lightning_pkgs, children: Children) -> None:
    """The Trainer pickles the logger into 2 spawned processes (gloo); rank 0 writes the
    run's only event file, rank 1 nothing."""
    proc, where = children.wait("ddp_spawn")
    assert proc.returncode == 0, describe_run(proc)
    report = result(proc)
    assert report["world_size"] == 2
    [version_dir] = (where / "logs" / "ddp").iterdir()
    assert event_files(version_dir).keys() == {"."}
    [path] = event_files(version_dir)["."]
    assert parse_event_file_name(path.name)["pid"] != report["pid"], "written by the main process"
    labels = [label for label, _, _ in (_split(e) for e in events_of(version_dir))]
    per_rank = lightning_model.STEPS_PER_EPOCH // 2  # the sampler splits the batches
    assert labels.count("train_loss") == lightning_model.EPOCHS * per_rank
    assert labels.count("direct/epoch") == lightning_model.EPOCHS
    assert labels.count("_hparams_/session_start_info") == 1
    assert (version_dir / "hparams.yaml").is_file()


def test_fit_without_tensorboard_or_tensorboardx(lightning_pkgs, children: Children) -> None:
    """A child interpreter without the site-packages (-S) sees a copy of them without
    tensorboard and tensorboardX, and refuses to import them: Lightning's own logger
    refuses to start there; ferroboard's logs the whole fit, hparams and graph included.
    Importing ferroboard there imports no Lightning package."""
    proc, where = children.wait("no_tensorboard")
    assert proc.returncode == 0, describe_run(proc)
    report = result(proc)
    assert report["after_ferroboard"] == [], "importing ferroboard imported Lightning"
    assert "Neither `tensorboard` nor `tensorboardX`" in (report["stock_error"] or "")
    assert report["flags"] == [False, False] and report["metadata"] == [False, False]
    assert report["imported"] == [] and report["log_graph"] is True

    version_dir = where / "logs" / "notb" / "version_0"
    files = event_files(version_dir)["."]
    assert len(files) == 2  # the fit, then the writer reopened after finalize()
    split = [_split(e) for e in events_of(version_dir)]
    labels = [label for label, _, _ in split]
    steps = lightning_model.EPOCHS * lightning_model.STEPS_PER_EPOCH
    assert labels.count("train_loss") == steps
    assert labels.count("lr-SGD") == labels.count("weights/first") == lightning_model.EPOCHS
    assert labels.count("(graph_def)") == 1
    starts = [(e.step, blob) for label, e, blob in split if label == "_hparams_/session_start_info"]
    assert len(starts) == 2
    assert sorted(dict(starts[0][1].session_start_info.hparams)) == ["hidden", "lr", "optimizer"]
    step, last = starts[1]
    assert step == 99
    assert dict(last.session_start_info.hparams)["nested/depth"].number_value == 2
    assert (version_dir / "hparams.yaml").is_file()


def test_only_pytorch_lightning_installed(children: Children) -> None:
    """Without `lightning`, ferroboard.integrations.lightning offers the
    `pytorch_lightning` logger."""
    pytest.importorskip("pytorch_lightning")
    proc, _ = children.wait("without_lightning")
    assert proc.returncode == 0, describe_run(proc)
    assert result(proc) == {"same": True, "subclass": True, "lightning_imported": []}


def test_example_runs(lightning_pkgs, children: Children) -> None:
    """examples/lightning_example.py (the README's "Use it with Lightning") as a user
    runs it, in an empty directory."""
    proc, where = children.wait("example")
    assert proc.returncode == 0, describe_run(proc)
    version_dir = where / "logs" / "regressor" / "version_0"
    labels = [label for label, _, _ in (_split(e) for e in events_of(version_dir))]
    for label in ("train/loss", "hp_metric", "lr-SGD", "weights/first", "(graph_def)", "epoch"):
        assert label in labels, f"{label} missing from {sorted(set(labels))}"
    assert labels.count("weights/first") == 3
    assert labels.count("_hparams_/session_start_info") == 1
    assert "hidden: 16" in (version_dir / "hparams.yaml").read_text()
