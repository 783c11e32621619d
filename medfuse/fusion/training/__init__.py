"""Training of the learned fusion networks: losses, data (split by case) and the seeded loop."""

from medfuse.fusion.training.loop import load_pipeline, train_fusion

__all__ = ["load_pipeline", "train_fusion"]
