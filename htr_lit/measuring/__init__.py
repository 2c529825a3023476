"""Measurements of the suite itself: model and end-to-end throughput (bench, bench_predict), speed against
line length, sweep jobs re-timed alone, the GPU check, and the decoder, augmentation and robustness benchmarks."""
