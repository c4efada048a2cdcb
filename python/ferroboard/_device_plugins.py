"""`add_embedding` and `add_hparams` given CUDA tensors, without a host sync
(docs/gpu.md).

Both write outside the event file (an embedding's files, an `add_hparams` sub-run), so
they hold no slot in it: the call checks every argument, takes what it takes from the
host arguments, fixes where the result goes (the embedding's directory, the sub-run's
name) and copies the CUDA tensors into host buffers (`_device_copy.defer_elsewhere`).
Once the copies arrived, in order with the file's other pending values, the host
path's code writes the result from the host copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

from . import _core, _device_copy, _device_path
from ._plugin_args import hparam_value, hparams_args
from .conversions import scalar_to_float
from .embedding import (
    Contents,
    EmbeddingFiles,
    Target,
    contents,
    label_image,
    mat_array,
    metadata_tsv,
)
from .file_writer import FileWriter

#: Frames between the `warnings.warn` of a check run at the call (in `contents` or
#: `EmbeddingFiles.place`) and the caller of `add_embedding`: the check, `at_call`,
#: `_device_copy._queue`, `defer_elsewhere`, `embedding`, `add_embedding`, the caller.
_CALLER = 7


def on_device(values: Any, name: str) -> dict[str, Any]:
    """The CUDA tensors among the values of the mapping `values`, by argument name
    (``metric_dict['loss']``); none if `values` is no mapping (the host path names it)."""
    if not isinstance(values, Mapping):
        return {}
    return {f"{name}[{k!r}]": v for k, v in values.items() if _device_path.wants(v)}


# -- add_embedding ---------------------------------------------------------------------------


class _Embedding:
    """One `add_embedding` call: checked and placed at the call, submitted on arrival."""

    def __init__(
        self,
        files: EmbeddingFiles,
        logdir: str,
        step: int,
        tag: str,
        metadata_header: Any,
        binary: bool,
        device: set[str],
    ) -> None:
        self.files = files
        self.logdir = logdir
        self.step = step
        self.tag = tag
        self.metadata_header = metadata_header
        self.binary = binary
        self.device = device  # the arguments that are CUDA tensors
        self.parts: Optional[Contents] = None
        self.target: Optional[Target] = None

    def at_call(self, host: dict) -> None:
        # Host arguments are taken here, as the host path takes them (metadata.tsv from
        # the labels as they are now); device ones are checked by shape and taken again
        # on arrival.
        self.parts = contents(
            host["mat"], host["metadata"], host["label_img"], self.metadata_header, _CALLER
        )
        self.target = self.files.place(self.logdir, self.step, self.tag, _CALLER)

    def deliver(self, host: dict) -> None:
        parts, target = self.parts, self.target
        assert parts is not None and target is not None  # at_call ran
        if "mat" in self.device:
            mat, code = mat_array(host["mat"])
            parts = parts._replace(mat=mat, mat_code=code)
        if "metadata" in self.device:
            n = parts.mat.shape[0]
            parts = parts._replace(metadata=metadata_tsv(host["metadata"], n, self.metadata_header))
        if "label_img" in self.device:
            parts = parts._replace(label_img=label_image(host["label_img"]))
        self.files.submit(target, parts, self.binary)


def embedding(
    fw: FileWriter,
    files: EmbeddingFiles,
    values: dict,
    step: int,
    tag: str,
    metadata_header: Any,
    binary: bool,
) -> None:
    """`add_embedding` of `values` (mat, metadata, label_img), some of them CUDA tensors
    or waiting behind earlier GPU values, in the directory of `fw`'s run."""
    device = {name for name, value in values.items() if _device_path.wants(value)}
    job = _Embedding(files, fw.get_logdir(), step, tag, metadata_header, binary, device)
    _device_copy.defer_elsewhere(fw, [tag], values, job.at_call, job.deliver, {"embedding": 1})


# -- add_hparams ----------------------------------------------------------------------------


class _Hparams:
    """One `add_hparams` call: checked at the call, its sub-run written on arrival."""

    def __init__(
        self,
        hparam_dict: Any,
        metric_dict: Any,
        domains: Any,
        write: Callable[[list, list, list], None],
    ) -> None:
        self.hparam_dict = hparam_dict
        self.metric_dict = metric_dict
        self.domains = domains
        self.write = write
        self.hparams: list = []
        self.metrics: list = []
        self.values: list = []

    def at_call(self, host: dict) -> None:
        # Everything the host path checks, on the host copies of the CUDA values (their
        # type and shape are known, their values not yet); host values are taken here.
        hparams = _with_host(self.hparam_dict, "hparam_dict", host)
        metrics = _with_host(self.metric_dict, "metric_dict", host)
        self.hparams, self.metrics = hparams_args(hparams, metrics, self.domains)
        self.values = [scalar_to_float(metrics[k], f"metric_dict[{k!r}]") for k in self.metrics]
        _core.hparams_summaries(self.hparams, self.metrics)  # the domains' type checks
        self.hparam_dict = self.metric_dict = self.domains = {}  # taken: not kept

    def deliver(self, host: dict) -> None:
        hparams = []
        for key, value, domain in self.hparams:
            name = f"hparam_dict[{key!r}]"
            hparams.append((key, hparam_value(host[name], name) if name in host else value, domain))
        values = []
        for key, value in zip(self.metrics, self.values):
            name = f"metric_dict[{key!r}]"
            values.append(scalar_to_float(host[name], name) if name in host else value)
        self.write(hparams, self.metrics, values)


def _with_host(values: Any, name: str, host: dict) -> Any:
    """`values` with its CUDA tensors replaced by their host copies (`on_device`'s names);
    as given if it is no mapping (`hparams_args` names it)."""
    if not isinstance(values, Mapping):
        return values
    return {k: host.get(f"{name}[{k!r}]", v) for k, v in values.items()}


def hparams(
    fw: FileWriter,
    hparam_dict: Any,
    metric_dict: Any,
    domains: Any,
    device: dict[str, Any],
    write: Callable[[list, list, list], None],
) -> None:
    """`add_hparams` with the CUDA tensors `device` (by argument name) among the values
    of `hparam_dict` and `metric_dict`: `write(hparams, metrics, values)` writes the
    sub-run once they arrived."""
    job = _Hparams(hparam_dict, metric_dict, domains, write)
    metric_keys = list(metric_dict) if isinstance(metric_dict, Mapping) else []
    tags = [str(k) for k in metric_keys]
    lost = {"event": 3 + len(metric_keys)}  # experiment, session start and end, metrics
    _device_copy.defer_elsewhere(fw, tags, device, job.at_call, job.deliver, lost)
