"""`python -m htr_lit.report SWEEP_DIR` (or `htr-report`): the sweep report, see `htr_lit.reporting.report`."""

from __future__ import annotations

import sys

from htr_lit.reporting.report import main

if __name__ == "__main__":
    sys.exit(main())
