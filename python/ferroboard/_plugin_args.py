"""Validating and normalizing the arguments of the plugin methods.

Shared by `SummaryWriter`'s methods and `ferroboard.summary`'s functions: each returns
the plain values and contiguous arrays that the Rust core copies.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

from .conversions import _is_torch_tensor, array_for_core, describe, to_numpy

#: `MeshPluginData.ContentType` codes.
MESH_VERTEX, MESH_FACE, MESH_COLOR = 1, 2, 3


def as_num_thresholds(num_thresholds: Any) -> int:
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, numbers.Integral):
        raise TypeError(f"num_thresholds must be an int, got {describe(num_thresholds)}")
    value = int(num_thresholds)
    # One threshold is a one-point curve (torch and tensorboardX accept it); zero is no curve.
    if value < 1:
        raise ValueError(f"num_thresholds must be at least 1, got {value}")
    return value


def pr_curve_args(labels: Any, predictions: Any, weights: Any) -> tuple:
    """`(labels, code, predictions, code, weights_or_None, scalar_weight)` for the core."""
    labels_arr, labels_code = array_for_core(labels, "labels")
    pred_arr, pred_code = array_for_core(predictions, "predictions")
    if labels_arr.size != pred_arr.size:
        raise ValueError(
            "labels and predictions must have the same number of elements, got shapes "
            f"{labels_arr.shape} and {pred_arr.shape}"
        )
    weight = 1.0
    weights_arg = None
    if weights is not None:
        if isinstance(weights, numbers.Real) and not isinstance(weights, bool):
            weight = float(weights)
        else:
            w_arr, w_code = array_for_core(weights, "weights")
            if w_arr.size == 1:
                weight = float(w_arr.reshape(()))
            elif w_arr.size != pred_arr.size:
                raise ValueError(
                    "weights must be a scalar or have one element per prediction, got "
                    f"shape {w_arr.shape} for predictions of shape {pred_arr.shape}"
                )
            else:
                weights_arg = (w_arr, w_code)
    return labels_arr, labels_code, pred_arr, pred_code, weights_arg, weight


PR_RAW_NAMES = (
    "true_positive_counts",
    "false_positive_counts",
    "true_negative_counts",
    "false_negative_counts",
    "precision",
    "recall",
)


def pr_curve_raw_rows(*rows: Any) -> list:
    """The six rows as 1-D contiguous arrays with their dtype codes."""
    out = []
    for row, name in zip(rows, PR_RAW_NAMES):
        arr, code = array_for_core(row, name)
        if arr.ndim != 1:
            arr = np.ascontiguousarray(arr.reshape(-1))
        out.append((arr, code))
    lengths = {a.size for a, _ in out}
    if len(lengths) != 1:
        raise ValueError(
            "the six PR-curve arrays must have the same length, got "
            + ", ".join(f"{n}={a.size}" for (a, _), n in zip(out, PR_RAW_NAMES))
        )
    return out


def mesh_parts(vertices: Any, colors: Any, faces: Any) -> list:
    """`(content_type, array, code)` for each given part, checked to be (B, N, 3)."""
    if vertices is None:
        raise ValueError("vertices are required")
    parts = []
    for value, code, name in (
        (vertices, MESH_VERTEX, "vertices"),
        (faces, MESH_FACE, "faces"),
        (colors, MESH_COLOR, "colors"),
    ):
        if value is None:
            continue
        arr, dtype = array_for_core(value, name)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"{name} must have shape (B, N, 3), got {arr.shape}")
        parts.append((code, arr, dtype))
    return parts


def mesh_json_config(config_dict: Any) -> str:
    """torch's `_get_json_config`: "{}" for None, else sorted-key JSON."""
    if config_dict is None:
        return "{}"
    try:
        return json.dumps(config_dict, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"config_dict must be JSON-serializable, got {describe(config_dict)}"
        ) from exc


def custom_scalars_layout(layout: Any) -> list:
    """`{category: {title: [kind, tags]}}` -> `[(category, [(title, is_margin, tags)])]`."""
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"layout must be a dict {{category: {{title: [kind, tags]}}}}, got {describe(layout)}"
        )
    out = []
    for category, charts in layout.items():
        if not isinstance(category, str):
            raise TypeError(f"layout: category names must be str, got {describe(category)}")
        if not isinstance(charts, Mapping):
            raise TypeError(
                f"layout[{category!r}] must be a dict {{title: [kind, tags]}}, "
                f"got {describe(charts)}"
            )
        specs = []
        for title, chart in charts.items():
            where = f"layout[{category!r}][{title!r}]"
            if not isinstance(title, str):
                raise TypeError(
                    f"layout[{category!r}]: chart titles must be str, got {describe(title)}"
                )
            if not isinstance(chart, Sequence) or isinstance(chart, str) or len(chart) < 2:
                raise TypeError(f"{where} must be [kind, tags], got {describe(chart)}")
            kind, tags = chart[0], chart[1]
            tags = check_tags(tags, where + "[1]")
            margin = kind == "Margin"
            if margin and len(tags) != 3:
                raise ValueError(
                    f"{where}: a Margin chart takes exactly 3 tags (value, lower, upper), "
                    f"got {len(tags)}: {tags}"
                )
            specs.append((title, margin, tags))
        out.append((category, specs))
    return out


def check_tags(tags: Any, name: str) -> list:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(f"{name} must be a list of str, got {describe(tags)}")
    tags = list(tags)
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"{name} must be a list of str, got an element {describe(tag)}")
    return tags


# -- hparams --------------------------------------------------------------------------------


def hparam_value(value: Any, where: str) -> Any:
    """A bool, str or float for the core; None to skip the entry."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    if _is_torch_tensor(value) or isinstance(value, np.ndarray):
        arr = to_numpy(value, where).reshape(-1)
        if arr.size == 0:
            raise ValueError(f"{where}: an empty tensor is not a hyperparameter value")
        first = arr[0]
        return bool(first) if arr.dtype.kind == "b" else float(first)
    if callable(value):
        # tensorboardX's rule: functions and classes are logged by name.
        return getattr(value, "__name__", str(value))
    raise ValueError(
        f"{where}: value should be one of int, float, str, bool, or torch.Tensor, "
        f"got {describe(value)}"
    )


def hparams_args(
    hparam_dict: Any, metric_dict: Any, hparam_domain_discrete: Optional[Any] = None
) -> tuple[list, list]:
    """`([(name, value, domain_or_None)], [metric names])`, validated like torch."""
    if not isinstance(hparam_dict, Mapping):
        raise TypeError(f"hparam_dict must be a dict, got {describe(hparam_dict)}")
    if not isinstance(metric_dict, Mapping):
        raise TypeError(f"metric_dict must be a dict, got {describe(metric_dict)}")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, Mapping):
        raise TypeError(
            "hparam_domain_discrete must be a dict of lists, got "
            f"{describe(hparam_domain_discrete)}"
        )
    for key in domains:
        if key not in hparam_dict:
            raise TypeError(f"hparam_domain_discrete[{key!r}]: {key!r} is not a key of hparam_dict")
    hparams = []
    for key, value in hparam_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"hparam_dict keys must be str, got {describe(key)}")
        norm = hparam_value(value, f"hparam_dict[{key!r}]")
        if norm is None:
            continue
        domain = None
        if key in domains:
            values = domains[key]
            where = f"hparam_domain_discrete[{key!r}]"
            if not isinstance(values, (list, tuple)):
                raise TypeError(f"{where} must be a list, got {describe(values)}")
            domain = [hparam_value(v, where) for v in values]
            for original, d in zip(values, domain):
                if type(d) is not type(norm):
                    raise TypeError(
                        f"{where} must hold values of the same type as hparam_dict[{key!r}] "
                        f"({type(value).__name__}), got {describe(original)}"
                    )
        hparams.append((key, norm, domain))
    metrics = []
    for key in metric_dict:
        if not isinstance(key, str):
            raise TypeError(f"metric_dict keys must be str, got {describe(key)}")
        metrics.append(key)
    return hparams, metrics
