"""Gallery Sorter engine: data intake, training, review and sorting. Never imports streamlit."""

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
