"""``python -m chainrule``: the ``chainrule`` command, for when the script is not on PATH."""

import sys

from chainrule.cli import main

sys.exit(main())
