"""``python -m zeronet``: the ``zeronet`` command (see :mod:`zeronet.cli`)."""

import sys

from zeronet.cli import main

if __name__ == "__main__":
    sys.exit(main())
