"""``python -m rollout_client``: the CLI."""

import sys

from .cli import main

sys.exit(main())
