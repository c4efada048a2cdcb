"""Parity with torch.utils.tensorboard for the plugin methods: PR curves, custom
scalars, meshes, hparams and graphs, compared event by event after decoding both files
with TensorBoard's protos.

Documented deviations asserted here:
- hparams booleans are stored as `bool_value` with type DATA_TYPE_BOOL (torch stores
  them as numbers, because its `int` check comes before its `bool` check);
- add_onnx_graph prints nothing (torch prints every node name).
"""

from __future__ import annotations

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import diff_events, diff_messages, event_files, events_of, summary_values
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_pb2
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

RNG = np.random.default_rng(1234)

# -- PR curves -----------------------------------------------------------------------------


def _curve_tensor(events):
    (value,) = summary_values(events)
    t = value.tensor
    return np.array(t.float_val, dtype=np.float32).reshape([d.size for d in t.tensor_shape.dim])


PR_CASES = {
    "f32": (RNG.integers(0, 2, 1000), RNG.random(1000, dtype=np.float32), None),
    "f64_bool_labels": (RNG.random(500) > 0.4, RNG.random(500), None),
    "f16": (RNG.integers(0, 2, 300), RNG.random(300).astype(np.float16), None),
    "edges_and_out_of_range": (
        np.array([1, 0, 1, 0, 1, 1, 0, 1]),
        np.array([0.0, 1.0, 0.5, -0.2, 1.7, np.nan, 0.999, 1 / 126], dtype=np.float32),
        None,
    ),
    "scalar_weight": (RNG.integers(0, 2, 200), RNG.random(200, dtype=np.float32), 0.3),
    # More than numpy's 65,536-element histogram block, with fractional weights: the
    # float64 sums must be added in numpy's order to be bit-identical.
    "blocked_weights": (
        RNG.integers(0, 2, 200_003),
        RNG.random(200_003, dtype=np.float32),
        RNG.random(200_003),
    ),
    "int_predictions": (np.array([1, 0, 1]), np.array([0, 1, 1]), None),
    # Labels of small integers are snapshotted as int8 whatever their dtype; these
    # check that every kind of label still gives torch's curve.
    "i32_labels": (RNG.integers(0, 2, 999).astype(np.int32), RNG.random(999), None),
    "f32_labels": (RNG.integers(0, 2, 999).astype(np.float32), RNG.random(999), 2.0),
    "f64_labels_negative_zero": (
        np.array([1.0, -0.0, 0.0, 1.0, -0.0]),
        np.array([0.2, 0.4, 0.6, 0.8, 0.1]),
        None,
    ),
    "fractional_labels": (RNG.random(500), RNG.random(500), None),
    "labels_beyond_int8": (RNG.integers(0, 2, 500) * 300, RNG.random(500), None),
    # Counted in parallel when close() waits for it (2 chunks and more).
    "counted_in_parallel_at_close": (
        RNG.integers(0, 2, 100_000),
        RNG.random(100_000, dtype=np.float32),
        None,
    ),
    "large_u64_labels": (
        RNG.integers(0, 2, 300_001).astype(np.uint64),
        RNG.random(300_001, dtype=np.float32),
        None,
    ),
}


@pytest.mark.parametrize("case", PR_CASES.values(), ids=PR_CASES.keys())
def test_add_pr_curve(parity, case):
    labels, predictions, weights = case

    def calls(w):
        w.add_pr_curve("pr", labels, predictions, 3, weights=weights)
        w.add_pr_curve("pr/small", labels, predictions, 4, num_thresholds=5, weights=weights)

    ferro, _ = parity.check(calls)
    values = summary_values(ferro["."][0])
    assert [v.tag for v in values] == ["pr", "pr/small"]
    assert values[0].metadata.plugin_data.plugin_name == "pr_curves"
    data = pr_pb2.PrCurvePluginData.FromString(values[1].metadata.plugin_data.content)
    assert data.num_thresholds == 5


def test_add_pr_curve_torch_tensors_and_cap(parity):
    labels = torch.randint(0, 2, (400,))
    predictions = torch.rand(400)

    def calls(w):
        w.add_pr_curve("t", labels, predictions, global_step=torch.tensor(7), num_thresholds=1000)
        w.add_pr_curve("w", labels, predictions, walltime=1.5e9, num_thresholds=2)

    ferro, _ = parity.check(calls, compare_wall_time=False)
    events = ferro["."][0]
    (value,) = summary_values([events[1]])
    assert events[1].step == 7
    assert [d.size for d in value.tensor.tensor_shape.dim] == [6, 127]
    assert events[2].wall_time == 1.5e9


def test_add_pr_curve_raw(parity):
    n = 50
    tp = np.sort(RNG.integers(0, 100, n))[::-1].copy()
    fp = np.sort(RNG.integers(0, 100, n))[::-1].astype(np.int32)
    tn, fn = 100 - fp, 100 - tp
    precision = (tp / np.maximum(1, tp + fp)).astype(np.float32)
    recall = tp / 100.0

    def calls(w):
        w.add_pr_curve_raw("raw", tp, fp, tn, fn, precision, recall, 2, num_thresholds=n)
        w.add_pr_curve_raw("raw_cap", tp, fp, tn, fn, precision, recall, num_thresholds=500)

    parity.check(calls)


def test_pr_curve_bad_input():
    import ferroboard

    with ferroboard.SummaryWriter(write_to_disk=False) as w:
        w.add_pr_curve("x", [1, 0], [0.5])  # disabled writer: no checks, no files
    import tempfile

    with tempfile.TemporaryDirectory() as d, ferroboard.SummaryWriter(d) as w:
        with pytest.raises(ValueError, match="same number of elements"):
            w.add_pr_curve("x", np.ones(3), np.ones(4))
        with pytest.raises(ValueError, match="num_thresholds must be at least 1"):
            w.add_pr_curve("x", np.ones(3), np.ones(3), num_thresholds=0)
        with pytest.raises(ValueError, match="weights"):
            w.add_pr_curve("x", np.ones(3), np.ones(3), weights=np.ones(2))
        with pytest.raises(TypeError, match="tag"):
            w.add_pr_curve(3, np.ones(3), np.ones(3))
        with pytest.raises(ValueError, match="same length"):
            w.add_pr_curve_raw("r", [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1])


def test_pr_curve_matches_torch_compute_curve_on_random_inputs():
    """The curve itself (float64, before the float32 proto) against torch's function."""
    from ferroboard import summary
    from torch.utils.tensorboard.summary import compute_curve

    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 3000))
        t = int(rng.integers(2, 128))
        labels = rng.integers(0, 2, n)
        predictions = rng.random(n).astype(rng.choice([np.float32, np.float64]))
        weights = rng.random(n) if rng.random() < 0.5 else None
        ours = summary.compute_curve(labels, predictions, t, weights)
        theirs = compute_curve(labels, predictions, num_thresholds=t, weights=weights)
        np.testing.assert_array_equal(ours, theirs)


# -- custom scalars ------------------------------------------------------------------------


def test_custom_scalars(parity):
    layout = {
        "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
        "USA": {
            "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
            "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
            "other": ["anything else is multiline", ["x"]],
        },
        "ünïcode": {},
    }

    def calls(w):
        w.add_custom_scalars(layout)
        w.add_custom_scalars_multilinechart(["a", "b"])
        w.add_custom_scalars_multilinechart(["c"], category="cat", title="t")
        w.add_custom_scalars_marginchart(["v", "lo", "hi"], category="m", title="mt")

    ferro, _ = parity.check(calls)
    values = summary_values(ferro["."][0])
    assert {v.tag for v in values} == {"custom_scalars__config__"}


def test_custom_scalars_bad_input(tmp_path):
    import ferroboard

    with ferroboard.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="exactly 3 tags"):
            w.add_custom_scalars({"c": {"t": ["Margin", ["a", "b"]]}})
        with pytest.raises(ValueError, match="3 tags"):
            w.add_custom_scalars_marginchart(["a", "b"])
        with pytest.raises(TypeError, match="layout"):
            w.add_custom_scalars([("c", {})])
        with pytest.raises(TypeError, match="list of str"):
            w.add_custom_scalars({"c": {"t": ["Multiline", "abc"]}})


# -- mesh ----------------------------------------------------------------------------------

VERTICES = torch.as_tensor(
    [[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]], dtype=torch.float
).unsqueeze(0)
COLORS = torch.as_tensor(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]], dtype=torch.int
).unsqueeze(0)
FACES = torch.as_tensor([[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]], dtype=torch.int).unsqueeze(0)


def test_add_mesh(parity):
    config = {
        "camera": {"cls": "PerspectiveCamera", "fov": 75},
        "lights": [{"cls": "AmbientLight", "color": "#ffffff", "intensity": 0.75}],
        "material": {"cls": "PointsMaterial", "size": 0.1},
    }
    cloud = RNG.random((2, 100, 3)).astype(np.float64)

    def calls(w):
        w.add_mesh("my_mesh", vertices=VERTICES, colors=COLORS, faces=FACES)
        w.add_mesh("cloud", cloud, config_dict=config, global_step=5)
        w.add_mesh("v_and_faces", VERTICES.numpy(), faces=FACES.numpy(), global_step=6)
        w.add_mesh("colors_only_with_vertices", VERTICES, colors=COLORS.to(torch.uint8))

    ferro, _ = parity.check(calls)
    tags = [v.tag for v in summary_values(ferro["."][0])]
    assert tags[:3] == ["my_mesh_VERTEX", "my_mesh_FACE", "my_mesh_COLOR"]


def test_add_mesh_bad_shapes(tmp_path):
    import ferroboard

    with ferroboard.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"vertices must have shape \(B, N, 3\)"):
            w.add_mesh("m", np.zeros((4, 3)))
        with pytest.raises(ValueError, match="colors"):
            w.add_mesh("m", np.zeros((1, 4, 3)), colors=np.zeros((1, 4, 4)))
        with pytest.raises(TypeError, match="config_dict"):
            w.add_mesh("m", np.zeros((1, 4, 3)), config_dict={"x": object()})


# -- hparams -------------------------------------------------------------------------------


def _hparams_comparable(events):
    """Events with each hparams plugin content decoded (protobuf map order on the wire
    is unspecified, so the bytes may differ where the messages are equal)."""
    out = []
    for event in events:
        content = None
        if event.HasField("summary"):
            meta = event.summary.value[0].metadata.plugin_data
            if meta.plugin_name == "hparams":
                content = plugin_data_pb2.HParamsPluginData.FromString(meta.content)
                event = type(event).FromString(event.SerializeToString())
                event.summary.value[0].metadata.plugin_data.content = b""
        out.append((event, content))
    return out


def _assert_hparams_runs_equal(ferro_dir, torch_dir, run):
    ours = _hparams_comparable(events_of(ferro_dir, run))
    theirs = _hparams_comparable(events_of(torch_dir, run))
    assert len(ours) == len(theirs)
    for (a, ac), (e, ec) in zip(ours, theirs):
        assert not diff_events([a], [e])
        assert (ac is None) == (ec is None)
        if ac is not None:
            assert not diff_messages(ac, ec), diff_messages(ac, ec)


def test_add_hparams_torch_signature(parity):
    """Numbers, strings, tensors, None (skipped), discrete domains, metrics, step."""

    def calls(w):
        w.add_hparams(
            {"lr": 0.1, "bsize": 4, "opt": "adam", "skip": None, "t": torch.tensor([3.5, 1.0])},
            {"hparam/accuracy": 10.0, "hparam/loss": torch.tensor(0.25)},
            hparam_domain_discrete={"opt": ["adam", "sgd"], "bsize": [4, 8, 16]},
            run_name="run1",
            global_step=3,
        )
        w.add_hparams({"lr": 0.2}, {"hparam/accuracy": 11.0}, run_name="run2")
        w.add_scalar("main", 1.0)

    torch_dir, ferro_dir = parity.dirs()
    with TorchSummaryWriter(str(torch_dir)) as w:
        calls(w)
    with ferroboard.SummaryWriter(str(ferro_dir)) as w:
        calls(w)
    assert sorted(event_files(ferro_dir)) == [".", "run1", "run2"] == sorted(event_files(torch_dir))
    for run in (".", "run1", "run2"):
        _assert_hparams_runs_equal(ferro_dir, torch_dir, run)
    events = events_of(ferro_dir, "run1")
    tags = [v.tag for e in events for v in e.summary.value]
    assert tags == [
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        "hparam/accuracy",
        "hparam/loss",
    ]
    assert all(e.step == 3 for e in events[1:])


def test_add_hparams_bools_are_bools(parity):
    """Documented deviation: torch stores True as number_value 1.0 with type FLOAT64."""

    def calls(w, extra=True):
        w.add_hparams(
            {"aug": True, "lr": 0.5, **({"np_bool": np.bool_(False)} if extra else {})},
            {"m": 1.0},
            hparam_domain_discrete={"aug": [True, False]},
            run_name="r",
        )

    ours = parity.ferro_events(calls, run="r")
    # torch rejects numpy booleans: its call leaves that one out.
    theirs = parity.torch_events(lambda w: calls(w, extra=False), run="r")
    exp = plugin_data_pb2.HParamsPluginData.FromString(
        ours[1].summary.value[0].metadata.plugin_data.content
    ).experiment
    types = {h.name: h.type for h in exp.hparam_infos}
    assert types == {"aug": 2, "lr": 3, "np_bool": 2}  # BOOL, FLOAT64, BOOL
    aug = next(h for h in exp.hparam_infos if h.name == "aug")
    assert [v.bool_value for v in aug.domain_discrete.values] == [True, False]
    ssi = plugin_data_pb2.HParamsPluginData.FromString(
        ours[2].summary.value[0].metadata.plugin_data.content
    ).session_start_info
    assert ssi.hparams["aug"].WhichOneof("kind") == "bool_value"
    assert ssi.hparams["aug"].bool_value is True
    assert ssi.hparams["np_bool"].bool_value is False
    assert ssi.hparams["lr"].number_value == 0.5
    # torch (the oracle of the deviation): a number.
    torch_ssi = plugin_data_pb2.HParamsPluginData.FromString(
        theirs[2].summary.value[0].metadata.plugin_data.content
    ).session_start_info
    assert torch_ssi.hparams["aug"].number_value == 1.0


def test_add_hparams_tensorboardx_signature(tmp_path):
    """tensorboardX's `(hparam_dict, metric_dict, name, global_step)`: no step on the
    three hparams values in tensorboardX; ferroboard gives them the step, as torch."""
    import ferroboard

    with ferroboard.SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "act": torch.relu}, {"acc": 0.9}, "tbx_run", 4)
        w.add_hparams({"lr": 0.2}, {"acc": 0.8}, name="named", global_step=5)
    events = events_of(tmp_path, "tbx_run")
    assert [e.step for e in events[1:]] == [4, 4, 4, 4]
    ssi = plugin_data_pb2.HParamsPluginData.FromString(
        events[2].summary.value[0].metadata.plugin_data.content
    ).session_start_info
    assert ssi.hparams["act"].string_value == "relu"  # tensorboardX's rule for callables
    assert events[4].summary.value[0].simple_value == pytest.approx(0.9)
    assert [e.step for e in events_of(tmp_path, "named")[1:]] == [5, 5, 5, 5]


def test_add_hparams_bad_input(tmp_path):
    import ferroboard

    with ferroboard.SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="hparam_dict"):
            w.add_hparams([("lr", 1)], {})
        with pytest.raises(ValueError, match=r"hparam_dict\['x'\]"):
            w.add_hparams({"x": [1, 2]}, {})
        with pytest.raises(TypeError, match="not a key of hparam_dict"):
            w.add_hparams({"x": 1}, {}, {"y": [1]})
        with pytest.raises(TypeError, match="same type"):
            w.add_hparams({"x": "a"}, {}, {"x": ["a", 1]})
        with pytest.raises(ValueError, match="disagree"):
            w.add_hparams({"x": 1}, {}, run_name="a", name="b")


# -- graphs --------------------------------------------------------------------------------


class _Block(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.Sequential(_Block(3), _Block(4))
        self.head = torch.nn.Linear(4 * 8 * 8, 10)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x, y):
        h = self.blocks(x).flatten(1)
        return self.dropout(self.head(h)) + y, h.mean()


GRAPH_MODELS = {
    "linear": (lambda: torch.nn.Linear(3, 5), lambda: torch.zeros(2, 3)),
    "sequential": (
        lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)),
        lambda: torch.rand(8, 3),
    ),
    "nested_two_inputs_two_outputs": (_Net, lambda: (torch.rand(2, 3, 8, 8), torch.rand(2, 10))),
}


def _graph_comparable(events):
    """Events with `graph_def` decoded (protobuf map order on the wire is unspecified:
    NodeDef.attr bytes may differ where the graphs are equal)."""
    out = []
    for event in events:
        graph = None
        if event.HasField("graph_def"):
            graph = GraphDef.FromString(event.graph_def)
            event = type(event).FromString(event.SerializeToString())
            event.ClearField("graph_def")
            event.graph_def = b""
        out.append((event, graph))
    return out


def _graph_parity(parity, calls):
    torch_dir, ferro_dir = parity.dirs()
    with TorchSummaryWriter(str(torch_dir)) as w:
        calls(w)
    with ferroboard.SummaryWriter(str(ferro_dir)) as w:
        calls(w)
    ours = _graph_comparable(events_of(ferro_dir))
    theirs = _graph_comparable(events_of(torch_dir))
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for (a, ag), (e, eg) in zip(ours, theirs):
        assert not diff_events([a], [e]), diff_events([a], [e])
        assert (ag is None) == (eg is None)
        if ag is not None:
            # Same nodes in the same order: names, ops, inputs, every attribute.
            assert [n.name for n in ag.node] == [n.name for n in eg.node]
            assert not diff_messages(ag, eg), "\n".join(diff_messages(ag, eg)[:20])
    return [e for e, _ in ours], [g for _, g in ours if g is not None]


@pytest.mark.parametrize("case", GRAPH_MODELS.values(), ids=GRAPH_MODELS.keys())
def test_add_graph(parity, case):
    make_model, make_input = case
    torch.manual_seed(0)
    model, inputs = make_model(), make_input()
    model.train()

    def calls(w):
        w.add_graph(model, inputs)

    events, graphs = _graph_parity(parity, calls)
    assert len(events) == 3 and len(graphs) == 1  # header, graph_def, run metadata
    assert events[2].tagged_run_metadata.tag == "step1"
    assert len(graphs[0].node) > 2
    assert model.training, "add_graph must restore the training mode"


def test_add_graph_node_names(tmp_path):
    """A readable check of what parity also proves: scoped names, ops, attributes."""
    with ferroboard.SummaryWriter(tmp_path) as w:
        w.add_graph(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()), torch.zeros(2, 3))
    graph = GraphDef.FromString(events_of(tmp_path)[1].graph_def)
    nodes = {n.name: n for n in graph.node}
    inputs = [n for n in graph.node if n.name.startswith("input/")]
    assert len(inputs) == 1 and inputs[0].op == "IO Node"
    assert "output/output.1" in nodes
    linear = [n for n in graph.node if n.op == "aten::linear"]
    assert len(linear) == 1 and linear[0].name.startswith("Sequential/Linear[0]/")
    shapes = linear[0].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shapes.dim] == [2, 4]
    assert graph.versions.producer == 22


def test_add_onnx_graph(parity, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    gemm = helper.make_node("Gemm", ["y", "w", "b"], ["z"], alpha=0.5, transB=1)
    graph = helper.make_graph(
        [node, gemm],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))

    def calls(w):
        w.add_onnx_graph(str(path))

    capsys.readouterr()
    events, graphs = _graph_parity(parity, calls)
    assert len(events) == 2  # header + graph_def, no run metadata
    assert [n.op for n in graphs[0].node] == ["Variable"] * 4 + ["Relu", "Gemm"]
    out = capsys.readouterr().out
    assert out.count("\n") == 6  # torch printed its 6 node names; ferroboard nothing


def test_add_openvino_graph_matches_tensorboardx(tmp_path):
    import tensorboardX

    xml = tmp_path / "model.xml"
    xml.write_text(
        '<net name="n" version="10"><layers>'
        '<layer id="0" name="input" type="Parameter"/>'
        '<layer id="1" name="conv" type="Convolution"/>'
        '<layer id="2" name="relu" type="ReLU"/>'
        "</layers><edges>"
        '<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>'
        '<edge from-layer="1" from-port="1" to-layer="2" to-port="0"/>'
        "</edges></net>"
    )
    with ferroboard.SummaryWriter(tmp_path / "ours") as w:
        w.add_openvino_graph(str(xml))
    with tensorboardX.SummaryWriter(str(tmp_path / "theirs")) as w:
        w.add_openvino_graph(str(xml))
    ours = GraphDef.FromString(events_of(tmp_path / "ours")[1].graph_def)
    theirs = GraphDef.FromString(events_of(tmp_path / "theirs")[1].graph_def)
    assert not diff_messages(ours, theirs)
    assert [(n.name, list(n.input)) for n in ours.node] == [("conv", ["input"]), ("relu", ["conv"])]
