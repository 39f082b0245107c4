"""Deployment settings read from the environment (hosted demo vs local use)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    hosted: bool
    allow_local_paths: bool
    max_images: int
    max_epochs: int
    max_upload_mb: int
    allow_full_finetune: bool


def load_settings() -> Settings:
    """GS_HOSTED=1 switches on hosted mode: no local paths, tighter limits.

    Each limit can also be set on its own (GS_ALLOW_LOCAL_PATHS, GS_MAX_IMAGES,
    GS_MAX_EPOCHS, GS_MAX_UPLOAD_MB, GS_ALLOW_FULL_FINETUNE).
    """
    hosted = _flag("GS_HOSTED", False)
    return Settings(
        hosted=hosted,
        allow_local_paths=_flag("GS_ALLOW_LOCAL_PATHS", not hosted),
        max_images=_int("GS_MAX_IMAGES", 2000 if hosted else 20000),
        max_epochs=_int("GS_MAX_EPOCHS", 30 if hosted else 200),
        max_upload_mb=_int("GS_MAX_UPLOAD_MB", 200 if hosted else 2000),
        allow_full_finetune=_flag("GS_ALLOW_FULL_FINETUNE", not hosted),
    )
