"""Import everything the pages and their jobs import lazily, once, under one lock, before a page runs.

Why: every browser session runs its page in its own thread, and jobs run in more threads. When
two of them import the same module for the first time, the second can see it half-initialised:
plotly's optional import of pandas returns ``sys.modules["pandas"]`` while another thread is still
executing it, and a page died with "partially initialized module 'pandas' has no attribute
'Series'". So the first page that needs the engine imports all of it here, in one thread, while
every other session waits on the lock; after that, this is one flag check.

Home does not call this for a first visit: its first paint needs nothing of the engine.
"""

from __future__ import annotations

import importlib
import threading

# What pages, page fragments and jobs import lazily (inside functions), or that libraries import
# on first use. Core modules pull in torch, numpy, PIL, onnxruntime, sklearn pieces at their top.
MODULES = (
    "numpy",
    "pandas",
    "pyarrow",
    "PIL.Image",
    "plotly.graph_objects",
    "plotly.subplots",
    "plotly.io",
    "plotly.express",
    "torch",
    "torch.optim",
    "torch._dynamo",  # the first optimizer built imports it (seconds); training warms it in a thread
    "torch.onnx",
    "torchvision.models",
    "onnxruntime",
    "threadpoolctl",
    "sklearn.cluster",
    "sklearn.decomposition",
    "sklearn.linear_model",
    "sklearn.manifold",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "pytorch_grad_cam",
    "pillow_heif",
    "efficientnet_lite_pytorch",
    "core.data.augment",
    "core.data.dataset",
    "core.data.decisions",
    "core.data.files",
    "core.data.images",
    "core.data.intake",
    "core.models.backbones",
    "core.models.features",
    "core.models.runtime",
    "core.training.calibration",
    "core.training.costs",
    "core.training.ladder",
    "core.training.model_io",
    "core.training.train",
    "core.analysis.discover",
    "core.analysis.evaluate",
    "core.analysis.explain",
    "core.analysis.health",
    "core.inference.export",
    "core.inference.gallery",
    "core.inference.manifest",
    "core.inference.placement",
    "core.inference.sort",
    "core.inference.teach",
    "core.session.progress",
    "core.session.scheduler",
    "core.session.state",
    "core.session.workspace",
    "pages.ui.charts",
    "pages.ui.common",
    "pages.ui.folder_picker",
    "pages.ui.gallery_source",
    "pages.ui.health_view",
    "pages.ui.model_file",
    "pages.ui.review_ui",
    "pages.ui.runs_table",
    "pages.ui.single_image",
    "pages.ui.sort_output",
    "pages.ui.sort_teach",
    "pages.ui.train_custom",
    "pages.ui.upload_guard",
)
OPTIONAL = {"pillow_heif", "pyarrow", "plotly.express", "torch._dynamo", "efficientnet_lite_pytorch"}

_lock = threading.Lock()
_done = False


def ready() -> None:
    """Return once every module in MODULES is fully imported (the first caller imports them)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        for name in MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                if name not in OPTIONAL:
                    raise
        _done = True
