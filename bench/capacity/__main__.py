"""`python -m bench.capacity` (`make capacity`): the capacity model's report (`cli.main`)."""

from __future__ import annotations

import sys

from bench.capacity.cli import main

if __name__ == "__main__":
    sys.exit(main())
