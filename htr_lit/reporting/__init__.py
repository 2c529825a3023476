"""From finished sweeps to results: aggregate the jobs, re-time their inference alone, write the report
(markdown, CSV, figures) and splice it into docs/results.md."""
