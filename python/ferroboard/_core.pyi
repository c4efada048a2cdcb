"""Type stubs for the Rust extension `ferroboard._core`."""

from collections.abc import Sequence
from typing import Any, Optional, Union, final

#: A hyperparameter value as plugins.py normalizes it (Rust's `HValueArg`).
_HValue = Union[bool, str, float]

# PyO3 lists every name it registers; stubtest compares this list with the module's.
__all__ = [
    "BATCH_WINDOW_SECS",
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_PENDING_BYTES",
    "DType",
    "EmbeddingWriter",
    "EventIterator",
    "EventWriter",
    "OwnedBuffer",
    "FAULT_INJECTION",
    "LogData",
    "MAX_EVENT_BYTES",
    "ReadProgress",
    "RemoteFiles",
    "STORE_SCHEMES",
    "SummaryEncoder",
    "audio_summary",
    "check_histogram_buckets",
    "check_label_img_shape",
    "checked_walltime",
    "compute_pr_curve",
    "custom_scalars_summary",
    "default_bucket_edges",
    "draw_boxes",
    "embedding_tsv",
    "encode_png",
    "histogram_raw_summary",
    "histogram_summary",
    "hparams_session_start",
    "hparams_summaries",
    "image_summary",
    "iter_events",
    "list_objects",
    "mesh_summary",
    "pr_curve_raw_summary",
    "pr_curve_summary",
    "projector_config_text",
    "read_log",
    "read_object",
    "read_records",
    "scalar_summary",
    "sprite_png",
    "sync_staging",
    "tensor_summary",
    "text_summary",
    "video_summary",
    "write_csv",
]

BATCH_WINDOW_SECS: float
#: Whether this build honours FERROBOARD_FAULTS (test builds only).
FAULT_INJECTION: bool
#: Events of this many bytes or more are never written (2 GiB).
DEFAULT_MAX_PENDING_BYTES: int
MAX_EVENT_BYTES: int
#: URL schemes a log dir may use.
STORE_SCHEMES: list[str]
#: Default bound, in seconds, of a remote writer's close().
DEFAULT_CLOSE_TIMEOUT: float

@final
class DType:
    """An array's element type as the core takes it (torch's bfloat16 as its 16-bit
    words)."""

    Bool: DType
    Int8: DType
    Int16: DType
    Int32: DType
    Int64: DType
    UInt8: DType
    UInt16: DType
    UInt32: DType
    UInt64: DType
    Float16: DType
    BFloat16: DType
    Float32: DType
    Float64: DType
    def __int__(self) -> int: ...

# EventWriter, SummaryEncoder, EmbeddingWriter: PyO3 classes, built by `__new__` (#[new])
# and not subclassable (@final).
@final
class EventWriter:
    """One event file and the background thread that writes it."""

    def __new__(
        cls,
        logdir: str,
        filename_suffix: str = "",
        max_queue: int = 10,
        flush_secs: float = 120.0,
        max_pending_bytes: int = ...,
        storage_options: Optional[Sequence[tuple[str, str]]] = None,
        close_timeout: float = ...,
    ) -> EventWriter: ...
    @property
    def path(self) -> str: ...
    @property
    def url(self) -> Optional[str]: ...
    @property
    def upload_counts(self) -> Optional[tuple[int, int]]: ...
    @property
    def accepted(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def max_event_bytes(self) -> int: ...
    @property
    def unfilled(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    def reserve(self, step: Optional[int] = None, walltime: Optional[float] = None) -> int: ...
    def fill_scalar(
        self,
        slot: int,
        tag: str,
        value: float,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None: ...
    def fill_histogram(
        self,
        slot: int,
        tag: str,
        values: Any,
        dtype: DType,
        edges: Optional[Any] = None,
        max_bins: Optional[int] = None,
    ) -> None: ...
    def fill_histogram_counts(
        self,
        slot: int,
        tag: str,
        counts: Any,
        stats: Sequence[float],
        edges: Optional[Any] = None,
        max_bins: Optional[int] = None,
    ) -> None: ...
    def fill_encoder(self, slot: int, encoder: SummaryEncoder) -> None: ...
    def cancel(self, slot: int) -> bool: ...
    def add_scalar(
        self,
        tag: str,
        value: float,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None: ...
    def add_text(
        self, tag: str, text: str, step: Optional[int] = None, walltime: Optional[float] = None
    ) -> None: ...
    def add_histogram(
        self,
        tag: str,
        values: Any,
        dtype: DType,
        edges: Optional[Any] = None,
        max_bins: Optional[int] = None,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: float,
        sum: float,
        sum_squares: float,
        bucket_limits: list[float],
        bucket_counts: list[float],
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def add_tensor(
        self,
        tag: str,
        values: Any,
        dtype: DType,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
        complex: bool = False,
    ) -> None: ...
    def add_summary_bytes(
        self, summary: bytes, step: Optional[int] = None, walltime: Optional[float] = None
    ) -> None: ...
    def add_event_bytes(
        self, event: bytes, step: Optional[int] = None, walltime: Optional[float] = None
    ) -> None: ...
    def add_purge_markers(self, step: int) -> None: ...
    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        dtype: DType,
        dataformats: str = "CHW",
        step: Optional[int] = None,
        walltime: Optional[float] = None,
        rescale: float = 1.0,
        boxes: Any = None,
        labels: Optional[list[str]] = None,
        drop_alpha: bool = False,
        arg_name: str = "img_tensor",
    ) -> None: ...
    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        dtype: DType,
        dataformats: str = "NTCHW",
        fps: float = 4.0,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        dtype: DType,
        sample_rate: float = 44100.0,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def add_encoder(
        self, encoder: SummaryEncoder, step: Optional[int] = None, walltime: Optional[float] = None
    ) -> None: ...
    def add_graph_nodes(
        self, nodes: list[Any], run_metadata: bool = True, walltime: Optional[float] = None
    ) -> None: ...
    def add_graph_bytes(
        self,
        graph_def: bytes,
        run_metadata: Optional[bytes] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def flush(self) -> None: ...
    def close(self, timeout: Optional[float] = None) -> None: ...

@final
class RemoteFiles:
    """Files under a URL log dir: staged locally, uploaded whole in the background."""

    def __new__(
        cls,
        url: str,
        storage_options: Optional[Sequence[tuple[str, str]]] = None,
        close_timeout: float = ...,
    ) -> RemoteFiles: ...
    @property
    def staging(self) -> str: ...
    def put(self, name: str, data: bytes) -> None: ...
    def close(self, timeout: Optional[float] = None) -> None: ...

@final
class SummaryEncoder:
    """A summary built and validated, not encoded yet: `EventWriter.add_encoder` queues
    it, `serialize()` encodes it now (the whole Summary, or with `part` "image" or
    "histogram" the `Summary.Image` or `HistogramProto` of its first value)."""

    def serialize(self, part: str = "summary") -> bytes: ...

@final
class EmbeddingWriter:
    """Writes projector files (tensors, metadata, sprite, config) on its own thread."""

    def __new__(cls, max_pending_bytes: int = ...) -> EmbeddingWriter: ...
    def submit(
        self,
        logdir: str,
        subdir: str,
        tensor_name: str,
        mat: Any,
        mat_dtype: DType,
        binary: bool = False,
        metadata: Optional[Any] = None,
        label_img: Optional[Any] = None,
        config: list[Any] = ...,
    ) -> tuple[Any, ...]: ...
    def wait(self) -> None: ...
    def close(self) -> None: ...

def pr_curve_summary(
    tag: str,
    labels: Any,
    labels_dtype: DType,
    predictions: Any,
    predictions_dtype: DType,
    num_thresholds: int = 127,
    weights: Optional[Any] = None,
    weight: float = 1.0,
) -> SummaryEncoder: ...
def compute_pr_curve(
    labels: Any,
    labels_dtype: DType,
    predictions: Any,
    predictions_dtype: DType,
    num_thresholds: int = 127,
    weights: Optional[Any] = None,
    weight: float = 1.0,
) -> list[float]: ...
def pr_curve_raw_summary(tag: str, rows: Any, num_thresholds: int = 127) -> SummaryEncoder: ...
def mesh_summary(
    tag: str, parts: Any, json_config: str, display_name: str = "", description: str = ""
) -> SummaryEncoder: ...
def custom_scalars_summary(layout: list[Any]) -> SummaryEncoder: ...
def hparams_summaries(
    hparams: Sequence[tuple[str, _HValue, Optional[Sequence[_HValue]]]], metrics: Sequence[str]
) -> tuple[SummaryEncoder, SummaryEncoder, SummaryEncoder]: ...
def scalar_summary(
    tag: str, value: float, new_style: bool = False, double_precision: bool = False
) -> SummaryEncoder: ...
def text_summary(tag: str, text: str) -> SummaryEncoder: ...
def histogram_summary(
    tag: str,
    values: Any,
    dtype: DType,
    edges: Optional[Any] = None,
    max_bins: Optional[int] = None,
) -> SummaryEncoder: ...
def histogram_raw_summary(
    tag: str,
    min: float,
    max: float,
    num: float,
    sum: float,
    sum_squares: float,
    bucket_limits: Sequence[float],
    bucket_counts: Sequence[float],
) -> SummaryEncoder: ...
def image_summary(
    tag: str,
    img_tensor: Any,
    dtype: DType,
    dataformats: str = "CHW",
    rescale: float = 1.0,
    boxes: Any = None,
    labels: Optional[list[str]] = None,
    drop_alpha: bool = False,
    arg_name: str = "img_tensor",
) -> SummaryEncoder: ...
def video_summary(
    tag: str, vid_tensor: Any, dtype: DType, dataformats: str = "NTCHW", fps: float = 4.0
) -> SummaryEncoder: ...
def audio_summary(
    tag: str, snd_tensor: Any, dtype: DType, sample_rate: float = 44100.0
) -> SummaryEncoder: ...
def tensor_summary(
    tag: str, values: Any, dtype: DType, complex: bool = False
) -> SummaryEncoder: ...
def projector_config_text(config: list[Any]) -> str: ...
def embedding_tsv(mat: Any, dtype: DType) -> bytes: ...
def sprite_png(label_img: Any, dtype: DType) -> bytes: ...
def check_label_img_shape(shape: list[int]) -> None: ...
def checked_walltime(walltime: float) -> float: ...
def read_records(path: str) -> tuple[list[bytes], str]: ...
def sync_staging(
    staging_dir: str, storage_options: Optional[Sequence[tuple[str, str]]] = None
) -> tuple[int, int, int]: ...
def list_objects(
    url: str, storage_options: Optional[Sequence[tuple[str, str]]] = None
) -> list[tuple[str, int]]: ...
def read_object(
    url: str, name: str, storage_options: Optional[Sequence[tuple[str, str]]] = None
) -> bytes: ...
def default_bucket_edges() -> list[float]: ...
def check_histogram_buckets(arg: str, count: int) -> None: ...
def encode_png(pixels: Any) -> bytes: ...
def draw_boxes(pixels: Any, boxes: Any, labels: list[str] | None = None) -> bytes: ...

# --- reading (rust/bindings/log_reader.rs) ---------------------------------------------

_Damage = tuple[int, str, int]  # (offset, kind, bytes skipped)

@final
class ReadProgress:
    """Bytes read so far by the `read_log` calls given this counter."""

    def __new__(cls) -> ReadProgress: ...
    @property
    def bytes(self) -> int: ...

@final
class OwnedBuffer:
    """Numbers built by the core, exposed through the buffer protocol (writable)."""

    def __len__(self) -> int: ...

@final
class LogData:
    """Every event file under a log path, read into columns."""

    def __len__(self) -> int: ...
    def file(
        self, i: int
    ) -> tuple[
        str,
        str,
        str,
        int,
        int,
        list[_Damage],
        list[int],
        Optional[str],
        Optional[float],
        Optional[float],
    ]: ...
    def tags(self, i: int) -> list[str]: ...
    def plugins(self, i: int) -> list[tuple[int, str, bytes]]: ...
    def scalar_table(
        self, indices: list[int], by_dir: bool, by_name: bool, release: bool = False
    ) -> tuple[Any, ...]: ...
    def scalars(self, i: int) -> tuple[bytes, bytes, bytes, bytes, list[int]]: ...
    def scalar_order(self, i: int) -> list[int]: ...
    def histograms(self, i: int) -> dict[str, Any]: ...
    def tensors(
        self, i: int
    ) -> tuple[list[tuple[int, float, int, int, list[int], bytes, list[bytes]]], list[int]]: ...
    def images(
        self, i: int
    ) -> tuple[list[tuple[int, float, int, int, int, int, bytes]], list[int]]: ...
    def audio(
        self, i: int
    ) -> tuple[list[tuple[int, float, int, float, int, int, str, bytes]], list[int]]: ...

@final
class EventIterator:
    """The decoded events of one file: `(offset, wall_time, step, what, value)`."""

    def __iter__(self) -> EventIterator: ...
    def __next__(self) -> tuple[int, float, int, str, Any]: ...
    @property
    def damage(self) -> list[_Damage]: ...

def read_log(
    path: str,
    kinds: list[str],
    check_crc: bool = True,
    progress: Optional[ReadProgress] = None,
    light: bool = False,
) -> LogData: ...
def iter_events(path: str, check_crc: bool = True) -> EventIterator: ...
def hparams_session_start(content: bytes) -> Optional[list[tuple[str, Any]]]: ...
def write_csv(path: str, header: list[str], columns: list[tuple[str, bytes, list[str]]]) -> int: ...
