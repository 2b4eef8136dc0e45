#!/usr/bin/env python3
"""An AM worker in Python (stdlib + httpx): `python3 client_worker.py --config mcp_client_config.json`.

Runs from a checkout without installing: this file puts its own folder on sys.path for `am_worker`.
See README.md in this folder, or `--help`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from am_worker.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
