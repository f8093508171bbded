"""The bundle's program: the same entry point as the `uma-desktop` console script."""

import sys

from uma_desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
