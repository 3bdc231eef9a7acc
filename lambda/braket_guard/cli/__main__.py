"""``python -m braket_guard.cli``: the same as the ``braket-guard`` command."""

import sys

from braket_guard.cli import main

sys.exit(main())
