"""`python -m collector` is `caseguard-collector`."""

import sys

from collector.cli import main

sys.exit(main())
