"""Model graphs: a traced PyTorch model or an ONNX file as TensorBoard graph nodes.

`torch_graph_nodes` reproduces torch's `_pytorch_graph.graph` (node names with module
scopes, ops as JIT kinds, `_output_shapes` and the stringified JIT attributes) and
`onnx_graph_nodes` torch's and tensorboardX's ONNX parser, without depending on
TensorBoard's protos: nodes are plain tuples that the Rust core turns into a GraphDef.

A node is `(name, op, inputs, [(attr_key, kind, value)])` with kind "s" (bytes),
"type" (int), "shape" (dims) or "shapes" (list of dims).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any, Optional

Node = tuple  # (name, op, inputs, attrs)

_GETATTR_KIND = "prim::GetAttr"
_CLASSTYPE_KIND = "ClassType"


class _GraphNode:
    """One entry of the graph being built: an input/output, or an op's output value."""

    __slots__ = ("name", "inputs", "scope", "size", "kind", "attributes", "io")

    def __init__(
        self,
        name: str,
        inputs: list,
        scope: Optional[str],
        size: Optional[list],
        kind: str,
        attributes: str = "",
        io: Optional[str] = None,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.scope = scope
        self.size = size
        self.kind = kind
        self.attributes = attributes
        self.io = io


class _OpNode:
    """A JIT node: its scope, kind, attributes and input/output value names."""

    __slots__ = ("scope", "kind", "attributes", "inputs", "outputs", "output_sizes")

    def __init__(self, node: Any) -> None:
        self.scope = node.scopeName()
        self.kind = node.kind()
        attrs = {k: getattr(node, node.kindOf(k))(k) for k in node.attributeNames()}
        # torch replaces single quotes, which confuse TensorBoard's graph view.
        self.attributes = str(attrs).replace("'", " ")
        self.inputs = [v.debugName() for v in node.inputs()]
        self.outputs = [v.debugName() for v in node.outputs()]
        self.output_sizes = [
            v.type().sizes() if v.isCompleteTensor() else None for v in node.outputs()
        ]


def _value_size(value: Any) -> Optional[list]:
    """An input or output value's sizes; [1] where it has none (torch's fallback)."""
    try:
        return value.type().sizes()
    except (RuntimeError, AttributeError):
        return [1]


def _traced_name(module: Any) -> str:
    import torch

    if isinstance(module, torch.jit.TracedModule):
        return module._name
    return getattr(module, "original_name", "Module")


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    import torch

    if isinstance(model, torch.jit.ScriptFunction):
        yield
        return
    training = model.training
    model.train(False)
    try:
        yield
    finally:
        model.train(training)


def torch_graph_nodes(
    model: Any, input_to_model: Any = None, verbose: bool = False, use_strict_trace: bool = True
) -> list[Node]:
    """Traces `model` (in eval mode) and returns its graph nodes as torch names them."""
    import torch

    with _eval_mode(model):
        trace = torch.jit.trace(model, input_to_model, strict=use_strict_trace)
        graph = trace.graph
        torch._C._jit_pass_inline(graph)
    if verbose:
        print(graph)
    return _parse(graph, trace)


def _parse(graph: Any, trace: Any) -> list[Node]:
    io_nodes: dict[str, _GraphNode] = {}
    for value in graph.inputs():
        if len(value.uses()) == 0:
            continue  # torch omits unused inputs
        if value.type().kind() != _CLASSTYPE_KIND:
            name = value.debugName()
            io_nodes[name] = _GraphNode(name, [], None, _value_size(value), "IO Node", io="input")

    ops: list[_OpNode] = []
    attr_to_scope: dict[str, str] = {}
    for node in graph.nodes():
        if node.kind() == _GETATTR_KIND:
            attr_name = node.s("name")
            attr_key = node.output().debugName()
            parent = node.input().node()
            if parent.kind() == _GETATTR_KIND:
                parent_scope = attr_to_scope[parent.output().debugName()]
                attr_scope = parent_scope.split("/")[-1]
                attr_to_scope[attr_key] = f"{parent_scope}/{attr_scope}.{attr_name}"
            else:
                attr_to_scope[attr_key] = f"__module.{attr_name}"
            if node.output().type().kind() != _CLASSTYPE_KIND:
                op = _OpNode(node)
                op.scope = attr_to_scope[attr_key]
                ops.append(op)
        else:
            ops.append(_OpNode(node))

    for i, value in enumerate(graph.outputs()):
        name = f"output.{i + 1}"
        io_nodes[name] = _GraphNode(
            name, [value.debugName()], None, _value_size(value), "IO Node", io="output"
        )

    # Module aliases (__module.layer1.0) become class names with attribute names.
    alias_to_name = {}
    base_name = _traced_name(trace)
    for alias, module in trace.named_modules(prefix="__module"):
        alias_to_name[alias] = f"{_traced_name(module)}[{alias.split('.')[-1]}]"
    for op in ops:
        parts = [
            alias_to_name[a] if a in alias_to_name else a.split(".")[-1]
            for a in op.scope.split("/")
        ]
        op.scope = base_name + ("/" + "/".join(parts) if any(parts) else "")

    # Every op output becomes a node in the op's scope.
    scopes_seen = []
    for op in ops:
        for out, size in zip(op.outputs, op.output_sizes):
            scopes_seen.append(op.scope)
            io_nodes[out] = _GraphNode(out, op.inputs, op.scope, size, op.kind, op.attributes)
    shallowest = "default"
    for scope in scopes_seen:
        if scope:
            shallowest = scope.split("/")[0]

    scoped: dict[str, str] = {}
    for op in ops:
        for name in op.inputs:
            scoped[name] = op.scope + "/" + name
    for key, node in io_nodes.items():
        if node.io is not None:
            scoped[key] = node.io + "/" + node.name
        if node.scope is not None:
            scoped[key] = node.scope + "/" + node.name
            if node.scope == "" and shallowest:
                scoped[node.name] = shallowest + "/" + node.name

    nodes = []
    for node in io_nodes.values():
        inputs = [scoped[i] for i in node.inputs]
        name = scoped.get(node.name, node.name)
        attrs: list = [("attr", "s", node.attributes.encode("utf-8"))]
        if node.size is not None:
            attrs.append(("_output_shapes", "shapes", [list(node.size)]))
        nodes.append((name, node.kind, inputs, attrs))
    return nodes


def onnx_graph_nodes(path: Any) -> list[Node]:
    """Nodes of an ONNX model file, as torch's and tensorboardX's `load_onnx_graph`."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("add_onnx_graph needs the `onnx` package (pip install onnx)") from exc
    graph = onnx.load(path).graph
    nodes: list[Node] = []
    for value in itertools.chain(graph.input, graph.output):
        tensor_type = value.type.tensor_type
        nodes.append(
            (
                value.name,
                "Variable",
                [],
                [
                    ("dtype", "type", int(tensor_type.elem_type)),
                    ("shape", "shape", [int(d.dim_value) for d in tensor_type.shape.dim]),
                ],
            )
        )
    for node in graph.node:
        params = ", ".join(
            " = ".join(str(field[1]) for field in attr.ListFields()) for attr in node.attribute
        )
        nodes.append(
            (
                node.output[0],
                node.op_type,
                list(node.input),
                [("parameters", "s", params.encode("utf-8"))],
            )
        )
    return nodes


def openvino_graph_nodes(path: Any) -> list[Node]:
    """Nodes of an OpenVINO IR file, as tensorboardX's `load_openvino_graph` makes them:
    one node per edge, named after the layer it enters, with the source layer as input."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    layers_el, edges_el = root.find("layers"), root.find("edges")
    if layers_el is None or edges_el is None:
        raise ValueError(f"{path}: not an OpenVINO IR file (no <layers> or <edges>)")
    names = {layer.attrib["id"]: layer.attrib["name"] for layer in layers_el}
    return [
        (
            names[edge.attrib["to-layer"]],
            "op",
            [str(names[edge.attrib["from-layer"]])],
            [("parameters", "s", b"")],
        )
        for edge in edges_el
    ]
