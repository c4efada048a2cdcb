"""ferroboard: a drop-in TensorBoard ``SummaryWriter`` whose heavy work runs in Rust.

from ferroboard import SummaryWriter   # instead of torch.utils.tensorboard / tensorboardX
"""

import importlib
import os
from typing import Any

from .file_writer import FileWriter
from .patching import Patch, patch, patch_from_environment
from .writer import SummaryWriter

__version__ = "0.1.0"
__all__ = [
    "FileWriter",
    "GlobalSummaryWriter",
    "Patch",
    "SummaryReader",
    "SummaryWriter",
    "__version__",
    "patch",
    "read_events",
    "summary",
]

# FERROBOARD_PATCH=1: code that cannot be edited gets ferroboard's writers once anything
# imports ferroboard (sitecustomize, a launcher, a framework plugin). No .pth magic.
patch_from_environment(os.environ.get("FERROBOARD_PATCH"))


def __getattr__(name: str) -> Any:
    # Imported on first use: most programs need neither.
    if name == "GlobalSummaryWriter":
        return importlib.import_module(".global_writer", __name__).GlobalSummaryWriter
    if name in ("SummaryReader", "read_events"):
        return getattr(importlib.import_module(".reader", __name__), name)
    if name == "summary":
        return importlib.import_module(".summary", __name__)
    raise AttributeError(f"module 'ferroboard' has no attribute {name!r}")
