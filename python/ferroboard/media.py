"""`add_image`, `add_images`, `add_figure`, `add_image_with_boxes`, `add_video`, `add_audio`.

On the caller these only check arguments, make one contiguous array (rendering a
matplotlib figure, which is not thread-safe, is the one exception) and hand it to the
core. Layout changes, torch's scaling, the grid, boxes, PNG/GIF/WAV encoding all run on
the background worker. CUDA tensors are copied to host memory without a sync and
written once the copy completed (`_device_copy`, docs/gpu.md).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core, _device_copy
from ._core import DType
from ._writer_base import WriterBase
from .conversions import (
    array_for_core,
    check_tag,
    core_dtype,
    describe,
    optional_step,
    optional_walltime,
    to_numpy,
)

#: PIL modes passed through as they are; others are converted to RGB(A) first.
_PIL_MODES = {"1", "L", "LA", "RGB", "RGBA"}


def _is_pil_image(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "getbands")


def _dataformats(dataformats: Any) -> str:
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str such as 'CHW', got {describe(dataformats)}")
    return dataformats


def _from_pil(image: Any) -> tuple[np.ndarray, str]:
    """A PIL image as an array in its own layout: HW for gray, HWC otherwise."""
    if image.mode not in _PIL_MODES:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    array = np.asarray(image)
    return np.ascontiguousarray(array), "HW" if array.ndim == 2 else "HWC"


def _image_input(x: Any, dataformats: str, name: str) -> tuple[np.ndarray, DType, str]:
    """(array, element type, dataformats) of an image argument. PIL images bring their
    own layout, so `dataformats` is ignored for them."""
    if _is_pil_image(x):
        array, dataformats = _from_pil(x)
        return array, core_dtype(array, name), dataformats
    array, dtype = array_for_core(x, name)
    return array, dtype, dataformats


def _stack(items: list, name: str) -> np.ndarray:
    arrays = []
    for i, item in enumerate(items):
        if _is_pil_image(item):
            arrays.append(_from_pil(item)[0])
        else:
            arrays.append(to_numpy(item, f"{name}[{i}]"))
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{name}: the images of a list must have one shape, got {sorted(shapes)}")
    return np.stack(arrays)


def _render_figure(figure: Any, name: str) -> np.ndarray:
    """torch's `figure_to_image` render: Agg canvas, RGBA buffer (alpha dropped later)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:  # pragma: no cover - figures come from matplotlib
        raise TypeError(f"{name}: add_figure needs matplotlib") from exc
    if not hasattr(figure, "savefig"):
        raise TypeError(
            f"{name} must be a matplotlib Figure or a list of them, got {describe(figure)}"
        )
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def _close_figures(figures: list) -> None:
    import matplotlib.pyplot as plt

    for figure in figures:
        plt.close(figure)


def _fps(fps: Any) -> float:
    """`fps` as a float (whether it is positive and finite is the core's check)."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise TypeError(f"fps must be a number, got {describe(fps)}")
    try:
        return float(fps)
    except OverflowError as exc:
        raise ValueError(f"fps must be a positive, finite number, got {fps!r}") from exc


def number_arg(value: Any, name: str) -> float:
    """A real number argument (not a bool) as a float, with a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    return float(value)


# -- the core's arguments of each kind, shared by the writer and `ferroboard.summary` ----


def image_args(img_tensor: Any, dataformats: Any) -> tuple[np.ndarray, DType, str]:
    """(array, element type, dataformats) of `add_image`'s and `summary.image`'s input."""
    return _image_input(img_tensor, _dataformats(dataformats), "img_tensor")


def images_args(img_tensor: Any, dataformats: Any) -> tuple[np.ndarray, DType, str]:
    """`add_images`'s input: a 4-D array, or (tensorboardX) a list of 3-D images."""
    dataformats = _dataformats(dataformats)
    if isinstance(img_tensor, (list, tuple)) and len(dataformats) == 3:
        if not img_tensor:
            raise ValueError("img_tensor: the list has no image")
        img_tensor = _stack(list(img_tensor), "img_tensor")
        dataformats = "N" + dataformats
    return _image_input(img_tensor, dataformats, "img_tensor")


def boxes_args(box_tensor: Any, labels: Any) -> tuple[np.ndarray, Optional[list[str]]]:
    """`add_image_with_boxes`'s boxes as float64 and its labels as strings."""
    boxes = np.ascontiguousarray(to_numpy(box_tensor, "box_tensor"), dtype=np.float64)
    if labels is not None:
        if isinstance(labels, str):
            labels = [labels]
        labels = [str(label) for label in labels]
    return boxes, labels


def video_args(vid_tensor: Any, fps: Any, dataformats: Any) -> tuple[np.ndarray, DType, str, float]:
    """(array, element type, dataformats, fps) of `add_video`'s input."""
    dataformats = _dataformats(dataformats)
    fps_value = _fps(fps)
    array, code = array_for_core(vid_tensor, "vid_tensor")
    return array, code, dataformats, fps_value


def audio_args(snd_tensor: Any, sample_rate: Any) -> tuple[np.ndarray, DType, float]:
    """(array, element type, sample rate) of `add_audio`'s input."""
    rate = number_arg(sample_rate, "sample_rate")
    array, code = array_for_core(snd_tensor, "snd_tensor")
    return array, code, rate


class MediaMixin(WriterBase):
    """Media methods of `SummaryWriter`; encoding runs on the Rust worker."""

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        dataformats: str = "CHW",
    ) -> None:
        """Logs an image as PNG.

        ``img_tensor``: numpy, torch (CPU or CUDA), a nested list, or a PIL image.
        ``dataformats``: names the axes, any order of ``CHW``/``HWC``, ``HW``, or
        ``NCHW`` (a grid, as in `add_images`). Floats are scaled by 255 and clipped to
        [0, 255]; uint8 is kept; one channel becomes gray RGB.
        """
        check_tag(tag)
        if _device_copy.any_on_device(img_tensor):
            formats = dataformats

            def build(host: dict) -> Any:
                return _core.image_summary(tag, *image_args(host["img_tensor"], formats))

            return self._defer(
                "add_image", tag, {"img_tensor": img_tensor}, build, global_step, walltime
            )
        array, code, dataformats = image_args(img_tensor, dataformats)
        self._core().add_image(
            tag, array, code, dataformats, optional_step(global_step), optional_walltime(walltime)
        )

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Logs a batch of images as one grid of up to 8 columns (zero padding).

        ``img_tensor``: a 4-D array (``NCHW``, ``NHWC``, ... any order) or, as in
        tensorboardX, a list of 3-D images with ``dataformats`` ``CHW`` or ``HWC``.
        """
        check_tag(tag)
        stacked = _device_copy.stacked_on_device(img_tensor)
        if stacked is not None and isinstance(dataformats, str) and len(dataformats) == 3:
            img_tensor, dataformats = stacked, "N" + dataformats
        if _device_copy.any_on_device(img_tensor):
            formats = dataformats

            def build(host: dict) -> Any:
                return _core.image_summary(tag, *images_args(host["img_tensor"], formats))

            return self._defer(
                "add_images", tag, {"img_tensor": img_tensor}, build, global_step, walltime
            )
        array, code, dataformats = images_args(img_tensor, dataformats)
        self._core().add_image(
            tag, array, code, dataformats, optional_step(global_step), optional_walltime(walltime)
        )

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Any = None,
        close: bool = True,
        walltime: Any = None,
    ) -> None:
        """Logs a matplotlib figure (or a list of them, as a grid) as an RGB image.

        The figure is rendered with Agg on the calling thread (matplotlib is not
        thread-safe); only the PNG encoding runs in the background. ``close`` closes the
        figure(s) afterwards, as torch does.
        """
        check_tag(tag)
        figures = list(figure) if isinstance(figure, (list, tuple)) else [figure]
        if not figures:
            raise ValueError("figure: the list has no figure")
        renders = [_render_figure(f, "figure") for f in figures]
        if isinstance(figure, (list, tuple)):
            shapes = {r.shape for r in renders}
            if len(shapes) != 1:
                raise ValueError(
                    "figure: the figures of a list must render to one size, got "
                    f"{sorted(s[:2] for s in shapes)} (height, width)"
                )
            array, dataformats = np.stack(renders), "NHWC"
        else:
            array, dataformats = renders[0], "HWC"
        try:
            self._core().add_image(
                tag,
                array,
                DType.UInt8,
                dataformats,
                optional_step(global_step),
                optional_walltime(walltime),
                drop_alpha=True,
                arg_name="figure",
            )
        finally:
            if close:
                _close_figures(figures)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Logs an image with boxes drawn as red outlines 2 pixels wide.

        Remaining arguments: ``rescale=1, dataformats="CHW", labels=None``.
        ``box_tensor``: ``(N, 4)`` rows of (x_min, y_min, x_max, y_max) in pixels.
        ``labels``: one string per box (ignored, as in torch, if the count differs),
        drawn in black on a red box at each box's bottom-left corner. ``rescale``
        resizes the result (PIL's Lanczos). torch's and tensorboardX's positional orders work:
        torch's ``(..., walltime, rescale, dataformats, labels)`` and tensorboardX's
        ``(..., walltime, dataformats, labels)`` (told apart by the 6th argument being a
        string); keywords work with either.
        """
        check_tag(tag)
        names = (
            ("dataformats", "labels")
            if args and isinstance(args[0], str)
            else ("rescale", "dataformats", "labels")
        )
        if len(args) > len(names):
            raise TypeError(
                f"add_image_with_boxes() takes at most {5 + len(names)} positional "
                f"arguments ({5 + len(args)} given)"
            )
        options: dict[str, Any] = {"rescale": 1, "dataformats": "CHW", "labels": None}
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"add_image_with_boxes() got multiple values for {name!r}")
            options[name] = value
        unknown = sorted(set(kwargs) - set(options))
        if unknown:
            raise TypeError(f"add_image_with_boxes() got unexpected arguments {unknown}")
        options.update(kwargs)
        rescale = number_arg(options["rescale"], "rescale")
        if _device_copy.any_on_device(img_tensor, box_tensor):

            def build(host: dict) -> Any:
                array, code, formats = image_args(host["img_tensor"], options["dataformats"])
                boxes, labels = boxes_args(host["box_tensor"], options["labels"])
                return _core.image_summary(
                    tag, array, code, formats, rescale=rescale, boxes=boxes, labels=labels
                )

            values = {"img_tensor": img_tensor, "box_tensor": box_tensor}
            return self._defer("add_image_with_boxes", tag, values, build, global_step, walltime)
        array, code, dataformats = image_args(img_tensor, options["dataformats"])
        boxes, labels = boxes_args(box_tensor, options["labels"])
        self._core().add_image(
            tag,
            array,
            code,
            dataformats,
            optional_step(global_step),
            optional_walltime(walltime),
            rescale=rescale,
            boxes=boxes,
            labels=labels,
        )

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: Any = None,
        fps: Any = 4,
        walltime: Any = None,
        dataformats: str = "NTCHW",
    ) -> None:
        """Logs a video as an animated GIF (no moviepy needed).

        ``vid_tensor``: 5-D, ``(N, T, C, H, W)`` by default; tensorboardX's
        ``dataformats`` names another order. Clips are tiled in torch's grid (N padded
        to a power of two); ``fps`` sets the frame duration.
        """
        check_tag(tag)
        if _device_copy.any_on_device(vid_tensor):
            formats = dataformats

            def build(host: dict) -> Any:
                return _core.video_summary(tag, *video_args(host["vid_tensor"], fps, formats))

            return self._defer(
                "add_video", tag, {"vid_tensor": vid_tensor}, build, global_step, walltime
            )
        array, code, dataformats, fps_value = video_args(vid_tensor, fps, dataformats)
        self._core().add_video(
            tag,
            array,
            code,
            dataformats,
            fps_value,
            optional_step(global_step),
            optional_walltime(walltime),
        )

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: Any = None,
        sample_rate: Any = 44100,
        walltime: Any = None,
    ) -> None:
        """Logs audio as a 16-bit PCM WAV.

        ``snd_tensor``: ``(L,)`` or ``(1, L)`` mono (torch), or ``(L, 2)`` stereo
        (tensorboardX), values in [-1, 1]; louder values are clipped.
        """
        check_tag(tag)
        if _device_copy.any_on_device(snd_tensor):

            def build(host: dict) -> Any:
                return _core.audio_summary(tag, *audio_args(host["snd_tensor"], sample_rate))

            return self._defer(
                "add_audio", tag, {"snd_tensor": snd_tensor}, build, global_step, walltime
            )
        array, code, rate = audio_args(snd_tensor, sample_rate)
        self._core().add_audio(
            tag,
            array,
            code,
            rate,
            optional_step(global_step),
            optional_walltime(walltime),
        )
