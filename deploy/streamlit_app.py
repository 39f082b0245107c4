"""Streamlit Community Cloud entry point: the same app, in hosted mode.

Community Cloud installs deploy/requirements.txt (next to this file), which pins
CPU-only torch/torchvision wheels; everything else matches requirements.txt.
The pages are named in pages/ui/nav.py with absolute paths, so links work from here too.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("GS_HOSTED", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pages.ui.nav import run_app  # noqa: E402

run_app()
