"""``python -m seqkit``: the command line."""

import sys

from seqkit.cli import main

sys.exit(main())
