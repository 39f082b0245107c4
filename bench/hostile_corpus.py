"""A corpus of hostile and broken inputs, and a runner that counts how each is handled.

Every case goes through the same code the app uses (intake -> dataset -> health check ->
decode) and, for a sample, through the CLI. Outcomes: "ok" (taken in, perhaps with files
skipped), "clean" (refused with a user-facing error), "crash" (anything else).
`python -m bench.hostile_corpus` prints the table used in ROBUSTNESS.md.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import subprocess
import sys
import tempfile
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    name: str
    kind: str  # "upload" (list of (name, bytes)) or "model" (bytes of a model file)
    make: Callable[[], object]


def img_bytes(fmt="JPEG", size=(64, 64), mode="RGB", color=(200, 30, 30), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color if mode in ("RGB", "RGBA", "CMYK") else 128).save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo_bytes(seed=0, size=64) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def zip_of(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
        for n, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(n)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buf.getvalue()


def bomb_zip(mb: int = 60) -> bytes:
    return zip_of({"a/bomb.jpg": b"\0" * (mb * 1024**2)})


def many_members(n: int = 60_000) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for k in range(n):
            zf.writestr(f"x/{k}.txt", b"")
    return buf.getvalue()


def lying_size_zip() -> bytes:
    data = bytearray(zip_of({"a/big.jpg": photo_bytes()}))
    # central directory: uncompressed size of the only member -> 10 GiB claims
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    return bytes(data)


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def exif_orientation(value: int) -> bytes:
    im = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = im.getexif()
    exif[0x0112] = value
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def huge_png(side: int = 20000) -> bytes:
    """A 20000x20000 PNG that is tiny on disk: the decoder must refuse it before decoding."""
    im = Image.new("1", (side, side), 0)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gs_corpus_pwned",))


def cases() -> list[Case]:
    photo = photo_bytes()
    two_classes = lambda extra: [("a/x1.jpg", photo_bytes(1)), ("b/y1.jpg", photo_bytes(2))] + extra  # noqa: E731
    c = [
        Case("zip-slip ../", "upload", lambda: [("d.zip", zip_of({"../../evil.jpg": photo, "ok/a.jpg": photo}))]),
        Case("zip absolute path", "upload", lambda: [("d.zip", zip_of({"/etc/evil.jpg": photo}))]),
        Case("zip drive letter", "upload", lambda: [("d.zip", zip_of({"C:\\evil\\x.jpg": photo}))]),
        Case(
            "zip symlink member",
            "upload",
            lambda: [("d.zip", zip_of({"a/ok.jpg": photo}, {"a/link.jpg": "/etc/passwd"}))],
        ),
        Case("zip bomb (ratio)", "upload", lambda: [("d.zip", bomb_zip())]),
        Case("zip with 60,000 members", "upload", lambda: [("d.zip", many_members())]),
        Case("zip header lies about size", "upload", lambda: [("d.zip", lying_size_zip())]),
        Case("empty zip", "upload", lambda: [("d.zip", zip_of({}))]),
        Case("not a zip named .zip", "upload", lambda: [("d.zip", b"PK\x03\x04 garbage")]),
        Case("zip of only junk", "upload", lambda: [("d.zip", zip_of({"__MACOSX/._a.jpg": b"x", ".DS_Store": b"x"}))]),
        Case("decompression bomb image", "upload", lambda: two_classes([("a/bomb.png", huge_png())])),
        Case("truncated JPEG", "upload", lambda: two_classes([("a/t.jpg", photo[: len(photo) // 2])])),
        Case("truncated PNG", "upload", lambda: two_classes([("a/t.png", img_bytes("PNG")[:40])])),
        Case("zero-byte file", "upload", lambda: two_classes([("a/z.jpg", b"")])),
        Case("text named .jpg", "upload", lambda: two_classes([("a/fake.jpg", b"<html>not found</html>")])),
        Case("polyglot JPEG+zip", "upload", lambda: two_classes([("a/poly.jpg", photo + zip_of({"x.txt": b"hi"}))])),
        Case("animated GIF", "upload", lambda: two_classes([("a/anim.gif", animated("GIF"))])),
        Case("animated WebP", "upload", lambda: two_classes([("a/anim.webp", animated("WEBP"))])),
        Case("16-bit PNG", "upload", lambda: two_classes([("a/deep.png", img_bytes("PNG", mode="I;16"))])),
        Case(
            "CMYK JPEG",
            "upload",
            lambda: two_classes([("a/cmyk.jpg", img_bytes("JPEG", mode="CMYK", color=(0, 200, 200, 0)))]),
        ),
        Case("1x1 image", "upload", lambda: two_classes([("a/tiny.png", img_bytes("PNG", size=(1, 1)))])),
        Case("bogus EXIF orientation", "upload", lambda: two_classes([("a/exif.jpg", exif_orientation(99))])),
        Case("very long unicode name", "upload", lambda: two_classes([("a/" + "日本語の写真" * 40 + ".jpg", photo)])),
        Case("same name in two folders", "upload", lambda: [("a/x.jpg", photo_bytes(3)), ("b/x.jpg", photo_bytes(4))]),
        Case("one class only", "upload", lambda: [("a/1.jpg", photo_bytes(5)), ("a/2.jpg", photo_bytes(6))]),
        Case("class with one image", "upload", lambda: two_classes([])),
        Case("no images at all", "upload", lambda: [("notes.txt", b"hello"), ("a/readme.md", b"#")]),
        Case(
            "hidden and OS junk files",
            "upload",
            lambda: two_classes([(".DS_Store", b"x"), ("a/._x1.jpg", b"x"), ("Thumbs.db", b"x")]),
        ),
        Case(
            "10,000 tiny files",
            "upload",
            lambda: [(f"{'ab'[k % 2]}/{k}.png", img_bytes("PNG", size=(2, 2))) for k in range(10_000)],
        ),
        Case("malicious pickle as model", "model", lambda: pickle.dumps({"meta_json": "{}", "state_dict": _Evil()})),
        Case("random bytes as model", "model", lambda: os.urandom(4096)),
    ]
    return c


def fuzz_cases(n: int, seed: int = 0) -> list[Case]:
    """Byte-level mutations (flips, truncation, splices) of valid JPEG/PNG/WebP/zip inputs."""
    rng = random.Random(seed)
    seeds = [
        ("x.jpg", photo_bytes(7)),
        ("x.png", img_bytes("PNG")),
        ("x.webp", img_bytes("WEBP")),
        ("d.zip", zip_of({"a/1.jpg": photo_bytes(8), "b/2.jpg": photo_bytes(9)})),
    ]
    out = []
    for k in range(n):
        name, data = seeds[k % len(seeds)]
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            op = rng.random()
            if op < 0.6 and b:
                b[rng.randrange(len(b))] = rng.randrange(256)
            elif op < 0.8 and len(b) > 10:
                del b[rng.randrange(len(b)) :]
            else:
                pos = rng.randrange(len(b) + 1)
                b[pos:pos] = os.urandom(rng.randint(1, 64))
        blob = bytes(b)
        folder = "a/" if not name.endswith(".zip") else ""
        out.append(
            Case(
                f"fuzz {k} ({name})",
                "upload",
                lambda blob=blob, name=name, folder=folder: [(folder + name, blob), ("b/ok.jpg", photo_bytes(10))],
            )
        )
    return out


CLEAN = ("IntakeError", "ImageError", "DatasetError", "ModelFileError")


def run_case(case: Case, work: Path) -> tuple[str, str]:
    """Returns (outcome, detail). Uses the app's own ingestion path."""
    from core.analysis import health
    from core.data.dataset import check_trainable, load_dataset
    from core.data.images import ImageError, load_rgb
    from core.data.intake import save_uploads
    from core.training import model_io

    try:
        payload = case.make()
        if case.kind == "model":
            model_io.from_bytes(payload)
            return "ok", "loaded"
        dest = work / "in"
        report = save_uploads(payload, dest, max_files=20_000)
        root = dest.resolve()
        for p in dest.rglob("*"):
            if root not in p.resolve().parents and p.resolve() != root:
                return "crash", f"escaped: {p}"
            if p.is_symlink():
                return "crash", f"symlink written: {p}"
        ds = load_dataset(dest)
        health.check(ds, skipped=report.skipped, workers=2)
        for it in ds.items[:50]:
            try:
                load_rgb(it.path, min_side=64)
            except ImageError:
                pass
        try:
            check_trainable(ds)
        except Exception as exc:
            if type(exc).__name__ in CLEAN:
                return "clean", str(exc)[:80]
            raise
        return "ok", f"{report.written} taken in, {len(report.skipped)} skipped"
    except Exception as exc:
        if type(exc).__name__ in CLEAN:
            return "clean", str(exc)[:80]
        return "crash", "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300]


def run_cli_case(case: Case, work: Path) -> tuple[str, str]:
    """The same input through `python -m core check` (folders, or the zip itself)."""
    payload = case.make()
    if case.kind == "model":
        mp = work / "m.pt"
        mp.write_bytes(payload)
        args = ["predict", str(mp), str(ROOT / "assets" / "demo" / "animals" / "animals_000.jpg")]
    else:
        if len(payload) == 1 and payload[0][0].endswith(".zip"):
            target = work / "in.zip"
            target.write_bytes(payload[0][1])
        else:
            target = work / "raw"
            for n, d in payload:
                from core.data.files import safe_relpath

                rel = safe_relpath(n)
                if rel is None:
                    continue
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                (target / rel).write_bytes(d)
            target.mkdir(exist_ok=True)
        args = ["check", str(target)]
    p = subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, GS_OFFLINE="1"),
    )
    if "Traceback" in p.stderr:
        return "crash", p.stderr.strip().splitlines()[-1][:300]
    if p.returncode == 0:
        return "ok", "exit 0"
    if p.stderr.strip().startswith("error:") or "error:" in p.stderr:
        return "clean", p.stderr.strip().splitlines()[-1][:80]
    return "crash", f"exit {p.returncode} without a message"


def run_all(case_list: list[Case], cli: bool = False) -> list[tuple[str, str, str]]:
    rows = []
    for case in case_list:
        with tempfile.TemporaryDirectory(prefix="gs-corpus-") as tmp:
            fn = run_cli_case if cli else run_case
            outcome, detail = fn(case, Path(tmp))
            rows.append((case.name, outcome, detail))
    return rows


def summary(rows) -> dict:
    return {
        "cases": len(rows),
        "ok": sum(r[1] == "ok" for r in rows),
        "clean errors": sum(r[1] == "clean" for r in rows),
        "crashes": sum(r[1] == "crash" for r in rows),
    }


if __name__ == "__main__":
    api = run_all(cases())
    fz = run_all(fuzz_cases(300))
    cli_rows = run_all([c for c in cases() if c.name != "10,000 tiny files"], cli=True)
    for title, rows in (("ingestion API", api), ("fuzzed inputs (300)", fz), ("CLI", cli_rows)):
        print(f"\n### {title}: {summary(rows)}\n")
        print("| case | outcome | detail |\n|---|---|---|")
        for r in rows if title != "fuzzed inputs (300)" else [r for r in rows if r[1] == "crash"]:
            print(f"| {r[0][:60]} | {r[1]} | {r[2].replace('|', '/')} |")
