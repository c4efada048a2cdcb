"""`add_embedding`: files for TensorBoard's projector, written by a Rust thread.

The caller validates, prepares `metadata.tsv` (it needs Python's `str()` of each label)
and creates the directory; the tensor file, the sprite PNG and `projector_config.pbtxt`
are written in the background. `flush()`/`close()` wait for them.

Under a URL log dir the files are written to a local staging directory and, once written
(at `flush()`/`close()`), each goes to the store as one whole-object PUT in the
background; `close()` waits until the store holds them (docs/storage.md).
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, Optional

import numpy as np

from . import _core, _lifecycle
from ._core import DType
from ._paths import check_no_nul, inside
from .conversions import _is_torch_tensor, array_for_core, as_step, describe, to_numpy
from .remote import DEFAULT_CLOSE_TIMEOUT, is_remote

#: The projector's config file, rewritten (whole) by each embedding.
CONFIG_FILE = "projector_config.pbtxt"

#: Tensor file formats of `add_embedding(tensor_format=...)`.
TENSOR_FORMATS = ("tsv", "binary")
#: The projector does not show sprites larger than this (lanpa/tensorboardX#516).
MAX_SPRITE_SIDE = 8192


def encode_tag(tag: str) -> str:
    """torch's `_encode`: `%`, `/` and `\\` percent-encoded, so a tag is one directory."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def metadata_tsv(metadata: Any, n: int, metadata_header: Any) -> bytes:
    """torch's `make_tsv`: one `str(label)` per line, or a header and tab-joined rows."""
    if _is_torch_tensor(metadata):
        # torch would write str(tensor(3)) = "tensor(3)"; the element itself is meant
        # (numpy scalars print as torch prints a numpy array's elements).
        metadata = to_numpy(metadata, "metadata")
    if not _is_list_like(metadata):
        raise TypeError(f"metadata must be a list of labels, got {describe(metadata)}")
    if len(metadata) != n:
        raise ValueError(
            f"metadata must have one label per data point: {len(metadata)} labels for {n} points"
        )
    if not metadata_header:
        lines = [str(x) for x in metadata]
    else:
        header = list(metadata_header)
        rows = [header]
        for i, row in enumerate(metadata):
            if not _is_list_like(row):
                raise TypeError(
                    f"metadata[{i}] must be a list of {len(header)} columns (metadata_header "
                    f"is given), got {describe(row)}"
                )
            if len(row) != len(header):
                raise ValueError(
                    f"metadata[{i}] has {len(row)} columns but metadata_header has {len(header)}"
                )
            rows.append(row)
        lines = ["\t".join(str(e) for e in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _is_list_like(x: Any) -> bool:
    return not isinstance(x, (str, bytes)) and (
        isinstance(x, (Sequence, np.ndarray))
        or (hasattr(x, "__len__") and hasattr(x, "__getitem__"))
    )


def sprite_side(shape: tuple) -> int:
    """Side of torch's square sprite for label images of `shape` (N, C, H, W)."""
    n, _c, h, w = shape
    cols = min(n, math.ceil(n**0.5))
    rows = math.ceil(n / cols)
    return max(cols * w, rows * h)


def checked_target(tag: Any, tensor_format: Any, global_step: Any) -> int:
    """Checks what names the embedding's directory and format; returns its step."""
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, got {describe(tag)}")
    check_no_nul(tag, "tag")
    if tag == "..":  # the one tag `encode_tag` leaves a path out of its step's folder
        raise ValueError(f"tag cannot be '..' (it names a directory): {tag!r}")
    if tensor_format not in TENSOR_FORMATS:
        raise ValueError(f"tensor_format must be 'tsv' or 'binary', got {tensor_format!r}")
    return 0 if global_step is None else as_step(global_step)


class Contents(NamedTuple):
    """What the thread writes: the matrix, metadata.tsv and the label images."""

    mat: np.ndarray
    mat_code: DType
    metadata: Optional[bytes]
    label_img: Optional[tuple[np.ndarray, DType]]


def contents(
    mat: Any, metadata: Any, label_img: Any, metadata_header: Any, stacklevel: int
) -> Contents:
    """The embedding's arrays and metadata.tsv, every argument checked (by shape and
    type only: the CUDA path runs this on buffers whose values have not arrived)."""
    mat_arr, mat_code = mat_array(mat)
    n = mat_arr.shape[0]
    metadata_bytes = None if metadata is None else metadata_tsv(metadata, n, metadata_header)
    img = None
    if label_img is not None:
        img = label_image(label_img)
        img_arr = img[0]
        if img_arr.shape[0] != n:
            raise ValueError(
                f"label_img must have one image per data point: {img_arr.shape[0]} "
                f"images for {n} points"
            )
        if min(img_arr.shape) == 0:
            raise ValueError(f"label_img has no pixels: shape {img_arr.shape}")
        _core.check_label_img_shape(list(img_arr.shape))  # the sprite's size
        side = sprite_side(img_arr.shape)
        if side > MAX_SPRITE_SIDE:
            warnings.warn(
                f"add_embedding: the sprite is {side}x{side} pixels; TensorBoard's "
                f"projector shows at most {MAX_SPRITE_SIDE}x{MAX_SPRITE_SIDE}",
                stacklevel=stacklevel,
            )
    return Contents(mat_arr, mat_code, metadata_bytes, img)


def mat_array(mat: Any) -> tuple[np.ndarray, DType]:
    mat_arr, mat_code = array_for_core(mat, "mat")
    if mat_arr.ndim != 2:
        raise ValueError(
            f"mat must be 2-D (N, D), where N is the number of points, got shape {mat_arr.shape}"
        )
    return mat_arr, mat_code


def label_image(label_img: Any) -> tuple[np.ndarray, DType]:
    img_arr, img_code = array_for_core(label_img, "label_img")
    if img_arr.ndim != 4 or img_arr.shape[1] not in (1, 3):
        raise ValueError(
            f"label_img must have shape (N, C, H, W) with C = 1 or 3, got {img_arr.shape}"
        )
    return img_arr, img_code


class Target(NamedTuple):
    """Where an embedding's files go: `subdir` of `logdir` (a URL's staging directory,
    whose files `remote` uploads), and its tensor's name in the config."""

    logdir: str
    subdir: str
    tensor_name: str
    remote: Optional[_core.RemoteFiles]


class EmbeddingFiles:
    """One writer's embeddings: its background thread and the projector config entries.

    After a fork, the child gets a new thread (the parent's does not exist there) and
    keeps the entries written so far, as a pickled writer does.
    """

    def __init__(
        self,
        config: Optional[list] = None,
        storage_options: Optional[dict] = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self.config: list = list(config or [])
        self._core: Optional[_core.EmbeddingWriter] = None
        self._pid = -1
        # URL log dirs: their staging and uploads, and the embeddings written there but
        # not yet handed to the uploader (a file goes up once its writer has finished it).
        self._storage_options = storage_options
        self._close_timeout = close_timeout
        self._remote: dict[str, _core.RemoteFiles] = {}
        self._unsent: list[tuple[_core.RemoteFiles, str]] = []
        self._remote_pid = os.getpid()
        # Submitting and recording the config entry happen together, so that each job's
        # config lists every earlier embedding (calls may come from several threads).
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"config": list(self.config)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state.get("config"))  # type: ignore[misc]

    def _writer(self) -> _core.EmbeddingWriter:
        if self._core is None or self._pid != os.getpid():
            self._core = _core.EmbeddingWriter()
            self._pid = os.getpid()
            _lifecycle.register(self, _lifecycle.EMBEDDINGS)
        return self._core

    def _local(self, logdir: str) -> tuple[str, Optional[_core.RemoteFiles]]:
        """Where the files are written: `logdir` itself, or a URL's staging directory."""
        if not is_remote(logdir):
            return logdir, None
        if self._remote_pid != os.getpid():  # a forked child: its own staging and uploads
            self._remote, self._unsent, self._remote_pid = {}, [], os.getpid()
        files = self._remote.get(logdir)
        if files is None:
            options = list((self._storage_options or {}).items())
            files = _core.RemoteFiles(logdir, options, self._close_timeout)
            self._remote[logdir] = files
        return files.staging, files

    def _send(self) -> None:
        """Hands every finished embedding's files, then the config, to the uploader."""
        unsent, self._unsent = self._unsent, []
        configs = {}
        for files, subdir in unsent:
            folder = os.path.join(files.staging, subdir)
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), "rb") as f:
                    files.put(f"{subdir}/{name}", f.read())
            configs[id(files)] = files
        for files in configs.values():
            with open(os.path.join(files.staging, CONFIG_FILE), "rb") as f:
                files.put(CONFIG_FILE, f.read())

    def add(
        self,
        logdir: str,
        mat: Any,
        metadata: Any,
        label_img: Any,
        global_step: Any,
        tag: str,
        metadata_header: Any,
        tensor_format: str,
    ) -> None:
        """The host path: everything checked and handed to the thread now."""
        step = checked_target(tag, tensor_format, global_step)
        parts = contents(mat, metadata, label_img, metadata_header, stacklevel=4)
        target = self.place(logdir, step, tag, stacklevel=4)
        self.submit(target, parts, tensor_format == "binary")

    def place(self, logdir: str, step: int, tag: str, stacklevel: int) -> Target:
        """Creates the embedding's directory ``{logdir}/{step:05d}/{tag}`` (warning when
        it exists) and says where its files go."""
        step_text = str(step).zfill(5)
        subdir = f"{step_text}/{encode_tag(tag)}"
        inside(logdir, subdir, "tag", tag)  # checked against the log dir as given
        logdir, remote = self._local(logdir)
        save_path = inside(logdir, subdir, "tag", tag)  # a symlink may lead out of it
        if os.path.exists(save_path):
            if not os.path.isdir(save_path):
                raise NotADirectoryError(
                    f"Path: `{save_path}` exists, but is a file. Cannot proceed."
                )
            warnings.warn(
                f"add_embedding: {save_path} exists (did you set global_step?); its files "
                "are replaced",
                stacklevel=stacklevel,
            )
        else:
            os.makedirs(save_path, exist_ok=True)
        return Target(logdir, subdir, f"{tag}:{step_text}", remote)

    def submit(self, target: Target, parts: Contents, binary: bool) -> None:
        """Hands the files to the thread; its config entry follows the earlier ones."""
        if self._core is not None and self._pid != os.getpid():
            self._lock = threading.Lock()  # a forked child: the parent's may be held
        with self._lock:
            info = self._writer().submit(
                target.logdir,
                target.subdir,
                target.tensor_name,
                parts.mat,
                parts.mat_code,
                binary,
                parts.metadata,
                parts.label_img,
                self.config,
            )
            self.config.append(info)
            if target.remote is not None:
                self._unsent.append((target.remote, target.subdir))

    def wait(self) -> None:
        """Returns when every embedding added so far is on disk (for a URL log dir: in
        the staging directory, and handed to the uploader)."""
        if self._core is not None and self._pid == os.getpid():
            self._core.wait()
            self._send()

    def close(self) -> None:
        """Writes everything; for URL log dirs, returns once the store holds it (OSError
        naming what is missing after the close timeout)."""
        core, self._core = self._core, None
        if core is not None and self._pid == os.getpid():
            _lifecycle.unregister(self, _lifecycle.EMBEDDINGS)
            core.close()
            self._send()
        remote, self._remote = self._remote, {}
        if self._remote_pid != os.getpid():
            return  # the parent's uploads: not this process's to wait for
        errors = []
        for files in remote.values():
            try:
                files.close()
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
