"""Type stubs for the Rust extension `ferroboard._core`."""

from typing import Any, Optional

BATCH_WINDOW_SECS: float
#: Whether this build honours FERROBOARD_FAULTS (test builds only).
FAULT_INJECTION: bool

class EventWriter:
    """One event file and the background thread that writes it."""

    def __init__(
        self,
        logdir: str,
        filename_suffix: str = "",
        max_queue: int = 10,
        flush_secs: float = 120.0,
        max_pending_bytes: int = ...,
    ) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def accepted(self) -> int: ...
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
        dtype: str,
        edges: Optional[list[float]] = None,
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
        dtype: str,
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
        dtype: str,
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
        dtype: str,
        dataformats: str = "NTCHW",
        fps: float = 4.0,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        dtype: str,
        sample_rate: float = 44100.0,
        step: Optional[int] = None,
        walltime: Optional[float] = None,
    ) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...

def read_records(path: str) -> tuple[list[bytes], str]: ...
def default_bucket_edges() -> list[float]: ...
def encode_png(pixels: Any) -> bytes: ...
