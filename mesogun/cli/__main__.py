"""``python -m mesogun.cli``: the same as the ``mesogun`` command."""

from mesogun.cli import entry_point

entry_point()
