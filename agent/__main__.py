"""`python -m agent` is `caseguard-agent`."""

import sys

from agent.cli import main

sys.exit(main())
