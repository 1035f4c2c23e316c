"""`python -m lab build`: build (or find cached) the Asterisk root filesystem."""

import sys

from lab.asterisk import ensure_rootfs

if sys.argv[1:] != ["build"]:
    sys.exit("usage: python -m lab build")
print(f"lab: Asterisk root filesystem at {ensure_rootfs()}")
