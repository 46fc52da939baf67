"""``python -m chipsim`` is the ``chipsim`` command."""

import sys

from chipsim.cli import main

sys.exit(main())
