"""Fine-tuning a whole recognizer on a user's few labelled words (`htr-adapt`, `htr_lit/adapt.py`): growing its
charset for characters it cannot write, holding words out to choose the step and to show CER before and after, and
the training loop itself."""
