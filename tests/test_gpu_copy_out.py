"""Media, tensors, PR curves, meshes and `add_scalars` of CUDA tensors (docs/gpu.md),
driven on CPU: tensors routed through the GPU path, fake completion events, and every
device tensor wrapped so that a host read of it (`.cpu()`, `.item()`, `.numpy()`, ...)
raises, as it would synchronize on a GPU.

Each kind is compared with the host path (the same values given as host tensors), event
for event, decoded with TensorBoard's protos, wall time included.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import fake_events
import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import assert_events_equal, assert_logdirs_equal, events_of, summary_values
from fake_events import SyncError, no_sync
from ferroboard import _device_path

WALL = 1_700_000_000.25


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> fake_events.FakeEvents:
    return fake_events.install(monkeypatch)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _both(tmp_path: Any, events: Any, log: Callable) -> tuple[list, list]:
    """(device path's events, host path's events) of `log(writer, wrap)`."""
    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    assert events.made, "nothing went through the GPU path"
    assert w.file_writer._core.unfilled == len(events.made)  # all still pending
    for event in events.made:
        event.done = True
    w.close()
    return events_of(tmp_path / "device"), events_of(tmp_path / "host")


def _image(shape: tuple, seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=_gen(seed))


KINDS: dict[str, Callable[[Any, Callable], None]] = {
    "image_chw": lambda w, d: w.add_image("img", d(_image((3, 9, 7))), 3, WALL),
    "image_hwc_uint8": lambda w, d: w.add_image(
        "img", d((_image((5, 6, 3)) * 255).to(torch.uint8)), 3, WALL, dataformats="HWC"
    ),
    "image_non_contiguous": lambda w, d: w.add_image(
        "img", d(_image((9, 7, 3)).permute(2, 0, 1)), 3, WALL
    ),
    "image_bfloat16": lambda w, d: w.add_image("img", d(_image((1, 4, 4)).bfloat16()), 0, WALL),
    "images_nchw": lambda w, d: w.add_images("imgs", d(_image((5, 3, 6, 4))), 1, WALL),
    "images_list": lambda w, d: w.add_images(
        "imgs", [d(_image((3, 6, 4), s)) for s in range(3)], 1, WALL, dataformats="CHW"
    ),
    "image_with_boxes": lambda w, d: w.add_image_with_boxes(
        "boxed",
        d(_image((3, 32, 32))),
        d(torch.tensor([[1.0, 2.0, 20.0, 25.0], [4.0, 4.0, 9.0, 30.0]])),
        2,
        WALL,
        labels=["cat", "dog"],
    ),
    "image_with_boxes_host_boxes": lambda w, d: w.add_image_with_boxes(
        "boxed", d(_image((3, 16, 16))), np.array([[1.0, 2.0, 10.0, 12.0]]), 2, WALL, 2
    ),
    "video": lambda w, d: w.add_video("vid", d(_image((2, 3, 3, 8, 8))), 4, fps=5, walltime=WALL),
    "audio": lambda w, d: w.add_audio(
        "snd", d(torch.sin(torch.arange(400) / 7.0)), 5, sample_rate=8000, walltime=WALL
    ),
    "audio_stereo": lambda w, d: w.add_audio(
        "snd", d(torch.rand((300, 2), generator=_gen()) * 2 - 1), 5, walltime=WALL
    ),
    "tensor": lambda w, d: w.add_tensor("t", d(torch.arange(12.0).reshape(3, 4)), 6, WALL),
    "tensor_int": lambda w, d: w.add_tensor("t", d(torch.arange(5, dtype=torch.int64)), 6, WALL),
    "tensor_complex": lambda w, d: w.add_tensor(
        "t", d(torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64)), 6, WALL
    ),
    "pr_curve": lambda w, d: w.add_pr_curve(
        "pr",
        d(torch.randint(0, 2, (100,), generator=_gen())),
        d(torch.rand(100, generator=_gen(1))),
        7,
        walltime=WALL,
    ),
    "pr_curve_weights": lambda w, d: w.add_pr_curve(
        "pr",
        d(torch.randint(0, 2, (50,), generator=_gen())),
        d(torch.rand(50, generator=_gen(1))),
        7,
        num_thresholds=33,
        weights=d(torch.rand(50, generator=_gen(2))),
        walltime=WALL,
    ),
    "pr_curve_host_labels": lambda w, d: w.add_pr_curve(
        "pr", np.array([0, 1, 1, 0]), d(torch.tensor([0.1, 0.8, 0.6, 0.3])), 7, walltime=WALL
    ),
    "mesh": lambda w, d: w.add_mesh(
        "mesh",
        d(torch.rand((1, 4, 3), generator=_gen())),
        colors=d(torch.randint(0, 256, (1, 4, 3), dtype=torch.uint8, generator=_gen())),
        faces=d(torch.tensor([[[0, 1, 2], [0, 2, 3]]], dtype=torch.int32)),
        config_dict={"camera": {"fov": 60}},
        global_step=8,
        walltime=WALL,
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_writes_the_host_paths_event_without_reading_the_device(tmp_path, events, kind):
    device, host = _both(tmp_path, events, KINDS[kind])
    assert summary_values(host)  # something to compare
    assert_events_equal(device, host, compare_wall_time=True)


def test_the_stand_in_really_refuses_host_reads(tmp_path):
    """The check behind every test here: the host path (not routed) reads the tensor."""
    t = no_sync(torch.ones(3))
    for read in (t.cpu, t.numpy, t.tolist, lambda: np.asarray(t), lambda: float(t[0])):
        with pytest.raises(SyncError):
            read()
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(SyncError):
            w.add_image("x", t.reshape(1, 1, 3))


def test_add_scalars_reserves_one_slot_per_sub_run(tmp_path, events):
    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_scalar("before", 1.0, 0, WALL)
        w.add_scalars("loss", {"train": d(torch.tensor(0.5)), "val": 0.25}, 1, WALL)
        w.add_scalars("loss", {"train": d(torch.tensor(0.125, dtype=torch.float64))}, 2, WALL)

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    assert len(events.made) == 2  # the two device values, in the "train" sub-run's file
    train = w.all_writers[w.log_dir + "/loss_train"]
    assert train._core.unfilled == 2 and w.file_writer._pending is None
    assert w.scalar_dict[w.log_dir + "/loss_val"] == [[WALL, 1, 0.25]]
    assert w.log_dir + "/loss_train" not in w.scalar_dict  # not arrived yet
    events.made[0].done = True
    assert w.poll() == 1  # the second is still pending
    assert w.scalar_dict[w.log_dir + "/loss_train"] == [[WALL, 1, 0.5]]
    w.flush()  # waits for the second
    assert w.scalar_dict[w.log_dir + "/loss_train"] == [[WALL, 1, 0.5], [WALL, 2, 0.125]]
    w.close()
    assert_logdirs_equal(tmp_path / "device", tmp_path / "host", compare_wall_time=True)


def test_add_scalars_checks_device_values_at_the_call(tmp_path, events):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match=r"tag_scalar_dict\['a'\] must hold exactly one"):
            w.add_scalars("m", {"a": no_sync(torch.ones(2))}, 0)
        with pytest.raises(TypeError, match=r"tag_scalar_dict\['a'\] must be a real number"):
            w.add_scalars("m", {"a": no_sync(torch.ones(1, dtype=torch.complex64))}, 0)
    assert events.made == []


def test_file_order_is_kept_while_a_copy_is_pending(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_scalar("a", 1.0, 0)
    w.add_image("img", no_sync(_image((3, 4, 4))), 1)
    w.add_audio("snd", no_sync(torch.zeros(50)), 2)
    w.add_scalar("b", 2.0, 3)
    w.file_writer._core.flush()
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["a"]
    events.made[1].done = True  # the audio's copy completed first: still held back
    assert w.poll() == 2
    events.made[0].done = True
    assert w.poll() == 0
    w.file_writer._core.flush()
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["a", "img", "snd", "b"]
    w.close()


def test_flush_and_close_wait_for_the_copies(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_video("vid", no_sync(_image((1, 2, 3, 4, 4))), 0)
    w.add_tensor("t", no_sync(torch.ones(3)), 1)
    w.flush()
    assert [e.waits for e in events.made] == [1, 1]
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["vid", "t"]
    w.add_mesh("m", no_sync(torch.zeros((1, 3, 3))), global_step=2)
    w.close()
    assert events.made[2].waits == 1
    assert [v.tag for v in summary_values(events_of(tmp_path))][-1].startswith("m")


def test_host_arguments_are_copied_at_the_call(tmp_path, events):
    """A host argument changed after the call does not change what is written."""
    labels = np.array([0, 1, 1, 0])
    predictions = torch.tensor([0.1, 0.8, 0.6, 0.3])

    def log(w: ferroboard.SummaryWriter, d: Callable) -> None:
        w.add_pr_curve("pr", labels, d(predictions), 0, walltime=WALL)

    fake_events.host_reference(tmp_path / "host", log)
    w = ferroboard.SummaryWriter(str(tmp_path / "device"))
    log(w, no_sync)
    labels[:] = 1  # the caller reuses its array before the copy completed
    events.made[0].done = True
    w.close()
    assert_events_equal(
        events_of(tmp_path / "device"), events_of(tmp_path / "host"), compare_wall_time=True
    )


BAD_CALLS: list[tuple[str, Callable, type, str]] = [
    (
        "image rank",
        lambda w: w.add_image("i", no_sync(torch.zeros(2, 3, 4, 5))),
        ValueError,
        "img_tensor",
    ),
    (
        "image formats",
        lambda w: w.add_image("i", no_sync(torch.zeros(3, 4, 4)), dataformats=3),
        TypeError,
        "dataformats",
    ),
    (
        "boxes shape",
        lambda w: w.add_image_with_boxes(
            "i", no_sync(torch.zeros(3, 4, 4)), no_sync(torch.zeros(2, 3))
        ),
        ValueError,
        "box_tensor",
    ),
    (
        "video rank",
        lambda w: w.add_video("v", no_sync(torch.zeros(2, 3, 4, 4))),
        ValueError,
        "vid_tensor",
    ),
    (
        "audio shape",
        lambda w: w.add_audio("a", no_sync(torch.zeros(3, 5))),
        ValueError,
        "snd_tensor",
    ),
    (
        "audio rate",
        lambda w: w.add_audio("a", no_sync(torch.zeros(5)), sample_rate="x"),
        TypeError,
        "sample_rate",
    ),
    (
        "pr sizes",
        lambda w: w.add_pr_curve("p", no_sync(torch.zeros(3)), no_sync(torch.zeros(4))),
        ValueError,
        "same number",
    ),
    ("mesh shape", lambda w: w.add_mesh("m", no_sync(torch.zeros(4, 3))), ValueError, "vertices"),
    ("tensor tag", lambda w: w.add_tensor(3, no_sync(torch.zeros(2))), TypeError, "tag"),
]


@pytest.mark.parametrize("name,call,error,match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_at_the_call_naming_the_argument(
    tmp_path, events, name, call, error, match
):
    w = ferroboard.SummaryWriter(str(tmp_path))
    with pytest.raises(error, match=match):
        call(w)
    assert events.made == []  # nothing enqueued
    assert w.file_writer is None or w.file_writer._core.unfilled == 0  # nothing reserved
    w.close()


def test_a_device_error_cancels_pending_copies_with_a_count(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_image("img", no_sync(_image((3, 4, 4))), 0)
    w.add_audio("snd", no_sync(torch.zeros(10)), 1)
    w.add_scalar("host", 1.0, 2)
    events.made[0].error = RuntimeError("CUDA error: an illegal memory access was encountered")
    with pytest.warns(RuntimeWarning, match=r"2 event\(s\).*illegal memory access"):
        w.close()
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["host"]


def test_a_forked_child_never_touches_its_parents_pending_copies(tmp_path, events):
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_image("parent", no_sync(_image((3, 4, 4))), 0)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            w.add_scalar("child", 2.0, 1)
            w.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # 17: the child touched the event
    events.made[0].done = True
    w.close()
    per_file = [
        [v.tag for v in summary_values(events_of_file)] for events_of_file in _files(tmp_path)
    ]
    assert sorted(per_file) == [["child"], ["parent"]]


def _files(logdir: Any) -> list[list]:
    from eventfiles import event_files, read_events

    return [read_events(path) for path in event_files(logdir)["."]]


def test_host_buffers_are_reused_when_the_shape_repeats(tmp_path, events, monkeypatch):
    buffers = _device_path.HostBuffers()
    monkeypatch.setattr(_device_path, "BUFFERS", buffers)
    w = ferroboard.SummaryWriter(str(tmp_path))
    w.add_image("a", no_sync(_image((3, 8, 8))), 0)
    w.add_image("b", no_sync(_image((3, 8, 8))), 1)  # the first is still pending
    assert buffers.allocated_bytes == 2 * 3 * 8 * 8 * 4  # one buffer per pending entry
    for event in events.made:
        event.done = True
    w.poll()
    for step in range(2, 10):
        w.add_image("c", no_sync(_image((3, 8, 8))), step)
        events.made[-1].done = True
        w.poll()
    assert buffers.allocated_bytes == 2 * 3 * 8 * 8 * 4  # reused, none made
    w.close()
    assert len(summary_values(events_of(tmp_path))) == 10


def test_capture_rules_apply_to_every_kind(tmp_path, events, monkeypatch):
    from ferroboard import _capture

    w = ferroboard.SummaryWriter(str(tmp_path))
    monkeypatch.setattr(_capture, "capturing", lambda: True)
    with pytest.raises(RuntimeError, match="add_image with a CUDA tensor while a CUDA graph"):
        w.add_image("i", no_sync(torch.zeros(3, 4, 4)))
    with pytest.raises(RuntimeError, match="add_scalars with a CUDA tensor"):
        w.add_scalars("m", {"a": no_sync(torch.ones(()))})
    w.add_image("host", np.zeros((3, 4, 4)))  # host values are unaffected
    monkeypatch.setattr(_capture, "capturing", lambda: False)
    w.close()
    assert events.made == []
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["host"]
