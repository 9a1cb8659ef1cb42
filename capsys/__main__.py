"""``python -m capsys`` is the ``capsys`` command."""

import sys

from capsys.cli import main

sys.exit(main())
