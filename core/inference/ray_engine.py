"""Sorting on Ray: the same decode -> forward -> prediction steps, spread over a Ray cluster.

Ray is optional (``pip install 'ray[data]'``); nothing else in ``core`` imports it. Each Ray
actor loads the model file once and classifies batches of paths with the single-machine code
(``load_rgb`` at reduced JPEG scale, ``eval_array``, the model through ``runtime.predict_fn``),
so the two engines give the same predictions. The model file and the images must be readable by
every worker: on one machine they are; on a cluster, put them on shared storage.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.images import ImageError, load_rgb
from ..training.calibration import calibrate
from ..training.model_io import load
from .sort import Prediction, make_prediction

CORE_DIR = Path(__file__).resolve().parents[1]  # the whole core package travels to the workers
# settings the workers need to behave like this process (offline weights, quiet albumentations)
PASSED_ENV = ("GS_OFFLINE", "GS_ENGINE", "NO_ALBUMENTATIONS_UPDATE", "OMP_WAIT_POLICY", "TORCH_HOME")


class RayUnavailable(ValueError):
    """Ray is not installed or the cluster cannot be reached (a one-line CLI error)."""


@dataclass(frozen=True)
class RayConfig:
    address: str | None = None  # None: start a local Ray instance for this run; "auto": the running cluster
    actors: int | None = None  # None: one per CPU the cluster has
    threads_per_actor: int = 1


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "--engine ray needs Ray: pip install 'ray[data]' (or leave --engine at its default)"
        ) from None
    return ray


class Classify:
    """A Ray Data actor: the model is built once per actor, then every batch reuses it."""

    def __init__(self, model_path: str, threads: int) -> None:
        import torch

        from ..models import runtime

        torch.set_num_threads(threads)
        self.bundle = load(Path(model_path))
        self.bundle.network.eval()
        self.forward = runtime.predict_fn(self.bundle.network, self.bundle.frozen_boundary(), n_images=10**6)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        from ..data.preprocess import eval_array
        from ..models.text_layout import detect_layout

        pre = self.bundle.preprocess
        arrays, layouts, errors = [], [], []
        for p in batch["path"]:
            try:
                img = load_rgb(str(p), min_side=pre.resize_to)
                arrays.append(eval_array(img, pre))
                layouts.append(detect_layout(img).vector if self.bundle.reads_text else None)
                errors.append("")
            except ImageError as exc:
                arrays.append(None)
                layouts.append(None)
                errors.append(str(exc))
        probs = np.full((len(arrays), len(self.bundle.classes)), np.nan, np.float32)
        ok = [k for k, a in enumerate(arrays) if a is not None]
        if ok:
            x = torch.from_numpy(np.stack([arrays[k] for k in ok]))
            text = torch.from_numpy(np.stack([layouts[k] for k in ok])) if self.bundle.reads_text else None
            with torch.inference_mode():
                probs[ok] = self.forward(x, text).softmax(1).numpy()
        return {"i": batch["i"], "probs": probs, "error": np.asarray(errors, dtype=object)}


def predict_paths_ray(
    model_path: Path,
    paths: Sequence[Path],
    batch_size: int = 16,
    top_k: int = 3,
    config: RayConfig = RayConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Prediction]:
    """Predictions for ``paths`` by Ray actors, yielded as they arrive (any order).

    The actors get the model's path, not its bytes: each reads the file itself, as it reads the
    images, so nothing large goes through Ray's object store.
    """
    ray = _import_ray()
    model_path = Path(model_path).resolve()
    bundle = load(model_path)  # also fails early, with the usual message, on a bad model file
    classes, temperature = bundle.classes, bundle.temperature
    del bundle
    started_here = not ray.is_initialized()
    if started_here:
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        # py_modules ships this package to the workers, so a remote cluster needs no install of it
        runtime_env = {"py_modules": [str(CORE_DIR)], "env_vars": env}
        try:
            ray.init(
                address=config.address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env=runtime_env,
            )
        except ConnectionError as exc:
            raise RayUnavailable(f"cannot reach the Ray cluster at {config.address}: {exc}") from None
    try:
        from ray.data import DataContext

        # the caller draws its own progress bar; Ray Data's bars and notices would interleave with it
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        DataContext.get_current().enable_progress_bars = False
        actors = config.actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // config.threads_per_actor)
        items = [{"i": i, "path": str(p)} for i, p in enumerate(paths)]
        results = ray.data.from_items(items).map_batches(
            Classify,
            fn_constructor_kwargs={"model_path": str(model_path), "threads": config.threads_per_actor},
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=config.threads_per_actor,
        )
        for done, row in enumerate(results.iter_rows(), 1):
            path = Path(paths[int(row["i"])])
            if row["error"]:
                yield Prediction(path, None, error=str(row["error"]))
            else:
                probs = np.asarray(row["probs"])
                cal = float(calibrate(probs, temperature).max())
                yield make_prediction(path, probs, classes, top_k, cal)
            if progress:
                progress(done, len(paths))
    finally:
        if started_here:
            ray.shutdown()
