"""`python -m core export`: ONNX or TorchScript, checked against the torch model."""

from __future__ import annotations

from pathlib import Path


def cmd_export(args) -> int:
    from ..data.files import list_images
    from ..inference.export import export
    from ..training import model_io

    bundle = model_io.load(Path(args.model))
    out = Path(args.out) if args.out else (Path(args.model) if Path(args.model).is_dir() else Path(args.model).parent)
    samples = list_images(Path(args.samples))[:16] if args.samples else []
    report = export(bundle, args.format, out, samples)
    status = "OK" if report.ok else "MISMATCH"
    print(
        f"{status}: wrote {report.path}; top-1 agreement with torch {report.top1_agreement:.0%} "
        f"on {report.samples} samples (max |diff| {report.max_abs_diff:.2e})"
    )
    if report.note:
        print(f"note: {report.note}")
    return 0 if report.ok else 1


def register(sub) -> None:
    x = sub.add_parser("export", help="export to ONNX or TorchScript, checked against the torch model")
    x.add_argument("model")
    x.add_argument("--format", required=True, choices=["onnx", "torchscript"])
    x.add_argument("--out", help="folder to write into (default: the model's folder)")
    x.add_argument("--samples", help="a folder of images to check top-1 agreement on")
    x.set_defaults(func=cmd_export)
