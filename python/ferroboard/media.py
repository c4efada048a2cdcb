"""`add_image`, `add_images`, `add_figure`, `add_image_with_boxes`, `add_video`, `add_audio`.

(Filled in by the media work: issue 3.)
"""

from __future__ import annotations


class MediaMixin:
    """Media methods of `SummaryWriter`; encoding runs on the Rust worker."""
