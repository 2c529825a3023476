"""Inference engine shared by `htr-predict`, writer cross-validation and the predict benchmark: backends
that turn a padded batch into CTC log-probabilities (PyTorch, onnxruntime fp32 or int8) and the batched,
width-sorted transcription loop around them."""
