"""Synthetic handwriting: words and place names rendered with handwriting fonts (render*, fonts, words,
placenames), the spec of a dataset and its samples, the dataset on disk (dataset) and its command line
(cli, `python -m htr_lit.data.synth` or `htr-synth`)."""
