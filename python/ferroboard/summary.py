"""Functions of torch's `torch.utils.tensorboard.summary` (and tensorboardX's), for code
that builds summaries itself and passes them to ``FileWriter.add_summary``.

    from ferroboard import summary
    exp, ssi, sei = summary.hparams({"lr": 0.1}, {"hp/acc": 0.0})
    writer._get_file_writer().add_summary(exp)

Each function returns a ``Summary`` proto: TensorBoard's own class
(``tensorboard.compat.proto.summary_pb2.Summary``) when the ``tensorboard`` package is
installed, otherwise a small stand-in whose ``SerializeToString()`` gives the same bytes.
The values are computed by the Rust core, by the same encoders ``SummaryWriter`` queues:
each function builds the core's encoder for its kind and serializes it at once.
"""

from __future__ import annotations

import numbers
import struct
from typing import Any, Optional

import numpy as np

from . import _core
from ._plugin_args import (
    as_num_thresholds,
    custom_scalars_layout,
    hparams_args,
    mesh_json_config,
    mesh_parts,
    pr_curve_args,
    pr_curve_raw_rows,
)
from .conversions import (
    array_for_core,
    bf16_to_float32,
    check_tag,
    describe,
    scalar_to_float,
    tensor_for_core,
    to_numpy,
)
from .histogram_bins import histogram_edges
from .media import audio_args, boxes_args, image_args, number_arg, video_args

__all__ = [
    "audio",
    "compute_curve",
    "custom_scalars",
    "draw_boxes",
    "half_to_int",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "image_boxes",
    "int_to_half",
    "make_histogram",
    "make_image",
    "make_video",
    "mesh",
    "pr_curve",
    "pr_curve_raw",
    "scalar",
    "tensor_proto",
    "text",
    "video",
]


class SerializedProto:
    """A protobuf message held as its serialized bytes (used when TensorBoard's proto
    classes are not installed). ``FileWriter.add_summary`` accepts it."""

    __slots__ = ("_data", "_name")

    def __init__(self, data: bytes, name: str = "Summary") -> None:
        self._data = bytes(data)
        self._name = name

    def SerializeToString(self, **_kwargs: Any) -> bytes:  # noqa: N802 - protobuf's name
        return self._data

    def ByteSize(self) -> int:  # noqa: N802 - protobuf's name
        return len(self._data)

    def __bytes__(self) -> bytes:
        return self._data

    def __eq__(self, other: object) -> bool:
        serialize = getattr(other, "SerializeToString", None)
        return serialize is not None and serialize() == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"<{self._name}: {len(self._data)} serialized bytes>"


def _proto(data: bytes, name: str = "Summary") -> Any:
    """TensorBoard's message class parsed from `data`, or a `SerializedProto`."""
    try:
        if name == "Summary":
            from tensorboard.compat.proto.summary_pb2 import Summary as cls
        elif name == "HistogramProto":
            from tensorboard.compat.proto.summary_pb2 import HistogramProto as cls
        elif name == "Image":
            from tensorboard.compat.proto.summary_pb2 import Summary

            cls = Summary.Image
        else:  # pragma: no cover - internal names only
            raise ImportError(name)
    except ImportError:
        return SerializedProto(data, name)
    return cls.FromString(data)


# -- scalars, text, histograms, tensors --------------------------------------------------


def scalar(
    name: str,
    tensor: Any,
    collections: Any = None,
    new_style: bool = False,
    double_precision: bool = False,
) -> Any:
    """A scalar summary (``simple_value``; a scalar tensor with ``new_style``)."""
    check_tag(name, "name")
    value = scalar_to_float(tensor, "tensor")
    return _proto(
        _core.scalar_summary(name, value, bool(new_style), bool(double_precision)).serialize()
    )


def text(tag: str, text: str) -> Any:
    """A text summary (tag gains ``/text_summary``)."""
    check_tag(tag)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    return _proto(_core.text_summary(tag, text).serialize())


def _histogram_encoder(name: str, values: Any, bins: Any, max_bins: Any) -> _core.SummaryEncoder:
    check_tag(name, "name")
    array, code = array_for_core(values, "values")
    edges = histogram_edges(array, code, bins, max_bins)
    return _core.histogram_summary(name, array, code, edges, max_bins)


def histogram(name: str, values: Any, bins: Any, max_bins: Optional[int] = None) -> Any:
    """A histogram summary of `values` with numpy-style `bins` ("tensorflow" for torch's
    default edges)."""
    return _proto(_histogram_encoder(name, values, bins, max_bins).serialize())


def make_histogram(values: Any, bins: Any, max_bins: Optional[int] = None) -> Any:
    """The ``HistogramProto`` of `values`."""
    encoder = _histogram_encoder("histogram", values, bins, max_bins)
    return _proto(encoder.serialize("histogram"), "HistogramProto")


def histogram_raw(
    name: str,
    min: float,
    max: float,
    num: float,
    sum: float,
    sum_squares: float,
    bucket_limits: Any,
    bucket_counts: Any,
) -> Any:
    """A histogram summary from precomputed statistics and buckets."""
    check_tag(name, "name")
    limits = to_numpy(bucket_limits, "bucket_limits").astype(float).ravel().tolist()
    counts = to_numpy(bucket_counts, "bucket_counts").astype(float).ravel().tolist()
    stats = [
        scalar_to_float(v, n)
        for v, n in (
            (min, "min"),
            (max, "max"),
            (num, "num"),
            (sum, "sum"),
            (sum_squares, "sum_squares"),
        )
    ]
    low, high, count, total, squares = stats  # five names, so mypy checks the call
    pending = _core.histogram_raw_summary(name, low, high, count, total, squares, limits, counts)
    return _proto(pending.serialize())


def tensor_proto(tag: str, tensor: Any) -> Any:
    """torch's ``tensor_proto``: the whole tensor with the ``tensor`` plugin (complex
    tensors as ``scomplex_val``/``dcomplex_val`` pairs, as torch writes them)."""
    check_tag(tag)
    array, code, complex_values = tensor_for_core(tensor)
    return _proto(_core.tensor_summary(tag, array, code, complex_values).serialize())


# -- plugins ------------------------------------------------------------------------------


def pr_curve(
    tag: str, labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None
) -> Any:
    """A precision-recall curve summary (torch's ``compute_curve``; at most 127
    thresholds)."""
    check_tag(tag)
    labels_arr, lc, pred_arr, pc, weights_arg, weight = pr_curve_args(labels, predictions, weights)
    pending = _core.pr_curve_summary(
        tag, labels_arr, lc, pred_arr, pc, as_num_thresholds(num_thresholds), weights_arg, weight
    )
    return _proto(pending.serialize())


def compute_curve(
    labels: Any, predictions: Any, num_thresholds: Optional[int] = None, weights: Any = None
) -> np.ndarray:
    """torch's ``compute_curve``: float64 rows TP, FP, TN, FN, precision, recall, one
    column per threshold (not capped: torch caps in ``pr_curve``)."""
    if num_thresholds is None:
        raise TypeError("num_thresholds is required")
    labels_arr, lc, pred_arr, pc, weights_arg, weight = pr_curve_args(labels, predictions, weights)
    t = as_num_thresholds(num_thresholds)
    if t > 127:
        raise ValueError(f"num_thresholds must be at most 127, got {t}")
    flat = _core.compute_pr_curve(labels_arr, lc, pred_arr, pc, t, weights_arg, weight)
    return np.asarray(flat, dtype=np.float64).reshape(6, t)


def pr_curve_raw(
    tag: str,
    tp: Any,
    fp: Any,
    tn: Any,
    fn: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> Any:
    """A PR curve summary from precomputed rows (`weights` unused, as in torch)."""
    check_tag(tag)
    rows = pr_curve_raw_rows(tp, fp, tn, fn, precision, recall)
    return _proto(
        _core.pr_curve_raw_summary(tag, rows, as_num_thresholds(num_thresholds)).serialize()
    )


def custom_scalars(layout: dict) -> Any:
    """The custom-scalars layout summary: ``{category: {title: [kind, tags]}}``."""
    return _proto(_core.custom_scalars_summary(custom_scalars_layout(layout)).serialize())


def mesh(
    tag: str,
    vertices: Any,
    colors: Any,
    faces: Any,
    config_dict: Any = None,
    display_name: Optional[str] = None,
    description: Optional[str] = None,
) -> Any:
    """A mesh summary: ``{tag}_VERTEX``, ``_FACE``, ``_COLOR`` values (those given).

    `config_dict` defaults to None (``"{}"``), as in tensorboardX (torch requires it).
    """
    check_tag(tag)
    parts = mesh_parts(vertices, colors, faces)
    pending = _core.mesh_summary(
        tag, parts, mesh_json_config(config_dict), display_name or "", description or ""
    )
    return _proto(pending.serialize())


def hparams(
    hparam_dict: Any = None, metric_dict: Any = None, hparam_domain_discrete: Any = None
) -> tuple[Any, Any, Any]:
    """The three hparams summaries ``(experiment, session_start_info, session_end_info)``.

    Booleans are stored as booleans (torch stores them as numbers).
    """
    hps, metrics = hparams_args(hparam_dict, metric_dict, hparam_domain_discrete)
    exp, ssi, sei = _core.hparams_summaries(hps, metrics)
    return _proto(exp.serialize()), _proto(ssi.serialize()), _proto(sei.serialize())


# -- media --------------------------------------------------------------------------------


def image(tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW") -> Any:
    """An image summary (a grid for a batch); `dataformats` as in torch ("NCHW" by
    default here, as in torch's function)."""
    scale = scalar_to_float(rescale, "rescale")
    check_tag(tag)
    array, code, formats = image_args(tensor, dataformats)
    return _proto(_core.image_summary(tag, array, code, formats, scale).serialize())


def _image_with_boxes(
    tag: str, tensor: Any, boxes: Any, rescale: Any, dataformats: str, labels: Any
) -> _core.SummaryEncoder:
    check_tag(tag)
    scale = number_arg(rescale, "rescale")
    array, code, formats = image_args(tensor, dataformats)
    box_array, names = boxes_args(boxes, labels)
    return _core.image_summary(tag, array, code, formats, scale, box_array, names)


def image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Any = None,
) -> Any:
    """An image summary with boxes (N, 4) drawn on it."""
    encoder = _image_with_boxes(tag, tensor_image, tensor_boxes, rescale, dataformats, labels)
    return _proto(encoder.serialize())


def make_image(tensor: Any, rescale: float = 1, rois: Any = None, labels: Any = None) -> Any:
    """The ``Summary.Image`` of an HWC image (with `rois` boxes drawn, if given)."""
    if rois is None:
        scale = scalar_to_float(rescale, "rescale")
        array, code, formats = image_args(tensor, "HWC")
        encoder = _core.image_summary("image", array, code, formats, scale)
    else:
        encoder = _image_with_boxes("image", tensor, rois, rescale, "HWC", labels)
    return _proto(encoder.serialize("image"), "Image")


def draw_boxes(disp_image: Any, boxes: Any, labels: Any = None) -> Any:
    """torch's helper: `boxes` (N, 4: x_min, y_min, x_max, y_max) drawn as red outlines
    2 pixels wide, with optional labels, as ``add_image_with_boxes`` draws them.

    ``disp_image``: a PIL image (as in torch; a new PIL image is returned) or a uint8
    (H, W) or (H, W, C) array (a new array is returned). Unlabelled boxes match PIL's
    pixels exactly; labels use a built-in bitmap font (torch uses PIL's default font).
    """
    pil_mode = getattr(disp_image, "mode", None) if hasattr(disp_image, "getbands") else None
    pixels = np.asarray(disp_image) if pil_mode is not None else to_numpy(disp_image, "disp_image")
    if pixels.dtype != np.uint8:
        raise TypeError(f"disp_image must hold uint8 pixels, got {describe(disp_image)}")
    coords = np.ascontiguousarray(to_numpy(boxes, "boxes"), dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {coords.shape}")
    names = None if labels is None else [str(label) for label in labels]
    if names is not None:
        # torch reads labels[i] for box i: extra labels are ignored, missing ones raise.
        if len(names) < len(coords):
            raise ValueError(f"labels: {len(names)} labels for {len(coords)} boxes")
        names = names[: len(coords)]
    pixels = np.ascontiguousarray(pixels)
    drawn = np.frombuffer(_core.draw_boxes(pixels, coords, names), np.uint8).reshape(pixels.shape)
    if pil_mode is None:
        return drawn.copy()
    from PIL import Image

    return Image.fromarray(drawn, mode=pil_mode)


def video(tag: str, tensor: Any, fps: float = 4) -> Any:
    """A video summary (animated GIF) of an (N, T, C, H, W) tensor."""
    check_tag(tag)
    array, code, formats, fps_value = video_args(tensor, fps, "NTCHW")
    return _proto(_core.video_summary(tag, array, code, formats, fps_value).serialize())


def make_video(tensor: Any, fps: float) -> Any:
    """The ``Summary.Image`` (animated GIF) of a (T, H, W, C) uint8 video."""
    arr = to_numpy(tensor, "tensor")
    if arr.ndim != 4:
        raise ValueError(f"tensor must have shape (T, H, W, C), got {arr.shape}")
    array, code, formats, fps_value = video_args(arr[np.newaxis], fps, "NTHWC")
    encoder = _core.video_summary("video", array, code, formats, fps_value)
    return _proto(encoder.serialize("image"), "Image")


def audio(tag: str, tensor: Any, sample_rate: int = 44100) -> Any:
    """An audio summary (16-bit WAV) of samples in [-1, 1]."""
    check_tag(tag)
    array, code, rate = audio_args(tensor, sample_rate)
    return _proto(_core.audio_summary(tag, array, code, rate).serialize())


# -- torch's helpers ----------------------------------------------------------------------


def half_to_int(f: float) -> int:
    """torch's helper: the bits of `f` as a float32, read as an int32."""
    return struct.unpack("i", struct.pack("f", f))[0]


#: `int_to_half`'s names for the two 16-bit float types.
_HALF_NAMES = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16"}


def int_to_half(i: int, dtype: Any = None) -> float:
    """Decodes one ``half_val`` entry of a ``TensorProto``: what ferroboard writes and
    what torch writes.

    ferroboard (and TensorFlow, and TensorBoard's reader) store each value's 16-bit
    pattern, 0 to 65535. torch stores the value's float32 bit pattern read as an int32
    (``half_to_int``). The two never overlap for a 16-bit float: every nonzero float16
    or bfloat16 value has a float32 pattern outside 1..65535 (those patterns are float32
    denormals below 1e-40, which no 16-bit float has). So 0..65535 is read as a 16-bit
    pattern and anything else as torch's float32 pattern.

    A 16-bit pattern does not say whether it is float16 or bfloat16: it is read as
    float16 unless ``dtype="bfloat16"`` (also ``torch.bfloat16``) says otherwise; pass it
    for ``DT_BFLOAT16`` tensors. torch's function takes no `dtype`.
    """
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        raise TypeError(f"i must be an int, got {describe(i)}")
    value = int(i)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"i must fit in an int32 (a half_val entry), got {value}")
    kind = "float16"
    if dtype is not None:
        name = str(dtype).lower().replace("torch.", "").replace("numpy.", "")
        if name not in _HALF_NAMES:
            raise ValueError(f"dtype must be 'float16' or 'bfloat16', got {dtype!r}")
        kind = _HALF_NAMES[name]
    if not 0 <= value <= 0xFFFF:
        return struct.unpack("f", struct.pack("i", value))[0]
    if kind == "bfloat16":
        return float(bf16_to_float32(np.array([value], np.uint16))[0])
    return struct.unpack("<e", struct.pack("<H", value))[0]
