"""ferroboard: a drop-in TensorBoard ``SummaryWriter`` whose heavy work runs in Rust.

    from ferroboard import SummaryWriter   # instead of torch.utils.tensorboard / tensorboardX
"""

from .file_writer import FileWriter
from .writer import SummaryWriter

__version__ = "0.1.0"
__all__ = ["FileWriter", "SummaryWriter", "__version__"]
