"""`FileWriter.add_graph` / `add_onnx_graph` write the events torch's FileWriter writes."""

from __future__ import annotations

import ferroboard
import pytest
from eventfiles import events_of
from tensorboard.compat.proto import graph_pb2, node_def_pb2, step_stats_pb2
from tensorboard.compat.proto.config_pb2 import RunMetadata
from torch.utils.tensorboard.writer import FileWriter as TorchFileWriter


def _profile():
    graph = graph_pb2.GraphDef(
        node=[
            node_def_pb2.NodeDef(name="a", op="Const"),
            node_def_pb2.NodeDef(name="b", op="Neg", input=["a"]),
        ]
    )
    stats = RunMetadata(
        step_stats=step_stats_pb2.StepStats(
            dev_stats=[step_stats_pb2.DeviceStepStats(device="/device:CPU:0")]
        )
    )
    return graph, stats


def _without_wall_time(events):
    out = []
    for e in events[1:]:  # the header is compared elsewhere
        e.wall_time = 0
        out.append(e.SerializeToString(deterministic=True))
    return out


@pytest.mark.parametrize("method", ["add_graph", "add_onnx_graph"])
def test_graph_events_equal_torch(tmp_path, method):
    graph, stats = _profile()
    arg = (graph, stats) if method == "add_graph" else graph
    for name, cls in (("torch", TorchFileWriter), ("ferro", ferroboard.FileWriter)):
        w = cls(str(tmp_path / name))
        getattr(w, method)(arg, walltime=5.0)
        w.close()
    ferro, torch_events = events_of(tmp_path / "ferro"), events_of(tmp_path / "torch")
    assert len(ferro) == len(torch_events) == (3 if method == "add_graph" else 2)
    assert all(e.wall_time == 5.0 for e in ferro[1:])
    assert _without_wall_time(ferro) == _without_wall_time(torch_events)


def test_add_graph_rejects_a_single_proto(tmp_path):
    w = ferroboard.FileWriter(str(tmp_path))
    with pytest.raises(TypeError, match="graph_profile"):
        w.add_graph(_profile()[0])
    w.close()
