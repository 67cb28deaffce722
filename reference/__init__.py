"""The PyTorch mirror of zeronet: same models in torch, weights both ways, comparisons."""

from reference.mirror import from_torch, mirror, mirror_loss, mirror_optimizer, torch_dtype

__all__ = ["from_torch", "mirror", "mirror_loss", "mirror_optimizer", "torch_dtype"]
