from __future__ import annotations

import sys

from ambdiff.cli import main

sys.exit(main())
