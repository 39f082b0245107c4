"""Streamlit Community Cloud entry point: the same app, in hosted mode.

Community Cloud installs deploy/requirements.txt (next to this file), which pins
CPU-only torch/torchvision wheels; everything else matches requirements.txt.
"""

import os
import runpy
from pathlib import Path

os.environ.setdefault("GS_HOSTED", "1")
runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
