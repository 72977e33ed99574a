"""``python -m r1v4.cli``: the ``r1v4`` command."""

import sys

from r1v4.cli import main

sys.exit(main())
