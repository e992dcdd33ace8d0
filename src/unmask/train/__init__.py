"""unmask.train: training-time tools (augmentation first; trainer, losses and sampling live beside it)."""
