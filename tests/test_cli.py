"""The ``ferroboard`` command: ls, export (CSV written by the core, JSON Lines, Parquet;
long, wide, aggregated), verify and its exit codes, demo, --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ferroboard
import numpy as np
import pandas as pd
import pytest
from procs import child_env
from reader_logs import write_runs


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ferroboard.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
    )


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_runs(tmp_path_factory.mktemp("cli"), "ferroboard")


def long_frame(logdir: Path) -> pd.DataFrame:
    df = ferroboard.SummaryReader(logdir, extra_columns={"dir_name", "wall_time"}).scalars
    return df.rename(columns={"dir_name": "run"})


def test_ls_lists_runs_tags_counts_and_steps(logdir: Path) -> None:
    out = run("ls", str(logdir))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("run0  (")
    assert any(
        line.split()[:5] == ["scalars", "loss", "31", "points", "steps"] and line.endswith("0..29")
        for line in lines
    )
    assert any(line.split()[:3] == ["scalars", "acc", "33"] for line in lines)
    assert any(line.split()[:3] == ["histograms", "weights", "3"] for line in lines)
    assert any(line.split()[:3] == ["text", "note/text_summary", "3"] for line in lines)
    assert any(line.startswith("run1/grp_a  (") for line in lines)
    listed = json.loads(run("ls", "--json", str(logdir)).stdout)
    loss = [r for r in listed if r["run"] == "run1" and r["tag"] == "loss"]
    assert loss[0]["points"] == 31 and loss[0]["first_wall"] == 1000.0


def test_export_long_csv_equals_the_reader(logdir: Path, tmp_path: Path) -> None:
    out = run("export", str(logdir), "-o", str(tmp_path / "all.csv"))
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(tmp_path / "all.csv", keep_default_na=False)
    want = long_frame(logdir)
    assert list(got.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert len(got) == len(want) > 100
    got_keys = list(zip(got["run"], got["tag"], got["step"]))
    want_keys = list(zip(want["run"].replace("", "."), want["tag"], want["step"]))
    assert got_keys == want_keys
    np.testing.assert_array_equal(got["wall_time"], want["wall_time"])
    # Values are printed as the float32 they were.
    np.testing.assert_array_equal(got["value"].astype(np.float32), want["value"].astype(np.float32))


def test_export_filters_json_and_parquet(logdir: Path, tmp_path: Path) -> None:
    assert (
        run(
            "export",
            str(logdir),
            "-o",
            str(tmp_path / "a.csv"),
            "--run",
            "^run0$",
            "--tag",
            "^(loss|acc)$",
        ).returncode
        == 0
    )
    csv = pd.read_csv(tmp_path / "a.csv")
    assert set(csv["run"]) == {"run0"} and set(csv["tag"]) == {"loss", "acc"}
    assert len(csv) == 31 + 33
    assert (
        run(
            "export",
            str(logdir),
            "-o",
            str(tmp_path / "a.parquet"),
            "--run",
            "^run0$",
            "--tag",
            "^(loss|acc)$",
        ).returncode
        == 0
    )
    pq = pd.read_parquet(tmp_path / "a.parquet")
    assert pq["tag"].astype(str).tolist() == csv["tag"].tolist()
    np.testing.assert_array_equal(pq["value"], csv["value"].astype(np.float32))
    assert (
        run(
            "export",
            str(logdir),
            "-o",
            str(tmp_path / "a.jsonl"),
            "--run",
            "^run0$",
            "--tag",
            "^(loss|acc)$",
        ).returncode
        == 0
    )
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["value"] for r in rows] == csv["value"].tolist()


def test_export_wide_has_one_column_per_tag(logdir: Path, tmp_path: Path) -> None:
    out = run("export", str(logdir), "-o", str(tmp_path / "w.csv"), "--wide", "--run", "^run1$")
    assert out.returncode == 0, out.stderr
    w = pd.read_csv(tmp_path / "w.csv")
    assert list(w.columns[:2]) == ["step", "wall_time"] and "run" not in w.columns
    assert {"loss", "acc"} <= set(w.columns) and "hp/metric" not in w.columns  # a sub-run
    row = w[w["step"] == 2].iloc[0]
    assert row["loss"] == pytest.approx(9.0)  # the later of the two values at step 2
    assert row["acc"] == pytest.approx(0.02)
    assert row["wall_time"] == 2000.0


def test_export_aggregate_over_runs(logdir: Path, tmp_path: Path) -> None:
    out = run(
        "export",
        str(logdir),
        "-o",
        str(tmp_path / "agg.csv"),
        "--run",
        r"^run\d$",
        "--tag",
        "^loss$",
        "--aggregate",
        "mean,std,min,max,count",
    )
    assert out.returncode == 0, out.stderr
    agg = pd.read_csv(tmp_path / "agg.csv")
    df = long_frame(logdir)
    df = df[(df["tag"] == "loss") & df["run"].isin(["run0", "run1"])]
    last = df.groupby(["run", "step"])["value"].last().reset_index()
    want = last.groupby("step")["value"].agg(["mean", "min", "max", "count"])
    want["std"] = last.groupby("step")["value"].std(ddof=0)
    assert agg["step"].tolist() == want.index.tolist()
    for col in ("mean", "std", "min", "max", "count"):
        np.testing.assert_allclose(agg[col], want[col], rtol=1e-12, err_msg=col)


def test_verify_exit_codes_name_file_and_offset(tmp_path: Path) -> None:
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for s in range(10):
            w.add_scalar("x", float(s), s)
    (path,) = tmp_path.iterdir()
    ok = run("verify", str(tmp_path))
    assert ok.returncode == 0 and ok.stdout.startswith("OK ")
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    torn = run("verify", str(tmp_path))
    assert torn.returncode == 3 and f"TORN     {path}: torn tail at byte" in torn.stdout
    offsets = [r.offset for r in ferroboard.read_events(path)]
    bad = bytearray(data)
    bad[offsets[4] + 14] ^= 1
    path.write_bytes(bytes(bad))
    damaged = run("verify", str(tmp_path))
    assert damaged.returncode == 1
    assert f"DAMAGED  {path}: bad data checksum at byte {offsets[4]}" in damaged.stdout
    assert run("ls", "--strict", str(tmp_path)).returncode == 1
    assert run("ls", str(tmp_path)).returncode == 0


def test_usage_errors_exit_2_and_help(tmp_path: Path, logdir: Path) -> None:
    missing = run("ls", str(tmp_path / "missing"))
    assert missing.returncode == 2 and "LOGDIR: no such file or directory" in missing.stderr
    bad = run("export", str(logdir), "-o", str(tmp_path / "x.csv"), "--tag", "(")
    assert bad.returncode == 2 and "--tag: invalid regular expression" in bad.stderr
    agg = run("export", str(logdir), "-o", str(tmp_path / "x.csv"), "--aggregate", "median")
    assert agg.returncode == 2 and "--aggregate" in agg.stderr
    for cmd in ("ls", "export", "verify", "demo"):
        h = run(cmd, "--help")
        assert h.returncode == 0 and "usage: ferroboard " + cmd in h.stdout
    assert "exit codes" in run("--help").stdout


def test_demo_writes_a_readable_run(tmp_path: Path) -> None:
    out = run("demo", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr
    r = ferroboard.SummaryReader(tmp_path / "demo")
    assert "y=2x" in r.get_tags("scalars")
    assert len(r.histograms) > 0
