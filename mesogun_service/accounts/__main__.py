"""``python -m mesogun_service.accounts``: the same as ``mesogun users``."""

import sys

from mesogun_service.accounts.cli import main

sys.exit(main())
