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
import tbparse
from ferroboard.reader._values import decode_image, decode_wav
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
    hparams = [line.split(None, 2) for line in lines if line.split()[0] == "hparams"]
    assert [h[1:] for h in hparams] == [
        ["_hparams_/session_start_info", "deep=False, lr=0.1, opt=sgd"],
        ["_hparams_/session_start_info", "deep=True, lr=0.2, opt=sgd"],
    ]
    listed = json.loads(run("ls", "--json", str(logdir)).stdout)
    loss = [r for r in listed if r["run"] == "run1" and r["tag"] == "loss"]
    assert loss[0]["points"] == 31 and loss[0]["first_wall"] == 1000.0
    assert sorted(r["detail"] for r in listed if r["kind"] == "hparams") == [
        "deep=False, lr=0.1, opt=sgd",
        "deep=True, lr=0.2, opt=sgd",
    ]


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


def export_filtered(logdir: Path, out: Path) -> None:
    """`ferroboard export` of run0's loss and acc into `out` (its suffix picks the format)."""
    done = run("export", str(logdir), "-o", str(out), "--run", "^run0$", "--tag", "^(loss|acc)$")
    assert done.returncode == 0, done.stderr


def test_export_filters_json_and_parquet(logdir: Path, tmp_path: Path) -> None:
    export_filtered(logdir, tmp_path / "a.csv")
    csv = pd.read_csv(tmp_path / "a.csv")
    assert set(csv["run"]) == {"run0"} and set(csv["tag"]) == {"loss", "acc"}
    assert len(csv) == 31 + 33
    export_filtered(logdir, tmp_path / "a.parquet")
    pq = pd.read_parquet(tmp_path / "a.parquet")
    assert pq["tag"].astype(str).tolist() == csv["tag"].tolist()
    np.testing.assert_array_equal(pq["value"], csv["value"].astype(np.float32))
    export_filtered(logdir, tmp_path / "a.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["value"] for r in rows] == csv["value"].tolist()


def export_all(logdir: Path, out: Path, media: Path) -> None:
    for ext in ("csv", "jsonl", "parquet"):
        args = ["--kind", "all", "--media-dir", str(media)]
        done = run("export", str(logdir), "-o", str(out / f"all.{ext}"), *args)
        assert done.returncode == 0, done.stderr
        for kind in ("scalars", "tensors", "histograms", "text", "hparams", "images", "audio"):
            assert (out / f"all.{kind}.{ext}").exists()


def read_all(out: Path, kind: str) -> dict[str, pd.DataFrame]:
    jsonl = (out / f"all.{kind}.jsonl").read_text().splitlines()
    return {
        "csv": pd.read_csv(out / f"all.{kind}.csv", keep_default_na=False, na_values=[""]),
        "json": pd.DataFrame([json.loads(line) for line in jsonl]),
        "parquet": pd.read_parquet(out / f"all.{kind}.parquet"),
    }


def keys(df: pd.DataFrame, run: str = "run", tag: str = "tag") -> list:
    runs = df[run].astype(str).replace("", ".")
    return list(zip(runs, df[tag].astype(str), df["step"] if "step" in df else [0] * len(df)))


def test_export_every_kind_reads_back_as_tbparse_and_the_reader(
    logdir: Path, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    export_all(logdir, tmp_path, media)
    extra = {"dir_name", "wall_time"}
    theirs = tbparse.SummaryReader(str(logdir), extra_columns=extra)

    # Histograms: one row per histogram (JSON, Parquet), one per bucket (CSV).
    want = theirs.histograms
    got = read_all(tmp_path, "histograms")
    for fmt in ("json", "parquet"):
        df = got[fmt]
        assert keys(df) == keys(want, "dir_name") and len(df) > 0
        np.testing.assert_array_equal(df["wall_time"], want["wall_time"])
        for a, b in zip(df["limits"], want["limits"]):
            np.testing.assert_array_equal(np.asarray(a, np.float64), b)
        for a, b in zip(df["counts"], want["counts"]):
            np.testing.assert_array_equal(np.asarray(a, np.float64), b)
    csv = got["csv"]
    assert list(csv.columns) == ["run", "tag", "step", "wall_time", "limit", "count"]
    lengths = [len(x) for x in want["limits"]]
    assert keys(csv) == [k for k, n in zip(keys(want, "dir_name"), lengths) for _ in range(n)]
    np.testing.assert_array_equal(csv["limit"], np.concatenate(list(want["limits"])))
    np.testing.assert_array_equal(csv["count"], np.concatenate(list(want["counts"])))

    # Tensors: scalar-valued (new-style scalars) and shaped (PR curves).
    want = theirs.tensors
    got = read_all(tmp_path, "tensors")
    shaped = [np.ndim(v) > 0 for v in want["value"]]
    assert any(shaped) and not all(shaped)
    for fmt in ("json", "parquet"):
        df = got[fmt]
        assert keys(df) == keys(want, "dir_name")
        for values, strings, shape, v in zip(
            df["values"], df["strings"], df["shape"], want["value"]
        ):
            if isinstance(v, bytes):  # the custom scalars layout: a string tensor
                assert values is None and list(strings) == [v.decode()]
                continue
            want_v = np.asarray(v, np.float64)
            got_v = np.asarray(values, np.float64).reshape(np.asarray(shape, np.int64))
            np.testing.assert_array_equal(got_v, want_v)
    df = got["csv"]
    assert keys(df) == keys(want, "dir_name")
    for text, shape, v in zip(df["value"].astype(str), df["shape"].fillna(""), want["value"]):
        if isinstance(v, bytes):
            assert text == v.decode()
        elif np.ndim(v) == 0:
            assert float(text) == v and shape == ""
        else:
            np.testing.assert_array_equal(json.loads(text), np.asarray(v).reshape(-1))
            assert shape == "x".join(map(str, np.shape(v)))

    # Text.
    want = theirs.text
    for fmt, df in read_all(tmp_path, "text").items():
        assert keys(df) == keys(want, "dir_name"), fmt
        assert df["value"].tolist() == want["value"].tolist(), fmt

    # Hparams: the run, name and value (CSV and Parquet as text).
    want = theirs.hparams
    assert len(want) > 0
    want_keys = sorted(zip(want["dir_name"].replace("", "."), want["tag"]))
    for fmt, df in read_all(tmp_path, "hparams").items():
        assert sorted(zip(df["run"], df["name"])) == want_keys, fmt
        got_v = dict(zip(zip(df["run"], df["name"]), df["value"]))
        for run_, tag, value in zip(want["dir_name"].replace("", "."), want["tag"], want["value"]):
            expect = value if fmt == "json" or isinstance(value, str) else json.dumps(value)
            assert got_v[(run_, tag)] == expect, (fmt, run_, tag)

    # Images and audio: metadata rows, and the files written under --media-dir.
    ours = ferroboard.SummaryReader(
        logdir, extra_columns=extra | {"width", "height", "sample_rate", "length_frames"}
    )
    for kind, decode in (("images", decode_image), ("audio", decode_wav)):
        want = getattr(ours, kind)
        assert len(want) > 0
        for fmt, df in read_all(tmp_path, kind).items():
            assert keys(df) == keys(want, "dir_name"), (kind, fmt)
            assert (df["bytes"] > 0).all()
            cols = ("width", "height") if kind == "images" else ("sample_rate", "length_frames")
            for c in cols:
                np.testing.assert_array_equal(df[c], want[c], err_msg=f"{kind} {fmt} {c}")
            for rel, value in zip(df["file"], want["value"]):
                np.testing.assert_array_equal(decode((media / rel).read_bytes()), value)
        suffixes = {p.suffix for p in media.rglob("*") if p.is_file()}
        assert suffixes == {".png", ".wav"}

    # Scalars are what they were.
    long = pd.read_csv(tmp_path / "all.scalars.csv", keep_default_na=False)
    assert len(long) == len(long_frame(logdir))


def test_export_kind_errors(logdir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    bad = run("export", str(logdir), "-o", out, "--kind", "graphs")
    assert bad.returncode == 2 and "--kind: unknown kinds ['graphs']" in bad.stderr
    wide = run("export", str(logdir), "-o", out, "--kind", "histograms", "--wide")
    assert wide.returncode == 2 and "--kind scalars only" in wide.stderr
    media = run("export", str(logdir), "-o", out, "--media-dir", str(tmp_path / "m"))
    assert media.returncode == 2 and "--media-dir needs" in media.stderr
    one = run("export", str(logdir), "-o", out, "--kind", "text", "--run", "^run0$")
    assert one.returncode == 0, one.stderr
    text = pd.read_csv(out)
    assert list(text.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert text["run"].tolist() == ["run0"] * 3 and text["value"][2] == "step 2 of run 0"


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
