"""`python -m htr_lit.data.synth` (the `htr-synth` console script): generate or preview the synthetic data."""

import sys

from htr_lit.data.synth.cli import main

sys.exit(main())
