"""`python -m cli`: the same as the `llorch` console script."""

import sys

from .main import main

sys.exit(main())
