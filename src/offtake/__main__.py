"""Allow ``python -m offtake``."""

from offtake.cli import main

main()
