"""PR curves, custom scalars, mesh, hparams, embeddings, graphs and tensorboardX extras.

Every method validates its arguments on the caller's thread and hands copies to the
Rust core; curves, meshes and protos are computed on the writer's worker, embedding
files on their own thread.
"""

from __future__ import annotations

import array
import contextlib
import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

from . import _core, _device_copy, _device_path, _device_plugins
from ._paths import check_relative, inside, join
from ._plugin_args import (
    as_num_thresholds,
    custom_scalars_layout,
    hparams_args,
    mesh_json_config,
    mesh_parts,
    pr_curve_args,
    pr_curve_raw_rows,
)
from ._writer_base import WriterBase
from .conversions import (
    check_tag,
    checked_walltime,
    describe,
    optional_step,
    optional_walltime,
    scalar_to_float,
)
from .embedding import EmbeddingFiles, checked_target
from .graph import onnx_graph_nodes, openvino_graph_nodes, torch_graph_nodes

#: `global_step` stored for `add_scalars` calls without one (see `scalar_dict`).
_NO_STEP = -(2**63)


class PluginsMixin(WriterBase):
    """Plugin methods of `SummaryWriter`."""

    #: Default tensor file of `add_embedding`: "tsv" (torch's) or "binary" (float32,
    #: much smaller and faster; TensorBoard's projector reads both).
    embedding_tensor_format: str = "tsv"

    # -- PR curves ------------------------------------------------------------------------

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Logs a precision-recall curve of `predictions` (in [0, 1]) against binary
        `labels`, computed on the background thread exactly as torch computes it.

        ``num_thresholds`` is capped at 127 (TensorBoard's limit, as in torch);
        ``weights`` is a scalar or one weight per prediction.
        """
        check_tag(tag)
        thresholds = as_num_thresholds(num_thresholds)
        if _device_copy.any_on_device(labels, predictions, weights):

            def build(host: dict) -> Any:
                la, lc, pa, pc, wa, w = pr_curve_args(
                    host["labels"], host["predictions"], host["weights"]
                )
                return _core.pr_curve_summary(tag, la, lc, pa, pc, thresholds, wa, w)

            values = {"labels": labels, "predictions": predictions, "weights": weights}
            return self._defer("add_pr_curve", tag, values, build, global_step, walltime)
        labels_arr, lc, pred_arr, pc, weights_arg, weight = pr_curve_args(
            labels, predictions, weights
        )
        pending = _core.pr_curve_summary(
            tag,
            labels_arr,
            lc,
            pred_arr,
            pc,
            thresholds,
            weights_arg,
            weight,
        )
        self._core().add_encoder(pending, optional_step(global_step), optional_walltime(walltime))

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Logs a PR curve from precomputed counts (six equal-length arrays).

        ``weights`` is accepted and unused, as in torch and tensorboardX.
        """
        check_tag(tag)
        rows = pr_curve_raw_rows(
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
        )
        pending = _core.pr_curve_raw_summary(tag, rows, as_num_thresholds(num_thresholds))
        self._core().add_encoder(pending, optional_step(global_step), optional_walltime(walltime))

    # -- custom scalars -------------------------------------------------------------------

    def add_custom_scalars(self, layout: dict) -> None:
        """Defines charts that group scalar tags: ``{category: {title: [kind, tags]}}``
        with kind "Multiline" or "Margin" (exactly 3 tags: value, lower, upper).

        TensorBoard reads one layout per run: call it once per writer.
        """
        pending = _core.custom_scalars_summary(custom_scalars_layout(layout))
        self._core().add_encoder(pending)

    def add_custom_scalars_multilinechart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        """Shorthand for a layout with one multiline chart of `tags`."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        """Shorthand for a layout with one margin chart; `tags` = [value, lower, upper]."""
        if isinstance(tags, str) or not hasattr(tags, "__len__") or len(tags) != 3:
            raise ValueError(f"tags must be 3 tags (value, lower, upper), got {describe(tags)}")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # -- mesh -----------------------------------------------------------------------------

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: Any = None,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Logs a mesh or point cloud: `vertices`, `colors` and `faces` of shape (B, N, 3);
        `config_dict` holds three.js camera, light and material settings.
        """
        check_tag(tag)
        if _device_copy.any_on_device(vertices, colors, faces):
            config = mesh_json_config(config_dict)

            def build(host: dict) -> Any:
                parts = mesh_parts(host["vertices"], host["colors"], host["faces"])
                return _core.mesh_summary(tag, parts, config)

            values = {"vertices": vertices, "colors": colors, "faces": faces}
            return self._defer("add_mesh", tag, values, build, global_step, walltime)
        parts = mesh_parts(vertices, colors, faces)
        pending = _core.mesh_summary(tag, parts, mesh_json_config(config_dict))
        self._core().add_encoder(pending, optional_step(global_step), optional_walltime(walltime))

    # -- hparams --------------------------------------------------------------------------

    def add_hparams(
        self,
        hparam_dict: dict,
        metric_dict: dict,
        hparam_domain_discrete: Optional[dict] = None,
        run_name: Optional[str] = None,
        global_step: Any = None,
        *,
        name: Optional[str] = None,
    ) -> None:
        """Logs hyperparameters and their metrics for TensorBoard's HParams tab.

        torch's and tensorboardX's signatures work: torch's ``(hparam_dict, metric_dict,
        hparam_domain_discrete=None, run_name=None, global_step=None)`` and
        tensorboardX's ``(hparam_dict, metric_dict, name=None, global_step=None)``.
        As torch and tensorboardX do, it writes a sub-run ``{log_dir}/{run_name or time.time()}``
        holding the hparams and one scalar per metric (metric keys should not be tags
        that ``add_scalar`` also uses). Booleans are stored as booleans.
        """
        # tensorboardX's third positional argument is the run name and its fourth the
        # step; torch's are the discrete domains and the run name.
        if isinstance(hparam_domain_discrete, str):
            if name is not None and name != hparam_domain_discrete:
                raise ValueError(
                    f"run name given twice: {hparam_domain_discrete!r} and name={name!r}"
                )
            name = hparam_domain_discrete
            hparam_domain_discrete = None
            if run_name is not None and not isinstance(run_name, str):
                if global_step is not None:
                    raise TypeError(f"global_step given twice: {run_name!r} and {global_step!r}")
                run_name, global_step = None, run_name
        if name is not None:
            if run_name is not None and run_name != name:
                raise ValueError(f"run_name={run_name!r} and name={name!r} disagree; pass one")
            run_name = name
        arg = "run_name" if name is None else "name"
        if run_name is not None and not isinstance(run_name, str):
            raise TypeError(f"{arg} must be a str, got {describe(run_name)}")
        if run_name:  # torch would join an absolute or '..' name as given: checked first
            check_relative(run_name, arg)
        device = _device_plugins.on_device(hparam_dict, "hparam_dict")
        device.update(_device_plugins.on_device(metric_dict, "metric_dict"))
        if not device:
            hparams, metrics = hparams_args(hparam_dict, metric_dict, hparam_domain_discrete)
            values = [scalar_to_float(metric_dict[k], f"metric_dict[{k!r}]") for k in metrics]
            step = optional_step(global_step)
            base = self._get_file_writer().get_logdir()
            logdir = inside(base, run_name, arg, run_name) if run_name else None
            run = logdir or join(base, str(time.time()))
            return self._write_hparams_run(run, hparams, metrics, values, step, None)
        if not _device_path.check_capture(self._on_cuda_capture, "add_hparams"):
            return None
        step = optional_step(global_step)
        fw = self._open_default()
        base = fw.get_logdir()
        logdir = inside(base, run_name, arg, run_name) if run_name else None
        # CUDA values (docs/gpu.md): the sub-run's name and wall time are the call's.
        now = time.time()
        run = logdir or join(base, str(now))

        def write(hparams: list, metrics: list, values: list) -> None:
            self._write_hparams_run(run, hparams, metrics, values, step, now)

        _device_plugins.hparams(fw, hparam_dict, metric_dict, hparam_domain_discrete, device, write)
        return None

    def _write_hparams_run(
        self,
        run: str,
        hparams: list,
        metrics: list,
        values: list,
        step: Optional[int],
        walltime: Optional[float],
    ) -> None:
        """The sub-run `run` of one `add_hparams` call: its hparams and metrics."""
        exp, ssi, sei = _core.hparams_summaries(hparams, metrics)
        # torch's sub-run writer has default settings; a remote one needs the store's.
        writer = self._plain_file_writer(run)
        try:
            core = writer._writer()
            core.add_encoder(exp, step, walltime)
            core.add_encoder(ssi, step, walltime)
            core.add_encoder(sei, step, walltime)
            for key, value in zip(metrics, values):
                core.add_scalar(key, value, step, walltime)
        finally:
            writer.close()

    # -- embeddings -----------------------------------------------------------------------

    def add_embedding(
        self,
        mat: Any,
        metadata: Any = None,
        label_img: Any = None,
        global_step: Any = None,
        tag: str = "default",
        metadata_header: Any = None,
        *,
        tensor_format: Optional[str] = None,
    ) -> None:
        """Writes points for TensorBoard's projector under ``{log_dir}/{step:05d}/{tag}``.

        Args:
            mat: (N, D) matrix, one row per point.
            metadata: N labels (or N rows of columns with `metadata_header`).
            label_img: (N, C, H, W) images (C = 1 or 3), floats in [0, 1] or uint8;
                combined into ``sprite.png``.
            tensor_format: "tsv" (torch's text file) or "binary" (float32 with
                ``tensor_shape`` in the config: ~5x smaller and much faster to write
                and to load). Default: ``self.embedding_tensor_format`` ("tsv").

        The files are written on a background thread; ``flush()`` and ``close()`` wait
        for them. ``projector_config.pbtxt`` lists every embedding of this writer.
        """
        files: Optional[EmbeddingFiles] = self.__dict__.get("_embedding_files")
        if files is None:
            files = self.__dict__.setdefault(
                "_embedding_files", EmbeddingFiles(None, self.storage_options, self.close_timeout)
            )
        fmt = self.embedding_tensor_format if tensor_format is None else tensor_format
        device = _device_copy.any_on_device(mat, metadata, label_img)
        if device or self._embeddings_waiting():
            # CUDA tensors, or an earlier embedding whose CUDA tensors have not arrived
            # yet, which this one follows in the projector config: checked now,
            # written on arrival.
            if device and not _device_path.check_capture(self._on_cuda_capture, "add_embedding"):
                return None
            step = checked_target(tag, fmt, global_step)
            values = {"mat": mat, "metadata": metadata, "label_img": label_img}
            fw = self._open_default()
            binary = fmt == "binary"
            return _device_plugins.embedding(fw, files, values, step, tag, metadata_header, binary)
        files.add(
            self._get_file_writer().get_logdir(),
            mat,
            metadata,
            label_img,
            global_step,
            tag,
            metadata_header,
            fmt,
        )
        return None

    def _embeddings_waiting(self) -> bool:
        """Whether an embedding still waits for values computed on a GPU."""
        writer = self.file_writer
        queue = None if writer is None else writer._pending
        return queue is not None and queue.holds("embedding")

    # -- graphs ---------------------------------------------------------------------------

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Logs the graph of a PyTorch model, traced with ``torch.jit.trace`` on
        `input_to_model` (a tensor or a tuple of tensors), as torch names its nodes.
        """
        nodes = torch_graph_nodes(model, input_to_model, verbose, use_strict_trace)
        self._core().add_graph_nodes(nodes, True)

    def add_onnx_graph(self, prototxt: Any = None, *, onnx_model_file: Any = None) -> None:
        """Logs the graph of an ONNX model file (needs the ``onnx`` package).

        torch names the argument ``prototxt``, tensorboardX ``onnx_model_file``.
        """
        path = prototxt if prototxt is not None else onnx_model_file
        if path is None:
            raise TypeError("add_onnx_graph needs the path of an ONNX model file")
        self._core().add_graph_nodes(onnx_graph_nodes(path), False)

    def add_openvino_graph(self, xmlname: Any) -> None:
        """tensorboardX's: logs the graph of an OpenVINO IR model (its .xml file)."""
        self._core().add_graph_nodes(openvino_graph_nodes(xmlname), False)

    # -- tensorboardX extras --------------------------------------------------------------

    @property
    def scalar_dict(self) -> dict:
        """tensorboardX's record of `add_scalars`: ``{sub-run dir: [[walltime, step,
        value], ...]}`` since the last `export_scalars_to_json` (kept compactly)."""
        history = self.__dict__.get("_scalar_history") or {}
        out = {}
        for key, (floats, steps) in history.items():
            out[key] = [
                [floats[2 * i], None if steps[i] == _NO_STEP else steps[i], floats[2 * i + 1]]
                for i in range(len(steps))
            ]
        return out

    @scalar_dict.setter
    def scalar_dict(self, value: dict) -> None:
        if value:
            raise ValueError("scalar_dict can only be reset to {}")
        self.__dict__["_scalar_history"] = {}

    def _remember_scalar(
        self, run_dir: str, value: float, global_step: Optional[int], walltime: float
    ) -> None:
        """Records one `add_scalars` value for `scalar_dict` (24 bytes each)."""
        history = self.__dict__.get("_scalar_history")
        if history is None:
            history = self.__dict__.setdefault("_scalar_history", {})
        entry = history.get(run_dir)
        if entry is None:
            entry = history[run_dir] = (array.array("d"), array.array("q"))
        entry[0].append(walltime)
        entry[0].append(value)
        entry[1].append(_NO_STEP if global_step is None else global_step)

    def _scalar_rememberer(
        self, run_dir: str, global_step: Optional[int], walltime: float
    ) -> Callable[[float], None]:
        """Records a CUDA `add_scalars` value for `scalar_dict` once it has arrived."""

        def remember(value: float) -> None:
            self._remember_scalar(run_dir, value, global_step, walltime)

        return remember

    def export_scalars_to_json(self, path: Any) -> None:
        """Writes every value logged by `add_scalars` since the last export as
        ``{sub-run dir: [[walltime, step, value], ...]}`` (tensorboardX's format), then
        forgets them."""
        with open(path, "w") as f:
            json.dump(self.scalar_dict, f)
        self.__dict__["_scalar_history"] = {}

    @contextlib.contextmanager
    def use_metadata(self, *, global_step: Any = None, walltime: Any = None) -> Iterator[Any]:
        """tensorboardX's context manager: default `global_step` and/or `walltime` for
        every ``add_*`` call inside it that does not pass its own.

            with writer.use_metadata(global_step=10):
                writer.add_scalar("loss", 3.0)
        """
        if global_step is None and walltime is None:
            raise ValueError("use_metadata needs global_step and/or walltime")
        if self.__dict__.get("_metadata_defaults"):
            raise RuntimeError("use_metadata is already active on this writer")
        step = optional_step(global_step)
        wall = None if walltime is None else checked_walltime(walltime)
        installed = []
        self.__dict__["_metadata_defaults"] = True
        try:
            for attr in dir(type(self)):
                if not attr.startswith("add_") or attr in self.__dict__:
                    continue  # not a method, or replaced (write_to_disk=False)
                method = getattr(self, attr)
                wrapped = _with_defaults(method, step, wall)
                if wrapped is not None:
                    self.__dict__[attr] = wrapped
                    installed.append(attr)
            yield self
        finally:
            for attr in installed:
                self.__dict__.pop(attr, None)
            self.__dict__.pop("_metadata_defaults", None)

    # -- lifecycle hooks (called by SummaryWriter.flush/close) ----------------------------

    def _flush_plugins(self) -> None:
        files: Optional[EmbeddingFiles] = self.__dict__.get("_embedding_files")
        if files is not None:
            files.wait()

    def _close_plugins(self) -> None:
        files: Optional[EmbeddingFiles] = self.__dict__.get("_embedding_files")
        if files is not None:
            files.close()

    # -- pickling -------------------------------------------------------------------------

    def __getstate__(self) -> dict:
        """A pickled writer carries its configuration, not its files or threads: the
        receiving process writes a new event file in the same directory on first use."""
        state = dict(self.__dict__)
        for key in (
            "file_writer",
            "all_writers",
            "_lock",
            "_scalar_history",
            "_metadata_defaults",
            "_dropped_by_closed",
        ):
            state.pop(key, None)
        for key in [k for k in state if k.startswith("add_")]:
            del state[key]  # no-op methods of write_to_disk=False, use_metadata wrappers
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__["_lock"] = threading.Lock()
        self.__dict__["_dropped_by_closed"] = 0  # counts this process's files only
        self.file_writer = None
        self.all_writers = None
        if not self.__dict__.get("_write_to_disk", True):
            disable = getattr(self, "_disable", None)
            if disable is not None:
                disable()


_SIGNATURES: dict = {}


def _with_defaults(method: Any, step: Optional[int], walltime: Optional[float]) -> Any:
    """`method` with `global_step`/`walltime` filled in when the caller leaves them None;
    None if it takes neither."""
    func = getattr(method, "__func__", method)
    sig = _SIGNATURES.get(func)
    if sig is None:
        try:
            sig = inspect.signature(method)
        except (TypeError, ValueError):
            return None
        _SIGNATURES[func] = sig
    fill: dict[str, float] = {}
    if step is not None and "global_step" in sig.parameters:
        fill["global_step"] = step
    if walltime is not None and "walltime" in sig.parameters:
        fill["walltime"] = walltime
    if not fill:
        return None

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        for key, value in fill.items():
            if bound.arguments.get(key) is None:
                bound.arguments[key] = value
        return method(*bound.args, **bound.kwargs)

    call.__name__ = getattr(method, "__name__", "add")
    call.__doc__ = getattr(method, "__doc__", None)
    return call
