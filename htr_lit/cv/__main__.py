"""`python -m htr_lit.cv`: see htr_lit/cv/main.py."""

import sys

from htr_lit.cv.main import main

sys.exit(main())
