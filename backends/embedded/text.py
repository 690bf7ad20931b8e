"""Text in the world: the lexicon written on signs and objects, the font, and how it is drawn.

Signs carry a word of `WORDS` or a number of `SIGN_NUMBERS`; shapes may carry one digit.
Text is upper case (A-Z, 0-9). It is drawn with the font that ships inside Pillow
(`ImageFont.load_default(size)`, Aileron Regular through FreeType, Pillow >= 10.1), so no
system font is needed and the same Pillow build draws the same pixels everywhere.
`normalise_text` is how every reader and every label compares text.
"""

from __future__ import annotations

import functools
import re

from PIL import ImageDraw, ImageFont

#: Words written on signs (upper case, 2-6 letters).
WORDS = (
    "STOP", "EXIT", "OPEN", "CLOSED", "SALE", "CAFE", "BANK", "HOTEL", "TAXI", "BUS",
    "PARK", "ZOO", "SHOP", "GYM", "FOOD", "GAS", "MAIL", "BOOKS", "MILK", "TEA", "SOUP",
    "FISH", "PIZZA", "MUSIC", "ART", "POOL", "WAIT", "SLOW", "GO", "YES", "NO", "LEFT",
    "RIGHT", "NORTH", "SOUTH", "EAST", "WEST", "FIRE", "HELP", "PUSH", "PULL", "KEEP",
)
#: Numbers written on signs (as text), and the digits written on shapes.
SIGN_NUMBERS = tuple(str(n) for n in range(10, 100))
DIGITS = tuple(str(d) for d in range(10))
#: Every character the world writes: what text readers decode.
CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CAP_HEIGHT = 0.7  # cap height of the font as a fraction of its size (measured: 0.68-0.72)


@functools.lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's built-in scalable font at `size` pixels (needs Pillow's FreeType support)."""
    f = ImageFont.load_default(size=int(size))
    if not isinstance(f, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType: the world's text needs it "
                           "(install a Pillow wheel from PyPI)")
    return f


def text_extent(text: str, size: int) -> tuple[int, int, int, int]:
    """The ink box (x0, y0, x1, y1) of `text` drawn at the origin with `font(size)`."""
    return font(size).getbbox(text)


def draw_text(draw: ImageDraw.ImageDraw, text: str, cx: float, cy: float, size: int,
              fill: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Draw `text` with its ink box centred on (cx, cy) (x, row); returns the ink box in
    array coordinates (x0, row0, x1, row1), end-exclusive."""
    x0, y0, x1, y1 = text_extent(text, size)
    ox, oy = round(cx - (x0 + x1) / 2), round(cy - (y0 + y1) / 2)
    draw.text((ox, oy), text, font=font(size), fill=fill)
    return ox + x0, oy + y0, ox + x1, oy + y1


def reading_box(box, category: str) -> tuple[int, int, int, int]:
    """The part of an object's DSL box (left, lower, right, upper) where the world writes
    its text: a sign's plate inside its border, the central two thirds of a shape
    (lower for a triangle, whose digit sits below the box centre)."""
    left, lower, right, upper = (float(v) for v in box[:4])
    if category == "sign":
        m = 0.12 * (upper - lower)
        out = (left + m, lower + m, right - m, upper - m)
    else:
        side = max(right - left, upper - lower)
        cx, cy = (left + right) / 2, (lower + upper) / 2 - (0.15 * side if category == "triangle" else 0.0)
        half = 0.33 * side
        out = (cx - half, cy - half, cx + half, cy + half)
    return tuple(int(round(v)) for v in out)  # type: ignore[return-value]


def normalise_text(text: str) -> str:
    """Upper case, only A-Z and 0-9, single spaces between words ('  Stop!' -> 'STOP')."""
    return " ".join(re.findall(r"[A-Z0-9]+", str(text).upper()))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@functools.lru_cache(maxsize=2)
def lexicon(digits: bool = False) -> tuple[str, ...]:
    """Every text the world writes (words, sign numbers, digits); numbers only if `digits`."""
    numbers = SIGN_NUMBERS + DIGITS
    return numbers if digits else WORDS + numbers


def snap(reading, words: tuple[str, ...]):
    """`reading` (a Reading) with its text replaced by the one entry of `words` within
    edit distance 1 of it, when there is exactly one; unchanged otherwise."""
    text = reading.text.replace(" ", "")
    if not text or text in words:
        return reading
    near = [w for w in words if abs(len(w) - len(text)) <= 1 and edit_distance(w, text) <= 1]
    return type(reading)(near[0], reading.confidence) if len(near) == 1 else reading


def similarity(read: str, target: str) -> float:
    """1 - normalised edit distance of the normalised texts, in [0, 1] (1: equal)."""
    a, b = normalise_text(read).replace(" ", ""), normalise_text(target).replace(" ", "")
    if not a and not b:
        return 1.0
    return 1.0 - edit_distance(a, b) / max(len(a), len(b))
