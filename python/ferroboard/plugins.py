"""PR curves, custom scalars, mesh, hparams, embeddings, graphs and tensorboardX extras.

(Filled in by the rest-of-the-API work: issue 4.)
"""

from __future__ import annotations


class PluginsMixin:
    """Plugin methods of `SummaryWriter`."""
