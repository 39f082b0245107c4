"""Gallery Sorter: entry point. The pages and the navigation are in pages/ui/nav.py (shared with deploy/)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pages.ui.nav import run_app  # noqa: E402

run_app()
