"""Writer cross-validation, the lab's room: the folds (`folds`), the fold as one job of a Hydra multirun
(`cv.fold=0,1,2,3,4` on any launcher), the summary over a multirun folder (`summary`), two recipes paired
(`compare`, `paired`), the fold x configuration ablation (`ablation`, `ablation_report`, `curves`), the
Pareto front, and measurements over fold models: a Tesseract baseline, the label audit with planted errors
(`audit_planted`), the word-confidence calibration (`calibrate`), training on cleaned labels (`cleaned_report`), the
kinds of the errors (`error_kinds`), adaptation by writer (`adapt_curve`, `adapt_report`), CER inside / outside the
names LM's corpus.
The entry point is `python -m htr_lit.cv` (`htr_lit/cv/main.py`)."""
