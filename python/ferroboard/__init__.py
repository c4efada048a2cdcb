"""ferroboard: a drop-in TensorBoard ``SummaryWriter`` whose heavy work runs in Rust.

from ferroboard import SummaryWriter   # instead of torch.utils.tensorboard / tensorboardX
"""

import importlib
from typing import Any

from .file_writer import FileWriter
from .writer import SummaryWriter

__version__ = "0.1.0"
__all__ = ["FileWriter", "GlobalSummaryWriter", "SummaryWriter", "__version__", "summary"]


def __getattr__(name: str) -> Any:
    # Imported on first use: most programs need neither.
    if name == "GlobalSummaryWriter":
        return importlib.import_module(".global_writer", __name__).GlobalSummaryWriter
    if name == "summary":
        return importlib.import_module(".summary", __name__)
    raise AttributeError(f"module 'ferroboard' has no attribute {name!r}")
