"""ferroboard's `TensorBoardCallback` for transformers' `Trainer`, against the stock one.

The same tiny CPU run (tests/transformers_tiny.py) is made once with transformers' own
callback (torch's writer) and once with ferroboard's, each in a child process: the tags,
their steps and every deterministic value must be equal, and with ferroboard the
`evaluate()` and `log()` calls after `train()` must land in the run's one event file, with
no torch or tensorboardX writer module ever imported. Skipped only when transformers is
not importable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import ferroboard  # noqa: E402
from eventfiles import event_files, read_events, same_float  # noqa: E402
from ferroboard.integrations.transformers import TensorBoardCallback  # noqa: E402
from transformers import TrainerControl, TrainerState, TrainingArguments  # noqa: E402

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parent / "examples" / "transformers_example.py"
TINY_RUN = TESTS / "transformers_tiny.py"
CHILD_TIMEOUT = 300
# Time measurements: their values differ between any two runs.
TIMED = ("runtime", "_per_second")
STEPS = 8  # tests/transformers_tiny.py: 2 epochs of 4 steps


def tag_events(logdir: Path) -> dict[str, list[tuple[int, object]]]:
    """tag -> [(step, scalar value or text bytes)] over every event file under `logdir`."""
    table: dict[str, list[tuple[int, object]]] = {}
    for paths in event_files(logdir).values():
        for path in paths:
            for event in read_events(path):
                for value in event.summary.value:
                    if value.HasField("simple_value"):
                        content: object = value.simple_value
                    else:
                        content = b"".join(value.tensor.string_val)
                    table.setdefault(value.tag, []).append((event.step, content))
    return table


def one_event_file(root: Path) -> Path:
    files = [p for paths in event_files(root).values() for p in paths]
    assert len(files) == 1, f"expected one event file under {root}, found {files}"
    return files[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both runs, in parallel child processes: kind -> paths and the child's report."""
    root = tmp_path_factory.mktemp("transformers")
    children = {}
    for kind in ("stock", "ferroboard"):
        out, log = root / kind / "output", root / kind / "logs"
        proc = subprocess.Popen(
            [sys.executable, str(TINY_RUN), kind, str(out), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children[kind] = (proc, root / kind, log)
    results = {}
    for kind, (proc, run_root, log) in children.items():
        stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT)
        assert proc.returncode == 0, f"{kind} run failed:\n{stderr[-4000:]}"
        report = json.loads(stdout.strip().splitlines()[-1])
        results[kind] = {"root": run_root, "log": log, "report": report}
    return results


def test_tags_steps_and_values_equal_the_stock_callbacks(runs: dict) -> None:
    stock = tag_events(runs["stock"]["log"])
    ferro = tag_events(runs["ferroboard"]["log"])
    assert sorted(ferro) == sorted(stock)
    # The run logs what the comparison is about: text summaries, training, evaluation
    # (each epoch and after train()), and the predict metrics logged after train().
    texts = ("args/text_summary", "model_config/text_summary")
    for tag in (*texts, "train/loss", "train/train_loss", "eval/loss", "test/loss"):
        assert tag in stock, f"{tag} missing from the stock run: {sorted(stock)}"
    assert len(stock["train/loss"]) == STEPS
    compared = 0
    for tag, expected in stock.items():
        actual = ferro[tag]
        assert [s for s, _ in actual] == [s for s, _ in expected], f"steps of {tag}"
        if tag.endswith(TIMED) or tag == "args/text_summary":  # args: each run's own dirs
            continue
        for (step, a), (_, e) in zip(actual, expected):
            same = same_float(a, e) if isinstance(e, float) else a == e
            assert same, f"{tag} at step {step}: ferroboard {a!r}, stock {e!r}"
            compared += 1
    assert compared >= 2 * STEPS  # losses, learning rates, gradient norms, epochs ...


def test_evaluate_after_train_lands_in_the_same_ferroboard_file(runs: dict) -> None:
    run = runs["ferroboard"]
    report = run["report"]
    # The callback never imported a torch or tensorboardX writer module.
    assert report["imported"] == []
    assert report["writer"] == "ferroboard.writer"
    assert report["writer_logdir"] == str(run["log"])
    # One file for the whole run (output dir included), holding what was logged
    # after train(): the third evaluation and the predict metrics.
    path = one_event_file(run["root"])
    assert path.parent == run["log"]
    table = tag_events(run["log"])
    assert [s for s, _ in table["eval/loss"]] == [STEPS // 2, STEPS, STEPS]
    assert [s for s, _ in table["test/loss"]] == [STEPS]
    # The stock callback reopened a torch writer after train() (a second file).
    assert runs["stock"]["report"]["writer"] == "torch.utils.tensorboard.writer"


def test_the_readme_example_runs_and_logs_through_ferroboard(tmp_path: Path) -> None:
    # Run as a user would (python examples/transformers_example.py) in a fresh
    # directory, then report which writer modules the process imported.
    code = (
        "import json, runpy, sys\n"
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n"
        "print(json.dumps([m for m in ('torch.utils.tensorboard', 'tensorboardX')"
        " if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    path = one_event_file(tmp_path)
    assert path.parent == tmp_path / "runs" / "tiny"
    table = tag_events(tmp_path / "runs" / "tiny")
    # 64 samples in batches of 8 for 2 epochs: 16 steps, each logged.
    assert [s for s, _ in table["train/loss"]] == list(range(1, 17))
    assert [s for s, _ in table["eval/loss"]] == [8, 16, 16]  # 2 epochs + evaluate()
    assert all(isinstance(v, float) and v > 0 for _, v in table["train/loss"])
    assert "args/text_summary" in table


# -- the callback driven directly, with real TrainingArguments and TrainerState ------------


def _args(tmp_path: Path) -> TrainingArguments:
    return TrainingArguments(output_dir=str(tmp_path / "output"), report_to="none")


def test_a_passed_writer_is_flushed_at_train_end_and_kept(tmp_path: Path) -> None:
    args, state, control = _args(tmp_path), TrainerState(), TrainerControl()
    writer = ferroboard.SummaryWriter(tmp_path / "mine")
    callback = TensorBoardCallback(writer)
    callback.on_train_begin(args, state, control)
    state.global_step = 3
    callback.on_log(args, state, control, logs={"loss": 0.5})
    callback.on_train_end(args, state, control)
    # Flushed: the training events are in the file before anything is closed.
    assert "train/loss" in tag_events(tmp_path / "mine")
    assert callback.tb_writer is writer
    callback.on_log(args, state, control, logs={"eval_loss": 0.25})
    writer.close()
    assert one_event_file(tmp_path).parent == tmp_path / "mine"
    assert tag_events(tmp_path / "mine")["eval/loss"] == [(3, 0.25)]


def test_evaluate_before_train_logs_under_the_output_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    args, state, control = _args(tmp_path), TrainerState(), TrainerControl()
    callback = TensorBoardCallback()
    callback.on_log(args, state, control, logs={"eval_loss": 0.25})
    callback.tb_writer.close()
    path = one_event_file(tmp_path)
    # transformers' default run directory, {output_dir}/runs/{date}_{host}, not ./runs.
    assert path.parent.parent == tmp_path / "output" / "runs"
    assert tag_events(path.parent)["eval/loss"] == [(0, 0.25)]


def test_each_hyperparameter_search_trial_gets_its_own_writer(tmp_path: Path) -> None:
    args, control = _args(tmp_path), TrainerControl()
    callback = TensorBoardCallback(log_dir=tmp_path / "logs")
    dirs = []
    for trial, loss in (("trial-a", 1.0), ("trial-b", 2.0)):
        state = TrainerState(is_hyper_param_search=True, trial_name=trial)
        callback.on_train_begin(args, state, control)
        callback.on_log(args, state, control, logs={"loss": loss})
        callback.on_train_end(args, state, control)
        dirs.append(Path(callback.tb_writer.get_logdir()))
    callback.tb_writer.close()
    assert [d.name for d in dirs] == ["trial-a", "trial-b"]
    for d, loss in zip(dirs, (1.0, 2.0)):
        assert one_event_file(d).parent == d
        assert tag_events(d)["train/loss"] == [(0, loss)]


def test_log_dir_argument_and_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "from-env"))
    args, state, control = _args(tmp_path), TrainerState(), TrainerControl()
    for callback, expected in (
        (TensorBoardCallback(), tmp_path / "from-env"),
        (TensorBoardCallback(log_dir=tmp_path / "explicit"), tmp_path / "explicit"),
    ):
        callback.on_train_begin(args, state, control)
        assert callback.tb_writer.get_logdir() == str(expected)
        assert isinstance(callback.tb_writer, ferroboard.SummaryWriter)
        callback.tb_writer.close()


def test_bad_arguments_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"tb_writer must be a SummaryWriter.*got int"):
        TensorBoardCallback(42)
    with ferroboard.SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match=r"pass tb_writer or log_dir, not both.*log_dir='x'"):
            TensorBoardCallback(writer, log_dir="x")
    with pytest.raises(TypeError, match=r"log_dir must be a str or os.PathLike, got int"):
        TensorBoardCallback(log_dir=3)
    with pytest.raises(ValueError, match="log_dir must not be empty"):
        TensorBoardCallback(log_dir="")


def test_importing_ferroboard_does_not_import_transformers() -> None:
    code = (
        "import sys, ferroboard, ferroboard.integrations\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=CHILD_TIMEOUT)
