"""Optional integrations with training frameworks; each module imports its framework.

- ``ferroboard.integrations.lightning``: ``TensorBoardLogger`` for Lightning
  (``lightning.pytorch``), and ``ferroboard.integrations.pytorch_lightning`` for the
  older ``pytorch_lightning`` package.
- ``ferroboard.integrations.transformers``: ``TensorBoardCallback`` for the Hugging Face
  ``Trainer``.

Importing ``ferroboard`` imports none of them.
"""
