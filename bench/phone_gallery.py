"""A generated phone gallery whose kinds are decided by the writing on the pictures.

`python -m bench.phone_gallery OUT --per-kind 120 [--flat] [--seed 0] [--small]` (or
`python bench/phone_gallery.py ...`) writes one folder per kind under OUT, or with `--flat`
every picture into OUT itself as IMG_0001.jpg... in shuffled order, with the answers in
`OUT.truth.csv` (file,kind) beside the folder, plus `OUT.manifest.json` (source photo and
recipe of every file). Same seed, same fonts on the machine: byte-identical output.

What each kind imitates, and why:

* `animals`, `scenery`, `objects`: plain camera photos (hymenoptera ants/bees and gallery_mix
  animals; gallery_mix scenery; trashnet), re-cropped to varied aspect ratios, re-sized and
  re-encoded at varied JPEG quality (a few PNG) so that no kind has a signature size or format.
  Scenery has only 44 source photos, so each yields several crops/flips/colour-jittered
  variants: group by `GalleryInfo.sources` when splitting train/validation.
* `memes`: the same kind of photos (mostly animals, also objects and scenery) with captions:
  classic Impact-style white text with a black outline at top and bottom, or one band only,
  "twitter style" sentence text on a white (sometimes dark) band above the photo, and
  demotivational posters; several bold fonts, sizes and letter cases. The CNN sees a dog or
  a bottle underneath, so only the writing tells a meme from a photo. Meme source photos are
  split off by a seeded shuffle and never appear in a plain kind.
* `screenshots`: phone screens drawn with PIL at real device resolutions (1080x2340,
  1170x2532, 750x1334, ... and some tablet and desktop ones): chat conversations (status bar,
  contact header, left/right bubbles, input bar, sometimes a keyboard), settings lists, feeds
  with thumbnails, e-mail inboxes and articles, light and dark mode; mostly PNG, some JPEG.
* `documents`: printed pages (title, paragraphs, headings, lists, tables) photographed with a
  phone: perspective, a table/desk background (procedural wood, cloth or flat colour, or a
  blurred crop of a real photo), uneven light and shadows, slight blur, noise, JPEG; some flat
  scans.
* `receipts`: narrow thermal-paper strips in a monospaced font (store heading, items with
  prices, totals, dashed separators, dates, a barcode), crumpled-looking shading, photographed
  like documents, some cut off by the frame.

Text comes from word lists through the seeded RNG (no network). Fonts are whatever
`/usr/share/fonts/**/*.ttf|otf` holds, with `PIL.ImageFont.load_default(size=...)` as the last
resort, so the generator never fails for lack of fonts (but the bytes depend on the fonts
present). `small=True` makes tiny images (<= 320 px) fast; when the shared photos are missing,
generated "photos" (smooth blobs, hills, shapes) stand in for them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

KINDS = ("animals", "scenery", "objects", "memes", "screenshots", "documents", "receipts")
PHOTO_KINDS = ("animals", "scenery", "objects")
DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
PHOTO_EXTS = {".jpg", ".jpeg", ".png"}
SMALL_MAX = 320

# Probability of PNG (else JPEG) per kind: screenshots mostly PNG, camera pictures mostly JPEG.
PNG_SHARE = {
    "animals": 0.08,
    "scenery": 0.08,
    "objects": 0.08,
    "memes": 0.25,
    "screenshots": 0.72,
    "documents": 0.12,
    "receipts": 0.08,
}
JPEG_QUALITY = {
    "animals": (72, 96),
    "scenery": (72, 96),
    "objects": (72, 96),
    "memes": (45, 90),
    "screenshots": (80, 95),
    "documents": (62, 92),
    "receipts": (62, 92),
}
MEME_MIX = (("animals", 0.6), ("objects", 0.25), ("scenery", 0.15))  # where meme photos come from

# --------------------------------------------------------------------------- word lists


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


WORDS = _words(
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so no will more can who out up "
    "about into than them only other new some could time these two may first then do any like my now over "
    "such our man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while last might us "
    "great old year off come since against go came right used take three report data project team budget "
    "quarter meeting review policy customer service account period results growth plan market design system "
    "process support members committee section page figure table value total rate annual notice contract "
    "payment delivery schedule student course lecture chapter research analysis method sample test water "
    "energy health community council school library program training safety equipment building office"
)
FIRST = _words(
    "Emma Liam Olivia Noah Ava Mia Lucas Sofia Ethan Chloe Leo Grace Amir Yuki Priya Mateo Hannah Jonas Lea "
    "Omar Zoe Finn Nora Ravi Ines Tom Julia Max Sara Ben Anna David Fatima Kenji Lena Marco Nina Oscar Paula"
)
LAST = _words(
    "Smith Müller Garcia Rossi Kowalski Nguyen Silva Brown Novak Jensen Martin Costa Tanaka Ahmed Fischer "
    "Dubois Patel Moreau Weber Larsen Kim Santos Ivanova Okafor Schmidt Murphy Lopez Berg"
)
NOUNS = _words(
    "wifi coffee weekend homework boss alarm pizza printer meeting cat dog deadline diet gym battery password "
    "update neighbour bus fridge landlord monday bees ants plants vacuum laundry group_chat teacher code exam "
    "phone charger parking taxes snacks sleep holiday fire_alarm internet salad"
)
VERBS = _words("open forget find lose eat fix check finish start call cancel clean order ignore read hear see")
VERBS_ING = _words("opening forgetting finding losing eating fixing checking finishing starting calling cleaning")
ADJS = _words("broken cold empty late perfect gone free tiny huge loud fine weird sus cursed real legendary")
CHAT_SHORT = _words(
    "ok|okay!|lol|haha yes|omg|sure|on my way|thanks!!|see you soon|no worries|yes|nope|10 min|good night|"
    "love it|what?|same|call me|where are you?|sounds good|miss you|wait what|haha|true|done ✔",
    "|",
)
CHAT_LONG = _words(
    "are you coming tonight or should we start without you?|did you see the photos from the weekend? so good|"
    "can you pick up milk and bread on the way home please|the meeting got moved to 3pm, room 204|"
    "I'm running a bit late, the bus hasn't come yet|happy birthday!! hope you have an amazing day|"
    "just landed, will text you when I'm at the hotel|don't forget we have dinner at mum's on Sunday|"
    "I sent you the document, let me know what you think|the kids want pizza again, is that fine?|"
    "can we move our call to tomorrow morning? something came up|that's hilarious, I can't stop laughing|"
    "do you still have the charger I lent you last week?|the train is delayed 20 minutes, sorry|"
    "tickets are booked! seats 14 and 15, row F|remember to water the plants while I'm away",
    "|",
)
STORES = _words(
    "FRESH MART|CORNER CAFE|GREENLEAF GROCERY|CITY PHARMACY|BURGER BARN|HOME & GARDEN|QUICKSTOP|BAKERY ROSE|"
    "SUNSET DINER|TECH HUB|BOOK NOOK|PET PLANET|NORTHSIDE MARKET|DAILY BREW|HARDWARE PLUS|SUPERSAVE",
    "|",
)
ITEMS = _words(
    "MILK 1L|BREAD WHOLEMEAL|BANANAS|COFFEE LATTE|CAPPUCCINO|CROISSANT|APPLES 1KG|EGGS 12PK|CHEDDAR|PASTA|"
    "TOMATO SAUCE|RICE 2KG|OLIVE OIL|ORANGE JUICE|CHOC BAR|WATER 6PK|SHAMPOO|TOOTHPASTE|BATTERIES AA|DOG FOOD|"
    "CHICKEN BREAST|YOGURT|BUTTER|SALAD MIX|CEREAL|TEA BAGS|NAPKINS|BEER 4PK|CHIPS|COOKIES|SCREWS M4|"
    "LIGHT BULB|AMERICANO|BAGEL|MUFFIN|SANDWICH|SOUP OF DAY|TAKEAWAY CUP|PAPER TOWEL|DISH SOAP",
    "|",
)
STREETS = _words("Main St|High Street|Oak Avenue|Station Rd|Market Sq|Lake Drive|Park Lane|Mill Road|Elm Street", "|")
CITIES = _words("Springfield|Riverton|Lakeside|Northwood|Bridgeport|Fairview|Greenville|Ashford|Milton", "|")
SETTINGS = _words(
    "Wi-Fi|Bluetooth|Mobile Data|Personal Hotspot|Notifications|Sounds & Haptics|Focus|Screen Time|General|"
    "Control Centre|Display & Brightness|Home Screen|Accessibility|Wallpaper|Battery|Privacy & Security|"
    "Passwords|Mail|Contacts|Calendar|Notes|Reminders|Storage|Apps|Location|Network & internet|"
    "Connected devices|Digital Wellbeing|Security|Accounts|Language & input|Date & time|Backup|"
    "Developer options|About phone|Software update|Airplane Mode|Do Not Disturb|Camera|Photos",
    "|",
)
SETTING_VALUES = _words("On|Off|Home-5G|Not Connected|Automatic|English|Never|2 min|Default|Allowed|None", "|")
SUBJECTS = _words(
    "Your order has shipped|Meeting notes|Invoice #{n}|Re: weekend plans|Weekly newsletter|Flight confirmation|"
    "Password reset request|Quarterly report draft|Photos from the trip|Your receipt from {store}|"
    "Reminder: dentist appointment|Welcome to the team!|Re: Re: budget question|Delivery update|"
    "Your subscription is renewing|Lunch on Friday?|Action required: verify your account",
    "|",
)
APPS = _words("Friendly|Snapgram|Chirp|Pixelfeed|Buzz|Circle|Moments|Nearby|Loop", "|")
DOMAINS = _words("news.example.com|dailypost.org|techtalk.net|cityherald.com|weather.today|recipes.kitchen", "|")
DOC_TITLES = _words(
    "Annual Report {y}|Meeting Minutes|Project Proposal|Tenancy Agreement|Invoice|Course Syllabus|"
    "Safety Guidelines|Quarterly Review|Notice to Residents|Lab Report: {w}|Terms and Conditions|"
    "Employment Contract|Policy Update|Exam Schedule|Travel Itinerary|Warranty Information|Minutes of the {w} Committee",
    "|",
)
HEADINGS = _words(
    "Introduction|Background|Summary|Results|Discussion|Scope|Terms|Payment|Responsibilities|Schedule|"
    "Methods|Conclusion|Next Steps|Contact|Appendix|Budget|Objectives|Overview",
    "|",
)
MEME_TEMPLATES = (
    ("when the {noun} is {adj}", "but you {verb} it anyway"),
    ("me trying to {verb} the {noun}", "{adj} every single time"),
    ("nobody:", "me at 3am: {verb_ing} the {noun}"),
    ("one does not simply", "{verb} the {noun}"),
    ("{noun} be like", ""),
    ("that moment when", "you {verb} the {noun}"),
    ("they said the {noun} would be easy", "they lied"),
    ("{noun}: exists", "me: {verb_ing} it"),
    ("i have no idea", "what i'm doing"),
    ("monday morning", "{adj} mood"),
    ("when {name} says", "the {noun} is {adj}"),
    ("pov: you {verb} the {noun}", ""),
    ("not the {noun} again", ""),
    ("how i look after", "{verb_ing} the {noun}"),
    ("my {noun}", "my {noun} after 5 minutes"),
)
TWEETS = _words(
    "me explaining to my {noun} why I need to {verb} it again|nobody: absolutely nobody: my {noun} at 7am|"
    "when you finally {verb} the {noun} and it's still {adj}|this is what {verb_ing} the {noun} feels like|"
    "my last brain cell trying to {verb} the {noun}|pov: the {noun} is {adj} and it's only tuesday|"
    "I was today years old when I learned the {noun} can be {adj}|the {noun} said no and honestly? valid|"
    "me pretending to {verb} the {noun} in the meeting|how it feels to {verb} the {noun} before coffee|"
    "tag someone who would {verb} the {noun}|the {noun} after I told {name} it was {adj}",
    "|",
)


def _fill(t: str, rng: random.Random) -> str:
    return (
        t.replace("{noun}", rng.choice(NOUNS).replace("_", " "))
        .replace("{verb_ing}", rng.choice(VERBS_ING))
        .replace("{verb}", rng.choice(VERBS))
        .replace("{adj}", rng.choice(ADJS))
        .replace("{name}", rng.choice(FIRST))
        .replace("{store}", rng.choice(STORES).title())
        .replace("{n}", str(rng.randint(1000, 99999)))
        .replace("{y}", str(rng.randint(2015, 2025)))
        .replace("{w}", rng.choice(WORDS).title())
    )


def sentence(rng: random.Random, lo: int = 6, hi: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    if len(words) > 7 and rng.random() < 0.5:
        words[rng.randint(3, len(words) - 3)] += ","
    return " ".join(words).capitalize() + rng.choice(".....?;")[:1].replace(";", ".")


def paragraph(rng: random.Random, lo: int = 2, hi: int = 6) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


# --------------------------------------------------------------------------- fonts

_SKIP_FONTS = (
    "math",
    "symbol",
    "d050000l",
    "z003",
    "dingbat",
    "emoji",
    "extralight",
    "italic",
    "oblique",
    "bdita",
    "-ita",
)


@lru_cache(maxsize=1)
def font_families() -> dict[str, dict[str, dict[str, str]]]:
    """{style: {family: {"regular": path, "bold": path}}} for style sans/serif/mono, from the installed fonts."""
    paths: set[Path] = set()
    for d in FONT_DIRS:
        if d.is_dir():
            for ext in ("ttf", "otf"):
                paths.update(d.glob(f"**/*.{ext}"))
    fams: dict[str, dict[str, dict[str, str]]] = {"sans": {}, "serif": {}, "mono": {}}
    for p in sorted(paths):
        low = p.stem.lower()
        if any(k in low for k in _SKIP_FONTS):
            continue
        try:
            ImageFont.truetype(str(p), 12)
        except OSError:
            continue
        bold = any(k in low for k in ("bold", "demi", "black", "heavy"))
        if "mono" in low:
            style = "mono"
        elif "sans" not in low and any(k in low for k in ("serif", "roman", "c059", "p052", "bookman")):
            style = "serif"
        else:
            style = "sans"
        key = re.sub(r"(?i)[-_]?(bold|regular|roman|book|demi|medium|light)$", "", p.stem)
        fams[style].setdefault(key, {})["bold" if bold else "regular"] = str(p)
    return fams


def pick_fonts(rng: random.Random, style: str) -> tuple[str | None, str | None]:
    """(regular, bold) font paths of one family of `style`; None means Pillow's default font."""
    fams = font_families()
    for st in (style, "sans", "serif", "mono"):
        if fams[st]:
            fam = fams[st][rng.choice(sorted(fams[st]))]
            reg = fam.get("regular") or fam.get("bold")
            return reg, fam.get("bold") or reg
    return None, None


def pick_bold(rng: random.Random, styles: tuple[str, ...] = ("sans",)) -> str | None:
    bolds = sorted(f["bold"] for st in styles for f in font_families()[st].values() if "bold" in f)
    return rng.choice(bolds) if bolds else pick_fonts(rng, styles[0])[1]


@lru_cache(maxsize=512)
def font(path: str | None, size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = max(4, int(round(size)))
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


def line_h(f) -> int:
    b = f.getbbox("Ag")
    return max(1, b[3] - min(0, b[1]))


def wrap(text: str, f, max_w: float) -> list[str]:
    lines: list[str] = []
    cur = ""
    for w in text.split():
        t = f"{cur} {w}".strip()
        if cur and f.getlength(t) > max_w:
            lines.append(cur)
            cur = w
        else:
            cur = t
    if cur:
        lines.append(cur)
    return lines


# --------------------------------------------------------------------------- source photos


@dataclass
class Pools:
    """Source photo ids per role: plain kinds, memes per origin, and a misc pool (thumbnails, backgrounds)."""

    plain: dict[str, list[str]]
    memes: dict[str, list[str]]
    misc: list[str]
    synthetic: bool


def _scan(shared: Path) -> dict[str, list[str]]:
    globs = {
        "animals": ["hymenoptera/*/*/*", "gallery_mix/animals/*"],
        "scenery": ["gallery_mix/scenery/*"],
        "objects": ["trashnet/*/*"],
    }
    pools: dict[str, list[str]] = {}
    for kind, gs in globs.items():
        ids = []
        for g in gs:
            for p in sorted(shared.glob(g)):
                if p.suffix.lower() not in PHOTO_EXTS:
                    continue  # e.g. hymenoptera's imageNotFound.gif placeholder
                try:
                    with Image.open(p) as im:
                        if min(im.size) < 64:
                            continue
                except OSError:
                    continue
                ids.append(p.relative_to(shared).as_posix())
        pools[kind] = ids
    return pools


def make_pools(shared: Path, per_kind: int, seed: int, small: bool) -> Pools:
    found = _scan(shared) if shared.is_dir() else {}
    synthetic = not all(found.get(k) for k in PHOTO_KINDS)
    if synthetic:
        n = max(24, per_kind * 2 if small else per_kind + per_kind // 2)
        found = {k: [f"synthetic/{k}/{i:04d}" for i in range(n)] for k in PHOTO_KINDS}
    rng = random.Random(f"{seed}:split")
    need = _meme_counts(per_kind)
    plain, memes, misc = {}, {}, []
    for k in PHOTO_KINDS:
        ids = list(found[k])
        rng.shuffle(ids)
        cap = max(1, int(len(ids) * (0.3 if k == "animals" else 0.2))) if need[k] else 0
        take = min(need[k], cap)
        memes[k], rest = ids[:take], ids[take:]
        if k != "scenery":  # scenery is scarce; screens and backgrounds get generated landscapes instead
            m = min(30, len(rest) // 8)
            misc += rest[:m]
            rest = rest[m:]
        plain[k] = rest
    return Pools(plain, memes, misc, synthetic)


def _meme_counts(n: int) -> dict[str, int]:
    a = round(n * MEME_MIX[0][1])
    o = round(n * MEME_MIX[1][1])
    return {"animals": a, "objects": o, "scenery": max(0, n - a - o)}


def synthetic_photo(src_id: str, small: bool) -> Image.Image:
    """A photo-like stand-in: blobs on a gradient (animals), hills under a sky (scenery), a shape on white (objects)."""
    rng = random.Random(src_id)
    kind = src_id.split("/")[1]
    w, h = rng.choice([(512, 384), (480, 360), (400, 400), (384, 512), (640, 400)])
    if small:
        w, h = w // 2, h // 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    c1 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    if kind == "objects":
        c0 = c1 = np.array([rng.randint(215, 250)] * 3, np.float32)
    t = (yy / h)[..., None]
    arr = c0 * (1 - t) + c1 * t
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    col = lambda: tuple(rng.randint(0, 255) for _ in range(3))
    if kind == "scenery":
        sky = (rng.randint(90, 170), rng.randint(150, 210), rng.randint(200, 255))
        img = Image.new("RGB", (w, h), sky)
        d = ImageDraw.Draw(img)
        if rng.random() < 0.5:
            r = rng.randint(h // 14, h // 7)
            cx, cy = rng.randint(0, w), rng.randint(0, h // 3)
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 240, 200))
        for layer in range(rng.randint(2, 4)):
            base = h * (0.35 + 0.15 * layer) + rng.uniform(-20, 20)
            ph, amp, fr = rng.uniform(0, 6), rng.uniform(10, 50), rng.uniform(1, 4)
            pts = [(x, base + amp * math.sin(ph + fr * x / w * math.pi)) for x in range(0, w + 8, 8)]
            g = 60 + 30 * layer
            d.polygon([*pts, (w, h), (0, h)], fill=(rng.randint(20, g), rng.randint(g, 160), rng.randint(20, g)))
    elif kind == "animals":
        for _ in range(rng.randint(1, 3)):
            cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.8) * h
            rx, ry = rng.uniform(0.1, 0.25) * w, rng.uniform(0.08, 0.2) * h
            c = col()
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=c)
            d.ellipse([cx + rx * 0.6, cy - ry * 1.5, cx + rx * 1.4, cy - ry * 0.3], fill=c)
    else:
        cx, cy = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2
        rx, ry = rng.uniform(0.1, 0.3) * w, rng.uniform(0.15, 0.35) * h
        if rng.random() < 0.5:
            d.rounded_rectangle([cx - rx, cy - ry, cx + rx, cy + ry], radius=int(rx / 3), fill=col())
        else:
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=col())
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    nrs = np.random.default_rng(rng.getrandbits(32))
    arr = np.asarray(img, np.float32) + nrs.normal(0, 5, (h, w, 1))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


@lru_cache(maxsize=24)
def load_source(src_id: str, shared: Path, small: bool) -> Image.Image:
    """The source photo `src_id` (a path under `shared`, or a synthetic id), as RGB, at most 1600 px (320 small)."""
    if src_id.startswith("synthetic/"):
        return synthetic_photo(src_id, small)
    with Image.open(shared / src_id) as im:
        lim = 400 if small else 1600
        im.draft("RGB", (lim, lim))
        im = ImageOps.exif_transpose(im).convert("RGB")
    if max(im.size) > lim:
        im.thumbnail((lim, lim), Image.Resampling.LANCZOS)
    return im


# --------------------------------------------------------------------------- image helpers


def encode(img: Image.Image, kind: str, rng: random.Random) -> tuple[bytes, str]:
    buf = io.BytesIO()
    img = img.convert("RGB")
    if rng.random() < PNG_SHARE[kind]:
        img.save(buf, "PNG", compress_level=6)
        return buf.getvalue(), ".png"
    lo, hi = JPEG_QUALITY[kind]
    img.save(buf, "JPEG", quality=rng.randint(lo, hi), subsampling=rng.choice([0, 2, 2]))
    return buf.getvalue(), ".jpeg" if rng.random() < 0.05 else ".jpg"


def out_long(rng: random.Random, small: bool, lo: int, hi: int) -> int:
    """A long side drawn log-uniformly from [lo, hi] (or 120-320 for small)."""
    if small:
        return rng.randint(120, SMALL_MAX)
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def crop_photo(img: Image.Image, rng: random.Random, area: tuple[float, float]) -> tuple[Image.Image, list[float]]:
    """A random crop (fraction of the area, varied aspect ratio); returns it and its box as fractions."""
    w, h = img.size
    src_ar = w / h
    ar = rng.choice([src_ar, src_ar, 4 / 3, 3 / 4, 1.0, 16 / 9, 3 / 2, 2 / 3, 9 / 16])
    a = rng.uniform(*area) * w * h
    cw = min(w, math.sqrt(a * ar))
    ch = min(h, cw / ar)
    cw = min(w, ch * ar)
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    box = [x0 / w, y0 / h, (x0 + cw) / w, (y0 + ch) / h]
    return img.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch))), box


def resize_long(img: Image.Image, long: int) -> Image.Image:
    w, h = img.size
    k = long / max(w, h)
    return img.resize((max(8, round(w * k)), max(8, round(h * k))), Image.Resampling.LANCZOS)


def jitter(img: Image.Image, rng: random.Random) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.75, 1.25))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.25))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    wb = np.array([rng.uniform(0.92, 1.08), 1.0, rng.uniform(0.92, 1.08)], np.float32)
    return Image.fromarray((np.asarray(img, np.float32) * wb).clip(0, 255).astype(np.uint8))


def lowfreq(nrs: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] of shape (h, w): a cells-wide random grid, bicubically upsampled."""
    gh = max(2, round(cells * h / max(w, h)))
    gw = max(2, round(cells * w / max(w, h)))
    g = (nrs.random((gh, gw)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(g).resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255


def persp_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """PIL PERSPECTIVE data mapping output points `dst` to input points `src`."""
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    return np.linalg.solve(np.array(a, float), np.array(b, float)).tolist()


# --------------------------------------------------------------------------- plain photos


def make_photo(kind: str, src: Image.Image, rng: random.Random, small: bool, variant: bool) -> tuple[Image.Image, dict]:
    strong = kind == "scenery" or variant
    img, box = crop_photo(src, rng, (0.35, 1.0) if strong else (0.6, 1.0))
    flip = rng.random() < (0.5 if strong else 0.25)
    if flip:
        img = ImageOps.mirror(img)
    if strong:
        img = jitter(img, rng)
    elif rng.random() < 0.4:
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.9, 1.1))
    long = min(out_long(rng, small, 420, 1800), int(max(img.size) * 2.2))
    img = resize_long(img, max(64 if not small else 48, long))
    return img, {"crop": box, "flip": flip, "jitter": strong}


# --------------------------------------------------------------------------- memes


def _case(text: str, r: float, classic: bool) -> str:
    """Letter case by a draw r in [0, 1): classic memes mostly upper case, tweets mostly sentence case."""
    if classic:
        return text.upper() if r < 0.75 else (text.lower() if r < 0.88 else text.capitalize())
    return text.capitalize() if r < 0.55 else (text.lower() if r < 0.9 else text.upper())


def _fit(text: str, fpath: str | None, size: float, max_w: float, max_lines: int) -> tuple[object, list[str]]:
    while True:
        f = font(fpath, size)
        lines = wrap(text, f, max_w)
        if (len(lines) <= max_lines and all(f.getlength(li) <= max_w for li in lines)) or size <= 6:
            return f, lines
        size *= 0.9


def _outlined(d: ImageDraw.ImageDraw, lines: list[str], f, cx: float, y: float, sw: int, gap: float) -> list[int]:
    """Centred white lines with a black outline from y down; returns their bounding box."""
    lh = line_h(f)
    top, x0, x1 = y, cx, cx
    for li in lines:
        w = f.getlength(li)
        d.text((cx - w / 2, y), li, font=f, fill=(255, 255, 255), stroke_width=sw, stroke_fill=(0, 0, 0))
        x0, x1 = min(x0, cx - w / 2 - sw), max(x1, cx + w / 2 + sw)
        y += lh + gap
    return [int(x0), int(top - sw), int(x1), int(y - gap + sw)]


def make_meme(src: Image.Image, rng: random.Random, small: bool) -> tuple[Image.Image, dict]:
    photo, box = crop_photo(src, rng, (0.7, 1.0))
    flip = rng.random() < 0.2
    if flip:
        photo = ImageOps.mirror(photo)
    photo = resize_long(photo, out_long(rng, small, 380, 1100))
    w, h = photo.size
    style = rng.choices(["classic", "top", "bottom", "twitter", "poster"], [0.34, 0.14, 0.14, 0.28, 0.10])[0]
    bands: list[list[int]] = []
    if style in ("classic", "top", "bottom"):
        img = photo.copy()
        d = ImageDraw.Draw(img)
        fpath = pick_bold(rng)
        case = rng.random()
        top_t, bot_t = (_fill(t, rng) for t in rng.choice(MEME_TEMPLATES))
        if style == "top":
            top_t, bot_t = f"{top_t} {bot_t}".strip(), ""
        elif style == "bottom":
            top_t, bot_t = "", f"{top_t} {bot_t}".strip()
        elif not bot_t:
            top_t, bot_t = top_t, _fill(rng.choice(["{adj}", "so {adj}", "every. single. time.", "why"]), rng)
        size = min(w, h) * rng.uniform(0.08, 0.15)
        margin = h * rng.uniform(0.015, 0.04)
        for text, at_top in ((top_t, True), (bot_t, False)):
            if not text:
                continue
            f, lines = _fit(_case(text, case, True), fpath, size, w * 0.92, 3)
            sw = max(1, round(f.size * rng.uniform(0.06, 0.11))) if hasattr(f, "size") else 1
            lh, gap = line_h(f), line_h(f) * 0.1
            block = len(lines) * lh + (len(lines) - 1) * gap
            y = margin + sw if at_top else h - margin - block - sw
            bands.append(_outlined(d, lines, f, w / 2, y, sw, gap))
        photo_box = [0, 0, w, h]
    elif style == "twitter":
        dark = rng.random() < 0.15
        bg, fg = ((21, 32, 43), (240, 240, 240)) if dark else ((255, 255, 255), rng.choice([(0, 0, 0), (15, 20, 25)]))
        reg, bold = pick_fonts(rng, "sans")
        f = font(bold if rng.random() < 0.2 else reg, w * rng.uniform(0.04, 0.07))
        pad = w * rng.uniform(0.03, 0.06)
        text = _case(_fill(rng.choice(TWEETS), rng), rng.random(), False)
        lines = wrap(text, f, w - 2 * pad)
        lh = line_h(f) * 1.25
        band_h = int(2 * pad + lh * len(lines))
        border = int(w * rng.choice([0, 0, 0.03]))
        img = Image.new("RGB", (w + 2 * border, band_h + h + border), bg)
        d = ImageDraw.Draw(img)
        y = pad
        for li in lines:
            d.text((pad + border, y), li, font=f, fill=fg)
            y += lh
        img.paste(photo, (border, band_h))
        bands.append([0, 0, img.width, band_h])
        photo_box = [border, band_h, border + w, band_h + h]
    else:  # demotivational poster: black frame, thin white border, serif title
        m = int(w * rng.uniform(0.08, 0.12))
        reg, bold = pick_fonts(rng, "serif")
        f1 = font(reg, w * rng.uniform(0.08, 0.11))
        f2 = font(reg, w * 0.035)
        title = _fill(rng.choice(["{adj}", "{noun}", "{verb_ing}", "monday", "teamwork", "motivation"]), rng).upper()
        sub = _fill(rng.choice(TWEETS), rng).capitalize()
        sub_lines = wrap(sub, f2, w)
        text_h = line_h(f1) + (line_h(f2) * 1.3) * len(sub_lines) + m * 0.6
        img = Image.new("RGB", (w + 2 * m, int(h + m * 1.5 + text_h)), (0, 0, 0))
        d = ImageDraw.Draw(img)
        bw = max(1, w // 200)
        d.rectangle([m - 2 * bw, m - 2 * bw, m + w + bw, m + h + bw], outline=(255, 255, 255), width=bw)
        img.paste(photo, (m, m))
        y = m + h + m * 0.5
        cx = img.width / 2
        d.text((cx - f1.getlength(title) / 2, y), title, font=f1, fill=(255, 255, 255))
        y0 = y
        y += line_h(f1) * 1.2
        for li in sub_lines:
            d.text((cx - f2.getlength(li) / 2, y), li, font=f2, fill=(235, 235, 235))
            y += line_h(f2) * 1.3
        bands.append([0, int(y0), img.width, int(y)])
        photo_box = [m, m, m + w, m + h]
    return img, {"style": style, "crop": box, "flip": flip, "photo_box": photo_box, "bands": bands}


# --------------------------------------------------------------------------- screenshots

PHONES = [
    (1080, 2340, 411),
    (1170, 2532, 390),
    (750, 1334, 375),
    (1284, 2778, 428),
    (720, 1600, 360),
    (1080, 1920, 360),
    (1440, 3200, 411),
    (828, 1792, 414),
    (1080, 2400, 393),
    (1179, 2556, 393),
    (640, 1136, 320),
]
TABLETS = [(1620, 2160, 810), (1668, 2388, 834), (2160, 1620, 1080), (2048, 1536, 1024), (1200, 1920, 600)]
DESKTOPS = [(1920, 1080, 1920), (1366, 768, 1366), (2560, 1440, 1707), (1440, 900, 1440), (2880, 1800, 1440)]
ACCENTS = [(0, 122, 255), (52, 199, 89), (255, 59, 48), (88, 86, 214), (0, 150, 136), (233, 30, 99), (255, 149, 0)]


@dataclass
class Ctx:
    rng: random.Random
    s: float  # pixels per layout point
    dark: bool
    accent: tuple[int, int, int]
    reg: str | None
    bold: str | None
    thumb: Callable[[], Image.Image]
    ios: bool = True
    bg: tuple[int, int, int] = (255, 255, 255)
    fg: tuple[int, int, int] = (0, 0, 0)
    fg2: tuple[int, int, int] = (142, 142, 147)
    sep: tuple[int, int, int] = (220, 220, 225)
    card: tuple[int, int, int] = (242, 242, 247)

    def __post_init__(self) -> None:
        if self.dark:
            self.bg = self.rng.choice([(0, 0, 0), (18, 18, 18), (28, 28, 30)])
            self.fg, self.fg2, self.sep, self.card = (238, 238, 240), (152, 152, 158), (56, 56, 58), (44, 44, 46)
        else:
            self.bg = self.rng.choice([(255, 255, 255), (255, 255, 255), (250, 250, 250)])
            self.fg = self.rng.choice([(0, 0, 0), (17, 17, 17), (32, 33, 36)])

    def f(self, pt: float, bold: bool = False):
        return font(self.bold if bold else self.reg, pt * self.s)

    def p(self, v: float) -> int:
        return int(round(v * self.s))


def _status_bar(c: Ctx, d: ImageDraw.ImageDraw, w: int, h_pt: float, fg) -> None:
    s = c.s
    t = f"{c.rng.randint(0, 23) if not c.ios else c.rng.randint(1, 12)}:{c.rng.randint(0, 59):02d}"
    f = c.f(15 if c.ios else 13, bold=c.ios)
    y = (h_pt * s - line_h(f)) / 2
    d.text((c.p(28 if c.ios else 16), y), t, font=f, fill=fg)
    x = w - c.p(14)
    bw, bh = c.p(25), c.p(12)
    cy = h_pt * s / 2
    lvl = c.rng.uniform(0.1, 1)
    d.rounded_rectangle([x - bw, cy - bh / 2, x, cy + bh / 2], radius=c.p(3), outline=fg, width=max(1, c.p(1)))
    d.rectangle(
        [x - bw + c.p(2), cy - bh / 2 + c.p(2), x - bw + c.p(2) + (bw - c.p(4)) * lvl, cy + bh / 2 - c.p(2)], fill=fg
    )
    x -= bw + c.p(6)
    if c.rng.random() < 0.4:
        pct = f"{int(lvl * 100)}%"
        fs = c.f(11)
        x -= fs.getlength(pct)
        d.text((x, cy - line_h(fs) / 2), pct, font=fs, fill=fg)
        x -= c.p(6)
    x -= c.p(10)
    for r in (9, 6, 3):  # wifi arcs
        d.arc(
            [x - c.p(r), cy - c.p(r) + c.p(4), x + c.p(r), cy + c.p(r) + c.p(4)],
            225,
            315,
            fill=fg,
            width=max(1, c.p(2)),
        )
    x -= c.p(32)
    for i in range(4):  # signal bars
        bh2 = c.p(3 + 2.5 * i)
        d.rectangle([x + i * c.p(4.5), cy + c.p(5) - bh2, x + i * c.p(4.5) + c.p(3), cy + c.p(5)], fill=fg)


def _bottom_bar(c: Ctx, d: ImageDraw.ImageDraw, w: int, h: int, style: str) -> None:
    """Home indicator (iOS), gesture pill or three-button bar (Android) in the reserved bottom strip."""
    nb = c.p({"home": 34, "gesture": 24, "buttons": 48}[style])
    col = d._image.getpixel((w // 2, max(0, h - nb - 2)))
    if style == "buttons" and c.rng.random() < 0.5:
        col = (0, 0, 0) if c.dark or c.rng.random() < 0.5 else (248, 248, 248)
    d.rectangle([0, h - nb, w, h], fill=col)
    fg = (255, 255, 255) if sum(col) / 3 < 128 else (30, 30, 30)
    if style != "buttons":
        bw = c.p(135 if style == "home" else 110)
        y = h - c.p(13 if style == "home" else 12)
        d.rounded_rectangle(
            [w / 2 - bw / 2, y, w / 2 + bw / 2, y + c.p(5 if style == "home" else 4)], radius=c.p(3), fill=fg
        )
        return
    cy = h - nb / 2
    r = c.p(8)
    lw = max(1, c.p(1.5))
    d.polygon([(w * 0.25 + r, cy - r), (w * 0.25 + r, cy + r), (w * 0.25 - r, cy)], outline=fg, width=lw)
    d.ellipse([w / 2 - r, cy - r, w / 2 + r, cy + r], outline=fg, width=lw)
    d.rectangle([w * 0.75 - r, cy - r, w * 0.75 + r, cy + r], outline=fg, width=lw)


def _avatar(c: Ctx, d: ImageDraw.ImageDraw, x: float, y: float, r: float, name: str) -> None:
    col = c.rng.choice(ACCENTS + [(120, 144, 156), (255, 112, 67), (126, 87, 194)])
    d.ellipse([x, y, x + 2 * r, y + 2 * r], fill=col)
    f = font(c.bold, r * 1.0)
    ch = name[:1].upper()
    d.text((x + r - f.getlength(ch) / 2, y + r - line_h(f) / 2 - r * 0.1), ch, font=f, fill=(255, 255, 255))


def _keyboard(c: Ctx, d: ImageDraw.ImageDraw, w: int, y0: int, y1: int) -> None:
    kb = (44, 44, 46) if c.dark else (209, 212, 217)
    key = (100, 100, 104) if c.dark else (255, 255, 255)
    d.rectangle([0, y0, w, y1], fill=kb)
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    kh = (y1 - y0 - c.p(60)) / 4.4
    kw = w / 10.5
    f = c.f(21)
    for r, row in enumerate(rows):
        x = (w - len(row) * kw) / 2
        y = y0 + c.p(8) + r * kh * 1.1
        for ch in row:
            d.rounded_rectangle([x + 3, y, x + kw - 3, y + kh], radius=c.p(5), fill=key)
            d.text((x + kw / 2 - f.getlength(ch) / 2, y + kh / 2 - line_h(f) / 2), ch, font=f, fill=c.fg)
            x += kw
    y = y0 + c.p(8) + 3 * kh * 1.1
    d.rounded_rectangle([w * 0.27, y, w * 0.73, y + kh], radius=c.p(5), fill=key)
    fs = c.f(15)
    d.text((w / 2 - fs.getlength("space") / 2, y + kh / 2 - line_h(fs) / 2), "space", font=fs, fill=c.fg)


def screen_chat(c: Ctx, img: Image.Image, top: int, bottom: int) -> None:
    w = img.width
    d = ImageDraw.Draw(img)
    rng = c.rng
    wall = c.bg
    if rng.random() < 0.35:
        wall = (11, 20, 26) if c.dark else rng.choice([(236, 229, 221), (230, 235, 240), (242, 237, 230)])
        d.rectangle([0, top, w, bottom], fill=wall)
    style = rng.choice(["imessage", "whatsapp", "messenger", "telegram", "sms"])
    me = {
        "imessage": ((0, 122, 255), (255, 255, 255)),
        "whatsapp": ((0, 92, 75) if c.dark else (217, 253, 211), c.fg),
        "messenger": (rng.choice([(0, 132, 255), (168, 0, 255), (255, 80, 120)]), (255, 255, 255)),
        "telegram": ((118, 106, 200) if c.dark else (239, 253, 222), c.fg),
        "sms": (c.accent, (255, 255, 255)),
    }[style]
    them = ((38, 38, 40), (238, 238, 240)) if c.dark else (rng.choice([(233, 233, 235), (255, 255, 255)]), c.fg)
    if them[0] == wall:
        them = ((226, 226, 230), c.fg)
    header_h = c.p(rng.choice([56, 64, 96]))
    input_h = c.p(54)
    kb = rng.random() < 0.25
    kb_h = int((bottom - top) * 0.36) if kb else 0
    area_bottom = bottom - input_h - kb_h
    fsz = rng.choice([15, 16, 17])
    f = c.f(fsz)
    fs = c.f(11)
    lh = line_h(f) * 1.22
    y = area_bottom - c.p(8)
    mine = rng.random() < 0.5
    while y > top + header_h:
        if rng.random() < 0.45:
            mine = not mine
        text = rng.choice(CHAT_SHORT) if rng.random() < 0.45 else rng.choice(CHAT_LONG)
        if rng.random() < 0.15:
            text = f"{text} {rng.choice(CHAT_LONG)}"
        lines = wrap(text, f, w * 0.66)
        bw = max(f.getlength(li) for li in lines) + c.p(28)
        stamp = f"{rng.randint(7, 23)}:{rng.randint(0, 59):02d}" if style in ("whatsapp", "telegram") else ""
        if stamp:
            bw = max(bw, f.getlength(lines[-1]) + fs.getlength(stamp) + c.p(40))
        bh = len(lines) * lh + c.p(16) + (c.p(8) if stamp else 0)
        x0 = w - c.p(12) - bw if mine else c.p(12)
        y -= bh
        col, tcol = me if mine else them
        d.rounded_rectangle([x0, y, x0 + bw, y + bh], radius=c.p(rng.choice([8, 16, 18])), fill=col)
        ty = y + c.p(8)
        for li in lines:
            d.text((x0 + c.p(14), ty), li, font=f, fill=tcol)
            ty += lh
        if stamp:
            d.text((x0 + bw - c.p(10) - fs.getlength(stamp), y + bh - c.p(6) - line_h(fs)), stamp, font=fs, fill=c.fg2)
        y -= c.p(rng.choice([3, 4, 10, 14]))
        if rng.random() < 0.08:
            day = rng.choice(["Today", "Yesterday", "Monday", f"{rng.randint(1, 28)} March"])
            tw = fs.getlength(day) + c.p(20)
            y -= c.p(30)
            d.rounded_rectangle([w / 2 - tw / 2, y, w / 2 + tw / 2, y + c.p(22)], radius=c.p(8), fill=c.card)
            d.text((w / 2 - fs.getlength(day) / 2, y + c.p(4)), day, font=fs, fill=c.fg2)
            y -= c.p(10)
    # header over the scrolled messages
    bar = (22, 22, 24) if c.dark else rng.choice([(247, 247, 247), (255, 255, 255), (0, 128, 105), c.accent])
    hfg = (255, 255, 255) if (bar in ((0, 128, 105), c.accent) or c.dark) else c.fg
    d.rectangle([0, top, w, top + header_h], fill=bar)
    name = person(rng) if rng.random() < 0.7 else rng.choice(FIRST)
    cy = top + header_h / 2
    arrow = hfg if hfg != c.fg else c.accent
    d.line([(c.p(22), cy - c.p(9)), (c.p(13), cy), (c.p(22), cy + c.p(9))], fill=arrow, width=max(1, c.p(2.5)))
    r = c.p(18)
    _avatar(c, d, c.p(36), cy - r, r, name)
    fb = c.f(17, bold=True)
    d.text((c.p(36) + 2 * r + c.p(10), cy - line_h(fb) - c.p(1)), name, font=fb, fill=hfg)
    sub = rng.choice(["online", "last seen today at 12:04", "Active now", "typing...", "", "mobile"])
    d.text((c.p(36) + 2 * r + c.p(10), cy + c.p(2)), sub, font=c.f(12), fill=hfg if hfg != c.fg else c.fg2)
    for k in range(2):
        x = w - c.p(30 + 40 * k)
        d.ellipse(
            [x - c.p(9), cy - c.p(9), x + c.p(9), cy + c.p(9)], outline=hfg if hfg != c.fg else c.accent, width=c.p(2)
        )
    d.line([0, top + header_h, w, top + header_h], fill=c.sep, width=1)
    # input bar
    iy = area_bottom
    d.rectangle([0, iy, w, iy + input_h], fill=(22, 22, 24) if c.dark else (247, 247, 247))
    d.rounded_rectangle(
        [c.p(50), iy + c.p(9), w - c.p(50), iy + input_h - c.p(9)], radius=c.p(18), fill=c.bg, outline=c.sep, width=1
    )
    ph = rng.choice(["Message", "iMessage", "Type a message", "Aa", "Write a message..."])
    fi = c.f(16)
    d.text((c.p(64), iy + input_h / 2 - line_h(fi) / 2), ph, font=fi, fill=c.fg2)
    for x in (c.p(25), w - c.p(25)):
        d.ellipse([x - c.p(12), iy + input_h / 2 - c.p(12), x + c.p(12), iy + input_h / 2 + c.p(12)], fill=c.accent)
    if kb:
        _keyboard(c, d, w, iy + input_h, bottom)


def _title(c: Ctx, d: ImageDraw.ImageDraw, text: str, y: int, w: int) -> int:
    if c.ios:
        f = c.f(34, bold=True)
        d.text((c.p(16), y + c.p(6)), text, font=f, fill=c.fg)
        return y + c.p(6) + int(line_h(f) * 1.4)
    f = c.f(22)
    d.text((c.p(16), y + c.p(16)), text, font=f, fill=c.fg)
    return y + c.p(64)


def _search(c: Ctx, d: ImageDraw.ImageDraw, y: int, w: int, label: str = "Search") -> int:
    d.rounded_rectangle([c.p(16), y, w - c.p(16), y + c.p(36)], radius=c.p(10 if c.ios else 18), fill=c.card)
    f = c.f(16)
    d.text((c.p(40), y + c.p(18) - line_h(f) / 2), label, font=f, fill=c.fg2)
    return y + c.p(48)


def _toggle(c: Ctx, d: ImageDraw.ImageDraw, x1: float, cy: float) -> None:
    on = c.rng.random() < 0.6
    tw, th = c.p(50), c.p(30)
    d.rounded_rectangle([x1 - tw, cy - th / 2, x1, cy + th / 2], radius=th // 2, fill=(52, 199, 89) if on else c.sep)
    kx = x1 - th / 2 if on else x1 - tw + th / 2
    d.ellipse([kx - th / 2 + 2, cy - th / 2 + 2, kx + th / 2 - 2, cy + th / 2 - 2], fill=(255, 255, 255))


def screen_settings(c: Ctx, img: Image.Image, top: int, bottom: int) -> None:
    w = img.width
    d = ImageDraw.Draw(img)
    rng = c.rng
    grouped = c.ios and rng.random() < 0.8
    page_bg = ((0, 0, 0) if c.dark else (242, 242, 247)) if grouped else c.bg
    d.rectangle([0, top, w, bottom], fill=page_bg)
    y = _title(c, d, rng.choice(["Settings", "Settings", "Notifications", "General", "Privacy"]), top, w)
    if rng.random() < 0.6:
        y = _search(c, d, y, w)
    labels = rng.sample(SETTINGS, len(SETTINGS))
    row_h = c.p(44 if c.ios else 64)
    f = c.f(17 if c.ios else 16)
    fs = c.f(13)
    i = 0
    while y < bottom - row_h:
        n = rng.randint(2, 5)
        y += c.p(rng.choice([20, 28, 36]))
        if rng.random() < 0.4:
            hdr = rng.choice(["GENERAL", "CONNECTIONS", "ACCOUNT", "DISPLAY", "ABOUT", "Network", "Device"])
            d.text((c.p(32), y - c.p(18)), hdr, font=c.f(12), fill=c.fg2)
        gx0, gx1 = (c.p(16), w - c.p(16)) if grouped else (0, w)
        card = ((28, 28, 30) if c.dark else (255, 255, 255)) if grouped else c.bg
        d.rounded_rectangle([gx0, y, gx1, y + n * row_h], radius=c.p(10) if grouped else 0, fill=card)
        for k in range(n):
            label = labels[i % len(labels)]
            i += 1
            cy = y + row_h / 2
            x = gx0 + c.p(16)
            if rng.random() < 0.8:
                ic = c.p(29 if c.ios else 24)
                col = rng.choice(ACCENTS + [(142, 142, 147), (255, 204, 0)])
                if c.ios:
                    d.rounded_rectangle([x, cy - ic / 2, x + ic, cy + ic / 2], radius=c.p(7), fill=col)
                else:
                    d.ellipse([x, cy - ic / 2, x + ic, cy + ic / 2], outline=col, width=c.p(2))
                x += ic + c.p(14)
            sub = (
                ""
                if c.ios or rng.random() < 0.4
                else rng.choice(SETTING_VALUES + ["Connected", "12 apps", "80% - until 6:00"])
            )
            if sub:
                d.text((x, cy - line_h(f) - c.p(1)), label, font=f, fill=c.fg)
                d.text((x, cy + c.p(3)), sub, font=fs, fill=c.fg2)
            else:
                d.text((x, cy - line_h(f) / 2), label, font=f, fill=c.fg)
            r = rng.random()
            x1 = gx1 - c.p(16)
            if r < 0.3:
                _toggle(c, d, x1, cy)
            elif r < 0.85 and c.ios:
                d.line([x1 - c.p(6), cy - c.p(6), x1, cy, x1 - c.p(6), cy + c.p(6)], fill=c.fg2, width=c.p(2))
                if rng.random() < 0.4:
                    v = rng.choice(SETTING_VALUES)
                    d.text((x1 - c.p(16) - f.getlength(v), cy - line_h(f) / 2), v, font=f, fill=c.fg2)
            if k < n - 1:
                d.line([x, y + row_h * (k + 1), gx1, y + row_h * (k + 1)], fill=c.sep, width=1)
            y += row_h
        y += 0


def _thumb(c: Ctx, img: Image.Image, box: tuple[int, int, int, int], radius: int) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    t = ImageOps.fit(c.thumb(), (x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    mask = Image.new("L", t.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, t.width - 1, t.height - 1], radius=radius, fill=255)
    img.paste(t, (x0, y0), mask)


def _tab_bar(c: Ctx, d: ImageDraw.ImageDraw, w: int, bottom: int) -> int:
    th = c.p(56)
    d.rectangle([0, bottom - th, w, bottom], fill=(22, 22, 24) if c.dark else (248, 248, 248))
    d.line([0, bottom - th, w, bottom - th], fill=c.sep, width=1)
    n = c.rng.choice([4, 5])
    active = c.rng.randrange(n)
    for k in range(n):
        cx = w * (k + 0.5) / n
        col = c.accent if k == active else c.fg2
        r = c.p(11)
        if k % 2:
            d.rounded_rectangle(
                [cx - r, bottom - th + c.p(8), cx + r, bottom - th + c.p(8) + 2 * r],
                radius=c.p(4),
                outline=col,
                width=c.p(2),
            )
        else:
            d.ellipse([cx - r, bottom - th + c.p(8), cx + r, bottom - th + c.p(8) + 2 * r], outline=col, width=c.p(2))
    return th


def screen_feed(c: Ctx, img: Image.Image, top: int, bottom: int) -> None:
    w = img.width
    d = ImageDraw.Draw(img)
    rng = c.rng
    d.rectangle([0, top, w, bottom], fill=c.bg)
    fb = c.f(rng.choice([22, 26]), bold=True)
    d.text((c.p(16), top + c.p(10)), rng.choice(APPS), font=fb, fill=c.fg)
    y = top + c.p(52)
    bottom -= _tab_bar(c, d, w, bottom)
    news = rng.random() < 0.35
    if not news and rng.random() < 0.5:  # stories row
        r = c.p(32)
        for k in range(int(w / (2 * r + c.p(14))) + 1):
            x = c.p(12) + k * (2 * r + c.p(14))
            d.ellipse([x - 3, y - 3, x + 2 * r + 3, y + 2 * r + 3], outline=rng.choice(ACCENTS), width=c.p(2.5))
            _thumb(c, img, (x, y, x + 2 * r, y + 2 * r), r)
            fs = c.f(11)
            nm = rng.choice(FIRST).lower()
            d.text((x + r - fs.getlength(nm) / 2, y + 2 * r + c.p(5)), nm, font=fs, fill=c.fg)
        y += 2 * r + c.p(30)
        d.line([0, y, w, y], fill=c.sep, width=1)
    f = c.f(15)
    fbold = c.f(15, bold=True)
    fs = c.f(13)
    while y < bottom:
        y += c.p(12)
        if news:
            tw = c.p(84)
            lines = wrap(_fill(rng.choice(SUBJECTS), rng) + " " + sentence(rng, 3, 9), fbold, w - tw - c.p(48))[:3]
            d.text((c.p(16), y), rng.choice(DOMAINS), font=fs, fill=c.fg2)
            ty = y + line_h(fs) + c.p(6)
            for li in lines:
                d.text((c.p(16), ty), li, font=fbold, fill=c.fg)
                ty += line_h(fbold) * 1.25
            d.text(
                (c.p(16), ty + c.p(4)),
                f"{rng.randint(1, 23)}h ago · {rng.randint(2, 60)} comments",
                font=fs,
                fill=c.fg2,
            )
            _thumb(c, img, (w - c.p(16) - tw, y, w - c.p(16), y + tw), c.p(8))
            y = max(ty + line_h(fs) + c.p(10), y + tw) + c.p(12)
            d.line([c.p(16), y, w - c.p(16), y], fill=c.sep, width=1)
            continue
        name = person(rng)
        r = c.p(20)
        _avatar(c, d, c.p(12), y, r, name)
        x = c.p(12) + 2 * r + c.p(10)
        d.text((x, y + c.p(2)), name, font=fbold, fill=c.fg)
        handle = f"@{name.split()[0].lower()}{rng.randint(1, 999)} · {rng.randint(1, 59)}m"
        d.text((x + fbold.getlength(name) + c.p(6), y + c.p(2)), handle, font=fs, fill=c.fg2)
        ty = y + line_h(fbold) + c.p(8)
        body = sentence(rng, 4, 20) if rng.random() < 0.6 else rng.choice(CHAT_LONG).capitalize()
        for li in wrap(body, f, w - x - c.p(16))[:4]:
            d.text((x, ty), li, font=f, fill=c.fg)
            ty += line_h(f) * 1.3
        if rng.random() < 0.55:
            ph = int((w - x - c.p(16)) * rng.choice([0.56, 0.75, 1.0]))
            _thumb(c, img, (x, ty + c.p(6), w - c.p(16), ty + c.p(6) + ph), c.p(12))
            ty += ph + c.p(12)
        for k in range(4):
            ax = x + k * (w - x) / 4.2
            d.ellipse([ax, ty + c.p(6), ax + c.p(14), ty + c.p(20)], outline=c.fg2, width=max(1, c.p(1.5)))
            d.text((ax + c.p(20), ty + c.p(5)), str(rng.randint(0, 999)), font=fs, fill=c.fg2)
        y = ty + c.p(30)
        d.line([0, y, w, y], fill=c.sep, width=1)


def screen_email(c: Ctx, img: Image.Image, top: int, bottom: int) -> None:
    w = img.width
    d = ImageDraw.Draw(img)
    rng = c.rng
    d.rectangle([0, top, w, bottom], fill=c.bg)
    if c.ios:
        y = _title(c, d, rng.choice(["Inbox", "All Inboxes", "Mail"]), top, w)
        y = _search(c, d, y, w)
    else:
        y = _search(c, d, top + c.p(8), w, "Search in mail") + c.p(4)
        d.text((c.p(16), y), rng.choice(["Primary", "Inbox", "All mail"]), font=c.f(13), fill=c.fg2)
        y += c.p(24)
    fb, f, fs = c.f(16, bold=True), c.f(15), c.f(14)
    avatars = not c.ios or rng.random() < 0.3
    while y < bottom:
        unread = rng.random() < 0.35
        sender = person(rng) if rng.random() < 0.7 else rng.choice(STORES).title()
        x = c.p(16)
        if avatars:
            r = c.p(20)
            _avatar(c, d, x, y + c.p(10), r, sender)
            x += 2 * r + c.p(14)
        elif unread:
            d.ellipse([c.p(4), y + c.p(16), c.p(14), y + c.p(26)], fill=c.accent)
            x = c.p(22)
        d.text((x, y + c.p(8)), sender, font=fb if unread else c.f(16), fill=c.fg)
        t = rng.choice(
            [
                f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['AM', 'PM'])}",
                "Yesterday",
                rng.choice(["Mon", "Tue", "Fri"]),
                f"{rng.randint(1, 28)}/0{rng.randint(1, 9)}",
            ]
        )
        d.text((w - c.p(16) - fs.getlength(t), y + c.p(10)), t, font=fs, fill=c.fg2)
        ty = y + c.p(8) + line_h(fb) * 1.3
        d.text((x, ty), _fill(rng.choice(SUBJECTS), rng), font=fb if unread and not c.ios else f, fill=c.fg)
        ty += line_h(f) * 1.3
        for li in wrap(sentence(rng, 10, 24), fs, w - x - c.p(16))[: rng.choice([1, 2])]:
            d.text((x, ty), li, font=fs, fill=c.fg2)
            ty += line_h(fs) * 1.3
        y = ty + c.p(10)
        d.line([x, y, w, y], fill=c.sep, width=1)


def screen_article(c: Ctx, img: Image.Image, top: int, bottom: int) -> None:
    w = img.width
    d = ImageDraw.Draw(img)
    rng = c.rng
    d.rectangle([0, top, w, bottom], fill=c.bg)
    bar = c.p(44)  # browser address bar
    d.rounded_rectangle([c.p(12), top + c.p(6), w - c.p(12), top + bar], radius=c.p(10), fill=c.card)
    fs = c.f(14)
    url = rng.choice(DOMAINS)
    d.text((w / 2 - fs.getlength(url) / 2, top + c.p(25) - line_h(fs) / 2), url, font=fs, fill=c.fg)
    y = top + bar + c.p(16)
    serif = pick_fonts(rng, "serif") if rng.random() < 0.5 else (c.reg, c.bold)
    m = c.p(20) if w < c.p(700) else int(w * 0.18)
    ft = font(serif[1], c.s * rng.choice([24, 28, 32]))
    for li in wrap(_fill(rng.choice(DOC_TITLES), rng) + ": " + sentence(rng, 3, 8), ft, w - 2 * m):
        d.text((m, y), li, font=ft, fill=c.fg)
        y += line_h(ft) * 1.2
    d.text((m, y + c.p(6)), f"By {person(rng)} · {rng.randint(2, 12)} min read", font=fs, fill=c.fg2)
    y += c.p(36)
    if rng.random() < 0.6:
        ph = int((w - 2 * m) * 0.56)
        _thumb(c, img, (m, y, w - m, y + ph), c.p(4))
        y += ph + c.p(16)
    fb = font(serif[0], c.s * rng.choice([16, 17, 18]))
    while y < bottom:
        for li in wrap(paragraph(rng, 2, 4), fb, w - 2 * m):
            d.text((m, y), li, font=fb, fill=c.fg)
            y += line_h(fb) * 1.5
        y += c.p(14)


SCREENS = {
    "chat": screen_chat,
    "settings": screen_settings,
    "feed": screen_feed,
    "email": screen_email,
    "article": screen_article,
}


def make_screenshot(rng: random.Random, small: bool, thumb: Callable[[], Image.Image]) -> tuple[Image.Image, dict]:
    form = rng.choices(["phone", "tablet", "desktop"], [0.8, 0.1, 0.1])[0]
    w, h, logical = rng.choice({"phone": PHONES, "tablet": TABLETS, "desktop": DESKTOPS}[form])
    k = 1.0
    if small:
        k = rng.randint(160, SMALL_MAX) / max(w, h)
        w, h = round(w * k), round(h * k)
    s = w / logical
    reg, bold = pick_fonts(rng, "sans")
    c = Ctx(rng, s, rng.random() < 0.3, rng.choice(ACCENTS), reg, bold, thumb, ios=rng.random() < 0.5)
    screen = rng.choices(list(SCREENS), [0.4, 0.15, 0.2, 0.15, 0.1])[0]
    img = Image.new("RGB", (w, h), c.bg)
    d = ImageDraw.Draw(img)
    if form == "desktop":
        s = c.s = w / logical * rng.uniform(0.9, 1.25)
        tb = c.p(32)
        d.rectangle([0, 0, w, tb], fill=(40, 40, 42) if c.dark else (232, 232, 234))
        for k2, col in enumerate([(255, 95, 86), (255, 189, 46), (39, 201, 63)]):
            d.ellipse([c.p(12 + 20 * k2), c.p(10), c.p(24 + 20 * k2), c.p(22)], fill=col)
        side = int(w * rng.uniform(0.16, 0.24))
        d.rectangle([0, tb, side, h], fill=c.card)
        fs = c.f(14)
        y = tb + c.p(16)
        items = rng.sample(
            [
                "Inbox",
                "Starred",
                "Sent",
                "Drafts",
                "Archive",
                "Spam",
                "Trash",
                "# general",
                "# random",
                "# design",
                "Files",
                "Calendar",
            ],
            8,
        )
        for it in items:
            d.text((c.p(20), y), it, font=fs, fill=c.fg)
            y += c.p(30)
        sub_w = w - side
        c.s = c.s * rng.uniform(1.0, 1.4)
        region = Image.new("RGB", (sub_w, h - tb), c.bg)
        SCREENS[rng.choice(["chat", "email", "article", "feed"])](c, region, 0, region.height)
        img.paste(region, (side, tb))
    else:
        sb = c.p(44 if c.ios and form == "phone" else 26)
        nav = "home" if c.ios else rng.choice(["gesture", "buttons"])
        nb = c.p({"home": 34, "gesture": 24, "buttons": 48}[nav])
        sub = Image.new("RGB", (w, h), c.bg)
        SCREENS[screen](c, sub, sb, h - nb)
        img.paste(sub)
        d = ImageDraw.Draw(img)
        top_col = img.getpixel((w // 2, min(h - 1, sb + 2)))
        d.rectangle([0, 0, w, sb], fill=top_col)
        lum = sum(top_col) / 3
        _status_bar(c, d, w, sb / c.s, (255, 255, 255) if lum < 128 else (0, 0, 0))
        _bottom_bar(c, d, w, h, nav)
    # Device-exact sizes are real but make a trivial cue: users crop screenshots, messengers shrink them.
    post = rng.choices(["as_is", "crop", "shared"], [0.55, 0.25, 0.2])[0]
    if post == "crop":
        ch = int(h * rng.uniform(0.3, 0.9))
        cw = w if rng.random() < 0.7 else int(w * rng.uniform(0.6, 1.0))
        x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = img.crop((x0, y0, x0 + cw, y0 + ch))
    elif post == "shared":
        img = resize_long(img, min(max(w, h), rng.choice([960, 1024, 1280, 1600])))
    screen = screen if form != "desktop" else "desktop"
    return img, {"form": form, "screen": screen, "dark": c.dark, "device": [w, h], "post": post}


# --------------------------------------------------------------------------- documents and receipts


def render_page(rng: random.Random, width: int) -> Image.Image:
    ratio = rng.choice([1.414, 1.294, 1.414])
    h = int(width * ratio)
    paper = tuple(
        int(v) for v in np.array([rng.randint(238, 255)] * 3) - np.array([0, rng.randint(0, 4), rng.randint(0, 12)])
    )
    page = Image.new("RGB", (width, h), paper)
    d = ImageDraw.Draw(page)
    ink = (rng.randint(0, 40),) * 3
    reg, bold = pick_fonts(rng, rng.choice(["serif", "sans", "serif"]))
    hreg, hbold = (reg, bold) if rng.random() < 0.6 else pick_fonts(rng, "sans")
    bs = width * rng.uniform(0.016, 0.023)
    fb, fbb = font(reg, bs), font(bold, bs)
    m = int(width * rng.uniform(0.07, 0.12))
    y = m
    if rng.random() < 0.35:  # letterhead
        org = rng.choice(STORES).title() + rng.choice([" Ltd.", " GmbH", " & Co.", " Council", " University"])
        fo = font(hbold, bs * 1.5)
        d.text((m, y), org, font=fo, fill=rng.choice([ink, (20, 60, 140), (140, 20, 30)]))
        y += line_h(fo) * 1.4
        d.line([m, y, width - m, y], fill=ink, width=max(1, int(bs / 8)))
        d.text(
            (m, y + bs * 0.4),
            f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {rng.choice(CITIES)}",
            font=font(reg, bs * 0.8),
            fill=ink,
        )
        y += bs * 3
    ft = font(hbold, bs * rng.uniform(1.6, 2.6))
    center = rng.random() < 0.4
    for li in wrap(_fill(rng.choice(DOC_TITLES), rng), ft, width - 2 * m):
        x = (width - ft.getlength(li)) / 2 if center else m
        d.text((x, y), li, font=ft, fill=ink)
        y += line_h(ft) * 1.25
    d.text(
        (m, y + bs * 0.3),
        f"{rng.randint(1, 28)} {rng.choice(['January', 'March', 'June', 'October'])} {rng.randint(2015, 2025)} · {person(rng)}",
        font=font(reg, bs * 0.9),
        fill=ink,
    )
    y += bs * 3
    cols = 2 if rng.random() < 0.15 else 1
    gutter = bs * 2
    cw = (width - 2 * m - (cols - 1) * gutter) / cols
    col = 0
    lh = line_h(fb) * rng.uniform(1.3, 1.6)
    y_top = y
    x0 = m
    while True:
        r = rng.random()
        if y > h - m - lh * 2:
            if col + 1 < cols:
                col += 1
                x0, y = m + col * (cw + gutter), y_top
                continue
            break
        if r < 0.15:
            fh = font(hbold, bs * 1.25)
            d.text(
                (x0, y + lh * 0.4),
                f"{rng.randint(1, 9)}. {rng.choice(HEADINGS)}" if rng.random() < 0.5 else rng.choice(HEADINGS),
                font=fh,
                fill=ink,
            )
            y += line_h(fh) + lh
        elif r < 0.27:
            for _ in range(rng.randint(2, 5)):
                lines = wrap(sentence(rng, 4, 14), fb, cw - bs * 2)
                d.ellipse([x0 + bs * 0.3, y + lh * 0.3, x0 + bs * 0.7, y + lh * 0.3 + bs * 0.4], fill=ink)
                for li in lines:
                    d.text((x0 + bs * 1.5, y), li, font=fb, fill=ink)
                    y += lh
        elif r < 0.37 and cols == 1:
            nc, nr = rng.randint(3, 5), rng.randint(3, 8)
            rh = lh * 1.2
            if y + rh * (nr + 1) > h - m:
                y = h
                continue
            heads = rng.sample(
                ["Item", "Qty", "Date", "Amount", "Status", "Name", "Total", "Code", "Hours", "Rate"], nc
            )
            tw = cw / nc
            for j in range(nr + 1):
                for i in range(nc):
                    cell = (
                        heads[i] if j == 0 else (rng.choice(WORDS).title() if i == 0 else f"{rng.uniform(1, 999):.2f}")
                    )
                    d.text(
                        (x0 + i * tw + bs * 0.4, y + j * rh + (rh - line_h(fb)) / 2),
                        cell,
                        font=fbb if j == 0 else fb,
                        fill=ink,
                    )
            lw = max(1, int(bs / 12))
            for j in range(nr + 2):
                d.line([x0, y + j * rh, x0 + cw, y + j * rh], fill=ink, width=lw)
            if rng.random() < 0.6:
                for i in range(nc + 1):
                    d.line([x0 + i * tw, y, x0 + i * tw, y + (nr + 1) * rh], fill=ink, width=lw)
            y += (nr + 1) * rh + lh
        else:
            indent = bs * 2 if rng.random() < 0.3 else 0
            lines = wrap(paragraph(rng, 2, 5), fb, cw - indent)
            for i, li in enumerate(lines):
                if y > h - m - lh:
                    break
                d.text((x0 + (indent if i == 0 else 0), y), li, font=fb, fill=ink)
                y += lh
            y += lh * 0.6
    if rng.random() < 0.6:
        pn = str(rng.randint(1, 12))
        fp = font(reg, bs * 0.85)
        d.text(((width - fp.getlength(pn)) / 2, h - m * 0.6), pn, font=fp, fill=ink)
    return page


def render_receipt(rng: random.Random, width: int) -> Image.Image:
    cols = rng.choice([32, 36, 40, 42, 48])
    reg, bold = pick_fonts(rng, "mono")
    fs = width * 0.92 / (cols * 0.6)
    f, fb = font(reg, fs), font(bold, fs)
    lh = line_h(f) * rng.uniform(1.15, 1.4)
    store = rng.choice(STORES)
    n_items = rng.randint(3, 18)
    ink = (rng.randint(20, 80),) * 3
    lines: list[tuple[str, str, bool, float]] = []  # (text, align, bold, scale)
    lines.append((store, "c", True, rng.choice([1.0, 1.4, 1.8])))
    lines.append((f"{rng.randint(1, 300)} {rng.choice(STREETS).upper()}", "c", False, 1))
    lines.append(
        (f"{rng.choice(CITIES).upper()}  TEL {rng.randint(100, 999)}-{rng.randint(1000, 9999)}", "c", False, 1)
    )
    if rng.random() < 0.5:
        lines.append((f"VAT NO {rng.randint(10**8, 10**9)}", "c", False, 1))
    lines.append(("", "l", False, 1))
    date = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2019, 2025)}  {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}"
    lines.append((date, "l", False, 1))
    lines.append((f"RECEIPT #{rng.randint(1000, 99999)}  CASHIER {rng.choice(FIRST).upper()}", "l", False, 1))
    sep = rng.choice("-=*.")
    lines.append((sep * cols, "l", False, 1))
    total = 0.0
    for _ in range(n_items):
        name = rng.choice(ITEMS)
        q = rng.choice([1, 1, 1, 2, 3])
        price = round(rng.uniform(0.5, 25), 2)
        total += q * price
        if q > 1:
            lines.append((name, "l", False, 1))
            lines.append(_lr(f"  {q} @ {price:.2f}", f"{q * price:.2f}", cols))
        else:
            lines.append(_lr(name, f"{price:.2f}", cols))
    lines.append((sep * cols, "l", False, 1))
    tax = total * rng.choice([0.05, 0.07, 0.08, 0.19, 0.2])
    lines.append(_lr("SUBTOTAL", f"{total:.2f}", cols))
    lines.append(_lr("TAX", f"{tax:.2f}", cols))
    t = _lr("TOTAL", f"{total + tax:.2f}", cols)
    lines.append((t[0], "l", True, 1))
    lines.append(
        _lr(
            rng.choice(["VISA", "MASTERCARD", "CASH", "DEBIT"]) + f" ****{rng.randint(1000, 9999)}",
            f"{total + tax:.2f}",
            cols,
        )
    )
    lines.append((sep * cols, "l", False, 1))
    for msg in rng.sample(
        ["THANK YOU!", "PLEASE COME AGAIN", "KEEP YOUR RECEIPT", "RETURNS WITHIN 30 DAYS", "HAVE A NICE DAY"], 2
    ):
        lines.append((msg, "c", False, 1))
    barcode = rng.random() < 0.6
    h = int(width * 0.12 + sum(lh * sc for *_, sc in lines) + (width * 0.25 if barcode else 0) + width * 0.1)
    paper = (rng.randint(244, 255), rng.randint(242, 254), rng.randint(232, 250))
    img = Image.new("RGB", (width, h), paper)
    d = ImageDraw.Draw(img)
    y = width * 0.08
    x0 = (width - f.getlength("0" * cols)) / 2
    for text, align, b, sc in lines:
        ff = font(bold if b else reg, fs * sc) if sc != 1 else (fb if b else f)
        x = (width - ff.getlength(text)) / 2 if align == "c" else x0
        d.text((x, y), text, font=ff, fill=ink)
        y += lh * sc
    if barcode:
        y += lh
        x = width * 0.15
        while x < width * 0.85:
            bw = rng.choice([1, 1, 2, 3]) * max(1, width / 300)
            d.rectangle([x, y, x + bw, y + width * 0.15], fill=ink)
            x += bw + rng.choice([1, 2, 3]) * max(1, width / 300)
    return img


def _lr(a: str, b: str, cols: int) -> tuple[str, str, bool, float]:
    a = a[: cols - len(b) - 1]
    return (a + " " * (cols - len(a) - len(b)) + b, "l", False, 1)


def crumple(img: Image.Image, nrs: np.random.Generator, rng: random.Random) -> Image.Image:
    w, h = img.size
    shade = 1 - rng.uniform(0.04, 0.14) * lowfreq(nrs, w, h, rng.randint(6, 14))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(rng.randint(1, 5)):  # creases: one side slightly darker
        a = rng.uniform(0, math.pi)
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        side = (xx - px) * math.sin(a) - (yy - py) * math.cos(a)
        shade *= 1 - rng.uniform(0.02, 0.07) / (1 + np.exp(np.clip(-side / max(1.0, w / 200), -50, 50)))
    arr = np.asarray(img, np.float32) * shade[..., None]
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def background(
    rng: random.Random, nrs: np.random.Generator, w: int, h: int, photo: Callable[[], Image.Image]
) -> tuple[Image.Image, str]:
    kind = rng.choices(["wood", "flat", "cloth", "photo"], [0.3, 0.25, 0.15, 0.3])[0]
    if kind == "photo":
        img = ImageOps.fit(photo(), (w, h), Image.Resampling.BICUBIC)
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 6) * max(w, h) / 1500)), kind
    if kind == "wood":
        base = np.array(
            rng.choice([(150, 105, 65), (120, 80, 50), (190, 150, 105), (90, 60, 40), (205, 175, 135)]), np.float32
        )
        along, across = rng.randint(2, 4), rng.randint(60, 140)
        shape = (across, along) if rng.random() < 0.5 else (along, across)  # (rows, cols) of the grain grid
        g = (nrs.random(shape) * 255).astype(np.uint8)
        streak = np.asarray(Image.fromarray(g).resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255
        arr = base * (0.75 + 0.45 * streak)[..., None]
    elif kind == "flat":
        base = np.array(
            rng.choice(
                [
                    (200, 200, 200),
                    (60, 60, 65),
                    (225, 215, 195),
                    (40, 55, 80),
                    (70, 100, 70),
                    (150, 40, 40),
                    (235, 235, 240),
                ]
            ),
            np.float32,
        )
        arr = base * (0.85 + 0.3 * lowfreq(nrs, w, h, 4))[..., None]
    else:
        base = np.array(rng.choice([(70, 80, 120), (120, 110, 100), (160, 60, 60), (90, 120, 100)]), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        per = max(2.0, max(w, h) / rng.uniform(150, 400))
        weave = 0.5 + 0.25 * (np.sin(xx / per * math.pi) + np.sin(yy / per * math.pi))
        arr = base * (0.8 + 0.25 * weave + 0.1 * lowfreq(nrs, w, h, 5))[..., None]
    arr = arr + nrs.normal(0, rng.uniform(2, 7), (h, w, 1))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8)), kind


def photograph(
    sheet: Image.Image,
    rng: random.Random,
    nrs: np.random.Generator,
    long: int,
    fill: tuple[float, float],
    photo: Callable[[], Image.Image],
) -> tuple[Image.Image, dict]:
    """`sheet` (a page or receipt) lying on a surface, shot with a phone: perspective, light, blur, noise."""
    ar = rng.choice([3 / 4, 3 / 4, 3 / 4, 4 / 3, 9 / 16, 1.0])
    W, H = (round(long * ar), long) if ar <= 1 else (long, round(long / ar))
    bg, bg_kind = background(rng, nrs, W, H, photo)
    sw, sh = sheet.size
    k = rng.uniform(*fill) * min(W / sw, H / sh)
    tw, th = sw * k, sh * k
    cx, cy = W / 2 + rng.uniform(-0.15, 0.15) * W, H / 2 + rng.uniform(-0.12, 0.12) * H
    a = math.radians(rng.uniform(-9, 9))
    jit = rng.uniform(0.01, 0.08)
    quad = []
    for ux, uy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = ux * tw / 2, uy * th / 2
        x, y = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
        quad.append((cx + x + rng.uniform(-jit, jit) * tw, cy + y + rng.uniform(-jit, jit) * th))
    # render the sheet near its on-screen size so text is not aliased by the warp
    scale = min(1.0, max(tw, th) * 1.15 / max(sw, sh))
    if scale < 1:
        sheet = sheet.resize((max(2, round(sw * scale)), max(2, round(sh * scale))), Image.Resampling.LANCZOS)
        sw, sh = sheet.size
    co = persp_coeffs(quad, [(0, 0), (sw, 0), (sw, sh), (0, sh)])
    warped = sheet.transform((W, H), Image.Transform.PERSPECTIVE, co, Image.Resampling.BICUBIC)
    mask = Image.new("L", (sw, sh), 255).transform((W, H), Image.Transform.PERSPECTIVE, co, Image.Resampling.BILINEAR)
    shadow = mask.filter(ImageFilter.GaussianBlur(max(2, W / 80)))
    off = int(W / rng.uniform(80, 200))
    shadow = ImageOps.expand(shadow, (off, off, 0, 0)).crop((0, 0, W, H))
    arr = np.asarray(bg, np.float32) * (1 - 0.45 * np.asarray(shadow, np.float32)[..., None] / 255)
    m = np.asarray(mask, np.float32)[..., None] / 255
    arr = arr * (1 - m) + np.asarray(warped, np.float32) * m
    # light: a gradient, a vignette, sometimes a soft shadow of the phone or a hand
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) / max(W, H)
    t = rng.uniform(0, 2 * math.pi)
    lin = xx * math.cos(t) + yy * math.sin(t)
    lin = (lin - lin.min()) / max(1e-6, float(lin.max() - lin.min()))
    lo, hi = rng.uniform(0.6, 0.9), rng.uniform(0.95, 1.08)
    light = lo + (hi - lo) * lin
    light *= 1 - rng.uniform(0, 0.25) * ((xx - W / max(W, H) / 2) ** 2 + (yy - H / max(W, H) / 2) ** 2) * 2
    if rng.random() < 0.4:
        blob = Image.new("L", (W, H), 0)
        bx, by = rng.uniform(0, W), rng.uniform(0, H)
        r = rng.uniform(0.2, 0.5) * max(W, H)
        ImageDraw.Draw(blob).ellipse([bx - r, by - r * 0.6, bx + r, by + r * 0.6], fill=255)
        blob = blob.filter(ImageFilter.GaussianBlur(max(W, H) / rng.uniform(15, 40)))
        light *= 1 - rng.uniform(0.15, 0.4) * np.asarray(blob, np.float32) / 255
    cast = np.array([rng.uniform(0.94, 1.06), 1.0, rng.uniform(0.88, 1.04)], np.float32)
    arr = arr * light[..., None] * cast + nrs.normal(0, rng.uniform(1, 4), (H, W, 1))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    blur = rng.choice([0, 0.4, 0.7, 1.0, 1.4]) * max(W, H) / 1500
    if blur > 0.2:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return img, {"background": bg_kind, "quad": [[round(x), round(y)] for x, y in quad]}


def make_document(
    rng: random.Random, nrs: np.random.Generator, small: bool, photo: Callable[[], Image.Image]
) -> tuple[Image.Image, dict]:
    long = out_long(rng, small, 900, 2200)
    if rng.random() < 0.2:  # a flat scan or an app export
        page = render_page(rng, max(120, int(long / 1.41)))
        if rng.random() < 0.5:
            page = page.rotate(
                rng.uniform(-1.5, 1.5), Image.Resampling.BICUBIC, expand=False, fillcolor=page.getpixel((1, 1))
            )
        arr = np.asarray(page, np.float32) + nrs.normal(0, rng.uniform(0, 3), (page.height, page.width, 1))
        return Image.fromarray(arr.clip(0, 255).astype(np.uint8)), {"scan": True}
    page = render_page(rng, max(160, int(long * rng.uniform(0.6, 0.9))))
    img, meta = photograph(page, rng, nrs, long, (0.6, 1.1), photo)
    return img, {"scan": False, **meta}


def make_receipt(
    rng: random.Random, nrs: np.random.Generator, small: bool, photo: Callable[[], Image.Image]
) -> tuple[Image.Image, dict]:
    long = out_long(rng, small, 900, 2200)
    strip = render_receipt(rng, max(90, int(long * rng.uniform(0.28, 0.45))))
    strip = crumple(strip, nrs, rng)
    cropped = rng.random() < 0.3
    if cropped:  # only part of a long receipt is in the picture
        sh = strip.height
        keep = rng.uniform(0.45, 0.8)
        y0 = rng.choice([0, int(sh * (1 - keep)), int(rng.uniform(0, 1 - keep) * sh)])
        strip = strip.crop((0, y0, strip.width, y0 + int(sh * keep)))
    img, meta = photograph(strip, rng, nrs, long, (0.75, 1.3) if cropped else (0.6, 1.0), photo)
    return img, {"cropped": cropped, **meta}


# --------------------------------------------------------------------------- build


@dataclass
class GalleryInfo:
    out_dir: Path
    kinds: tuple[str, ...]
    counts: dict[str, int]
    truth: dict[str, str]  # path relative to out_dir (posix) -> kind
    sources: dict[str, list[str]] = field(default_factory=dict)  # path -> source photo ids it shows
    meta: dict[str, dict] = field(default_factory=dict)  # path -> recipe (style, crop box, ...)
    flat: bool = False
    truth_csv: Path | None = None
    synthetic_sources: bool = False
    seconds: float = 0.0


def truth_csv_path(out_dir: Path) -> Path:
    """Where a flat gallery's answers go: beside the folder, never inside it."""
    out_dir = Path(out_dir)
    return out_dir.parent / f"{out_dir.name}.truth.csv"


def build(
    out_dir: Path,
    per_kind: int,
    seed: int = 0,
    shared: Path = DEFAULT_SHARED,
    small: bool = False,
    flat: bool = False,
    kinds: tuple[str, ...] = KINDS,
    progress: bool = False,
) -> GalleryInfo:
    """Write `per_kind` pictures of each kind under out_dir (a folder per kind, or one flat folder)."""
    t0 = time.perf_counter()
    out_dir, shared = Path(out_dir), Path(shared)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty: remove it or choose another folder")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown kinds {bad}; known: {KINDS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    pools = make_pools(shared, per_kind, seed, small)
    src = lambda sid: load_source(sid, shared, small)
    misc = pools.misc or [f"synthetic/scenery/{i:04d}" for i in range(8)]
    total = per_kind * len(kinds)
    order = list(range(total))
    random.Random(f"{seed}:flat").shuffle(order)
    info = GalleryInfo(out_dir, tuple(kinds), {}, {}, flat=flat, synthetic_sources=pools.synthetic)
    meme_plan = [k for k, _ in MEME_MIX for _ in range(_meme_counts(per_kind)[k])]
    random.Random(f"{seed}:memeplan").shuffle(meme_plan)
    meme_seen: dict[str, int] = {}
    j = 0
    for kind in kinds:
        if not flat:
            (out_dir / kind).mkdir(exist_ok=True)
        for i in range(per_kind):
            rng = random.Random(f"{seed}:{kind}:{i}")
            nrs = np.random.default_rng(rng.getrandbits(64))
            used: list[str] = []

            def photo_from(ids: list[str], rng=rng, used=used) -> Image.Image:
                sid = rng.choice(ids)
                used.append(sid)
                return src(sid)

            if kind in PHOTO_KINDS:
                ids = pools.plain[kind]
                sid = ids[i % len(ids)]
                used.append(sid)
                img, meta = make_photo(kind, src(sid), rng, small, variant=i >= len(ids))
            elif kind == "memes":
                origin = meme_plan[i]
                ids = pools.memes[origin] or pools.memes["animals"]
                n_used = meme_seen.get(origin, 0)
                meme_seen[origin] = n_used + 1
                sid = ids[n_used] if n_used < len(ids) else rng.choice(ids)  # a template reused with a new caption
                used.append(sid)
                img, meta = make_meme(src(sid), rng, small)
                meta["origin"] = origin
            elif kind == "screenshots":
                img, meta = make_screenshot(rng, small, lambda: photo_from(misc))
            elif kind == "documents":
                img, meta = make_document(rng, nrs, small, lambda: photo_from(misc))
            else:
                img, meta = make_receipt(rng, nrs, small, lambda: photo_from(misc))
            if small and max(img.size) > SMALL_MAX:
                old_w = img.width
                img = resize_long(img, SMALL_MAX)
                _scale_boxes(meta, img.width / old_w)
            data, ext = encode(img, kind, rng)
            name = f"IMG_{order[j] + 1:04d}{ext}" if flat else f"{kind}/IMG_{i + 1:04d}{ext}"
            (out_dir / name).write_bytes(data)
            info.truth[name] = kind
            info.sources[name] = used
            info.meta[name] = meta
            j += 1
        info.counts[kind] = per_kind
        if progress:
            print(f"  {kind}: {per_kind} in {time.perf_counter() - t0:.0f} s", flush=True)
    if flat:
        info.truth_csv = truth_csv_path(out_dir)
        with open(info.truth_csv, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["file", "kind"])
            for name in sorted(info.truth):
                wr.writerow([name, info.truth[name]])
    info.seconds = time.perf_counter() - t0
    return info


def _scale_boxes(meta: dict, k: float) -> None:
    """Keep a recipe's pixel boxes true after the picture was scaled by k."""
    if "photo_box" in meta:
        meta["photo_box"] = [round(v * k) for v in meta["photo_box"]]
    if "bands" in meta:
        meta["bands"] = [[round(v * k) for v in b] for b in meta["bands"]]


def write_manifest(info: GalleryInfo) -> Path:
    path = info.out_dir.parent / f"{info.out_dir.name}.manifest.json"
    data = {
        "out_dir": str(info.out_dir),
        "counts": info.counts,
        "flat": info.flat,
        "synthetic_sources": info.synthetic_sources,
        "seconds": round(info.seconds, 1),
        "files": {n: {"kind": k, "sources": info.sources[n], **info.meta[n]} for n, k in sorted(info.truth.items())},
    }
    path.write_text(json.dumps(data, indent=1))
    return path


def contact_sheet(info: GalleryInfo, path: Path, per_kind: int = 6, thumb: int = 200) -> Path:
    """A grid with one row per kind (first `per_kind` files of each), to look at the gallery."""
    rows = []
    for kind in info.kinds:
        names = sorted(n for n, k in info.truth.items() if k == kind)[:per_kind]
        rows.append((kind, names))
    lab = 110
    sheet = Image.new("RGB", (lab + per_kind * (thumb + 6), len(rows) * (thumb + 6)), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    f = font(pick_fonts(random.Random(0), "sans")[1], 16)
    for r, (kind, names) in enumerate(rows):
        y = r * (thumb + 6)
        d.text((6, y + thumb / 2 - 8), kind, font=f, fill=(0, 0, 0))
        for c, n in enumerate(names):
            with Image.open(info.out_dir / n) as im:
                im = im.convert("RGB")
                im.thumbnail((thumb, thumb))
            sheet.paste(im, (lab + c * (thumb + 6) + (thumb - im.width) // 2, y + (thumb - im.height) // 2))
    path = Path(path)
    sheet.save(path)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.phone_gallery", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="output folder (must be empty or missing)")
    ap.add_argument("--per-kind", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flat", action="store_true", help="one folder, neutral names, answers in OUT.truth.csv beside it")
    ap.add_argument("--small", action="store_true", help="tiny images (<= 320 px), for quick checks")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder of the real photos")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of kinds")
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet image there")
    a = ap.parse_args(argv)
    info = build(a.out, a.per_kind, a.seed, a.shared, a.small, a.flat, tuple(a.kinds.split(",")), progress=True)
    print(f"wrote {sum(info.counts.values())} images to {info.out_dir} in {info.seconds:.1f} s: {info.counts}")
    if info.synthetic_sources:
        print(f"note: no real photos at {a.shared}; photo kinds use generated stand-ins", file=sys.stderr)
    print(f"manifest: {write_manifest(info)}")
    if info.truth_csv:
        print(f"truth: {info.truth_csv}")
    if a.sheet:
        print(f"contact sheet: {contact_sheet(info, a.sheet)}")


if __name__ == "__main__":
    main()
