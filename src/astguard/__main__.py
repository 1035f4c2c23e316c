import sys

from astguard.surfaces.cli import main

sys.exit(main())
