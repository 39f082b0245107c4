"""Command line: the same engine as the app, without a screen.

python -m core train DATA --out MODEL_DIR [--quality auto|quick|better|best] [--backbone B] [--epochs N] [--preset P]
python -m core sort MODEL_DIR GALLERY --out OUT_DIR [--min-confidence P] [--engine local|ray]
python -m core predict MODEL_DIR IMAGE...
python -m core evaluate MODEL_DIR DATA [--json]
python -m core export MODEL_DIR --format onnx|torchscript
python -m core discover GALLERY --out OUT_DIR [--k K] [--method kmeans|agglomerative]
python -m core check DATA [--json] [--features]
python -m core cam MODEL_DIR IMAGE [--method gradcam] [--target-class C] --out overlay.png
python -m core label-errors DATA [--model MODEL_DIR | --backbone B] [--folds 5] [--json]
"""

from __future__ import annotations

import argparse
import sys

from . import analysis_cmd, discover_cmd, export_cmd, sort_cmd, train_cmd
from .analysis_cmd import CAM_METHODS

COMMANDS = (train_cmd, sort_cmd, analysis_cmd, discover_cmd, export_cmd)
__all__ = ["CAM_METHODS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The one parser; each command module adds its sub-commands."""
    p = argparse.ArgumentParser(prog="python -m core", description="Gallery Sorter engine")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    sub = p.add_subparsers(dest="cmd", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from ..data.dataset import DatasetError
    from ..data.images import ImageError
    from ..data.intake import IntakeError
    from ..models.backbones import WeightsMissing
    from ..settings import apply_memory_policy, load_settings
    from ..training.model_io import ModelFileError

    parser = build_parser()
    args = parser.parse_args(argv)
    apply_memory_policy(load_settings())
    try:
        return args.func(args)
    except (
        IntakeError,
        DatasetError,
        ImageError,
        ModelFileError,
        WeightsMissing,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
