"""Run bookkeeping shared by the entry points: job records and resuming, the task wrapper, speed timing,
callbacks and logger factories."""
