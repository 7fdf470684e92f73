"""Entry point for `python -m tools.preview`."""

import sys

from tools.preview.cli import main

sys.exit(main())
