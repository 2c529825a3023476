"""Sequence models: (B, C, H, W) feature map + frame lengths -> (B, T, D) per-frame features.

Every sequence model takes `in_channels` and `in_height` (the encoder's output shape) as its first
constructor arguments, so Hydra configs can be `_partial_` and the module fills them in.
"""
