"""`python -m bot.cli`: the `talkbot` command."""

import sys

from bot.cli import main

sys.exit(main())
