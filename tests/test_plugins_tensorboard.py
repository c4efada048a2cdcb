"""TensorBoard itself reads back what the plugin methods write: one `tensorboard` server
on 127.0.0.1 over a log directory written by ferroboard, queried through each plugin's
HTTP API (pr_curves, custom_scalars, mesh, hparams, graphs, projector)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Optional

import ferroboard
import numpy as np
import pytest
import torch
from PIL import Image

RNG = np.random.default_rng(5)
LABELS = RNG.integers(0, 2, 500)
PREDICTIONS = RNG.random(500, dtype=np.float32)
VERTICES = RNG.random((1, 30, 3)).astype(np.float32)
COLORS = RNG.integers(0, 256, (1, 30, 3), dtype=np.uint8)
FACES = RNG.integers(0, 30, (1, 10, 3), dtype=np.int32)
MAT = RNG.standard_normal((40, 6)).astype(np.float32)
LABEL_IMG = RNG.random((40, 3, 4, 4)).astype(np.float32)
STARTUP_TIMEOUT = 45


def _write_run(root: Path) -> None:
    with ferroboard.SummaryWriter(root / "main") as w:
        w.add_pr_curve("pr", LABELS, PREDICTIONS, 2, num_thresholds=11)
        w.add_custom_scalars({"losses": {"both": ["Multiline", ["loss/a", "loss/b"]]}})
        for step in range(3):
            w.add_scalar("loss/a", 1.0 / (step + 1), step)
            w.add_scalar("loss/b", 2.0 / (step + 1), step)
        w.add_mesh("mesh", VERTICES, colors=COLORS, faces=FACES, global_step=1)
        w.add_graph(torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Tanh()), torch.zeros(2, 6))
        w.add_embedding(MAT, metadata=[f"p{i}" for i in range(40)], label_img=LABEL_IMG)
        w.add_embedding(MAT * 2, tag="bin", tensor_format="binary")
    for i, (lr, aug) in enumerate([(0.1, True), (0.01, False)]):
        with ferroboard.SummaryWriter(root / f"hp{i}") as w:
            w.add_hparams({"lr": lr, "aug": aug, "opt": "adam"}, {"hp/acc": 0.5 + i}, run_name=".")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, logdir: Path) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--load_fast",
                "false",
                "--reload_interval",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        )

    def get(self, route: str, data: Optional[bytes] = None, **params: Any) -> bytes:
        url = f"http://127.0.0.1:{self.port}/data/plugin/{route}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, data=data)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.read()

    def json(self, route: str, data: Optional[bytes] = None, **params: Any) -> Any:
        return json.loads(self.get(route, data, **params))

    def wait_for(self, check: Any) -> Any:
        """Polls `check()` until it returns a truthy value (the server loads data in the
        background); fails after STARTUP_TIMEOUT seconds."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                pytest.fail(f"tensorboard exited with {self.proc.returncode}:\n{out}")
            try:
                result = check()
                if result:
                    return result
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError) as exc:
                last = exc
            time.sleep(0.5)
        pytest.fail(f"tensorboard served no data within {STARTUP_TIMEOUT} s (last: {last!r})")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    _write_run(root)
    srv = _Server(root)
    try:
        srv.wait_for(lambda: "main" in srv.json("pr_curves/tags"))
        yield srv
    finally:
        srv.stop()


def test_pr_curves(server):
    from torch.utils.tensorboard.summary import compute_curve

    data = server.json("pr_curves/pr_curves", run="main", tag="pr")["main"]
    (entry,) = data
    assert entry["step"] == 2
    expected = compute_curve(LABELS, PREDICTIONS, num_thresholds=11).astype(np.float32)
    # TensorBoard trims the tail where TP + FP = 0 (precision undefined).
    n = len(entry["precision"])
    assert 2 <= n <= 11 and not (expected[0][n:] + expected[1][n:]).any()
    np.testing.assert_allclose(entry["precision"], expected[4][:n], rtol=1e-6)
    np.testing.assert_allclose(entry["recall"], expected[5][:n], rtol=1e-6)
    assert entry["true_positives"] == expected[0][:n].astype(int).tolist()
    assert entry["false_positives"] == expected[1][:n].astype(int).tolist()


def test_custom_scalars_layout(server):
    layout = server.wait_for(lambda: server.json("custom_scalars/layout"))
    (category,) = layout["category"]
    assert category["title"] == "losses"
    assert category["chart"][0]["multiline"]["tag"] == ["loss/a", "loss/b"]


def test_mesh(server):
    meta = server.wait_for(lambda: server.json("mesh/meshes", run="main", tag="mesh", sample=0))
    by_type = {m["content_type"]: m for m in meta}
    assert set(by_type) == {1, 2, 3}  # VERTEX, FACE, COLOR
    assert by_type[1]["data_shape"] == [1, 30, 3]
    assert by_type[2]["data_shape"] == [1, 10, 3]
    assert by_type[1]["components"] == 14
    raw = server.get("mesh/data", run="main", tag="mesh", sample=0, content_type="VERTEX", step=1)
    np.testing.assert_array_equal(np.frombuffer(raw, np.float32).reshape(30, 3), VERTICES[0])
    raw = server.get("mesh/data", run="main", tag="mesh", sample=0, content_type="COLOR", step=1)
    np.testing.assert_array_equal(np.frombuffer(raw, np.uint8).reshape(30, 3), COLORS[0])
    raw = server.get("mesh/data", run="main", tag="mesh", sample=0, content_type="FACE", step=1)
    np.testing.assert_array_equal(np.frombuffer(raw, np.int32).reshape(10, 3), FACES[0])


def test_hparams(server):
    def experiment():
        exp = server.json("hparams/experiment", data=json.dumps({"experimentName": ""}).encode())
        return exp if exp.get("hparamInfos") else None

    exp = server.wait_for(experiment)
    types = {h["name"]: h["type"] for h in exp["hparamInfos"]}
    assert types == {"lr": "DATA_TYPE_FLOAT64", "aug": "DATA_TYPE_BOOL", "opt": "DATA_TYPE_STRING"}
    assert [m["name"]["tag"] for m in exp["metricInfos"]] == ["hp/acc"]
    request = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN"],
        "colParams": [{"hparam": "aug"}, {"hparam": "lr"}, {"metric": {"tag": "hp/acc"}}],
        "startIndex": 0,
        "sliceSize": 10,
    }
    groups = server.json("hparams/session_groups", data=json.dumps(request).encode())
    found = {
        (g["hparams"]["aug"], g["hparams"]["lr"]): g["metricValues"][0]["value"]
        for g in groups["sessionGroups"]
    }
    assert found == {(True, 0.1): 0.5, (False, 0.01): 1.5}


def test_graph(server):
    text = server.get("graphs/graph", run="main").decode()
    assert 'op: "aten::linear"' in text
    assert 'name: "Sequential/Linear[0]/' in text
    assert "_output_shapes" in text
    info = server.json("graphs/info")
    assert info["main"]["run_graph"] is True


def test_projector(server):
    runs = server.wait_for(lambda: server.json("projector/runs"))
    assert "main" in runs
    config = server.json("projector/info", run="main")
    names = [e["tensorName"] for e in config["embeddings"]]
    assert names == ["default:00000", "bin:00000"]
    for name, expected in (("default:00000", MAT), ("bin:00000", MAT * 2)):
        raw = server.get("projector/tensor", run="main", name=name)
        np.testing.assert_array_equal(np.frombuffer(raw, np.float32).reshape(40, 6), expected)
    metadata = server.get("projector/metadata", run="main", name="default:00000").decode()
    assert metadata.split("\n")[:3] == ["p0", "p1", "p2"]
    sprite = server.get("projector/sprite_image", run="main", name="default:00000")
    image = np.asarray(Image.open(io.BytesIO(sprite)).convert("RGB"))
    assert image.shape == (28, 28, 3)  # ceil(sqrt(40)) = 7 columns of 4 pixels
    expected = (LABEL_IMG[0].transpose(1, 2, 0).astype(np.float64) * 255).astype(np.uint8)
    np.testing.assert_array_equal(image[:4, :4], expected)
