"""The picture of a PNG prompt card: the reference image fit to the card, or a card drawn
with the prompts in readable type. Pillow only; the chunks are pngcard's business.
"""

import io
import unicodedata
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

CARD_LONG_SIDE = 1024
CARD_SHORT_SIDE_MIN = 640
MAX_REFERENCE_PIXELS = 50_000_000  # refused before decoding: a decompression bomb
MAX_CARD_TEXT = 3_000  # characters per block drawn; the chunks carry the full text
BACKGROUND = (246, 244, 240)
INK = (34, 34, 34)
MUTED = (112, 108, 104)
MARGIN = 56
# Debian's CJK fonts (fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk), used when
# installed; else Pillow's bundled font, which draws Chinese as empty boxes.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def reference_picture(data: bytes) -> Image.Image:
    """JPEG or PNG bytes, upright and fit within CARD_LONG_SIDE, transparency shown on
    the card colour. Raises ValueError for anything else."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in ("JPEG", "PNG"):
                raise ValueError(f"a card picture must be JPEG or PNG, not {source.format}")
            if source.width * source.height > MAX_REFERENCE_PIXELS:
                raise ValueError("the picture has too many pixels")
            source.draft("RGB", (CARD_LONG_SIDE, CARD_LONG_SIDE))  # JPEG decodes pre-shrunk
            picture = ImageOps.exif_transpose(source).convert("RGBA")
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError("the picture is not a readable JPEG or PNG") from error
    picture.thumbnail((CARD_LONG_SIDE, CARD_LONG_SIDE))
    flat = Image.new("RGB", picture.size, BACKGROUND)
    flat.paste(picture, mask=picture.getchannel("A"))
    return flat


def drawn_card(*, title: str, positive_prompt: str, negative_prompt: str, settings: str,
               size: tuple[int, int] | None) -> Image.Image:
    """Title, prompt and negative prompt from the top, the settings line at the foot, on
    a card of the record's aspect (square when the size is unknown)."""
    card = Image.new("RGB", _card_size(size), BACKGROUND)
    draw = ImageDraw.Draw(card)
    width = card.width - 2 * MARGIN
    footer = _wrap(settings, _font(20), width)
    bottom = card.height - MARGIN - len(footer) * 28
    blocks = [(title, 40, INK), ("Prompt", 22, MUTED), (positive_prompt, 30, INK)]
    if negative_prompt.strip():
        blocks += [("Negative prompt", 22, MUTED), (negative_prompt, 24, INK)]
    top = MARGIN
    for text, font_size, colour in blocks:
        if text.strip():
            top = _draw_block(draw, text, _font(font_size), colour, top, bottom - 16, width) + 18
    for index, line in enumerate(footer):
        draw.text((MARGIN, bottom + index * 28), line, font=_font(20), fill=MUTED)
    return card


def _card_size(size: tuple[int, int] | None) -> tuple[int, int]:
    """Long side CARD_LONG_SIDE; the short side never so thin that text has no room."""
    if size is None:
        return CARD_LONG_SIDE, CARD_LONG_SIDE
    scale = CARD_LONG_SIDE / max(size)
    return (max(round(size[0] * scale), CARD_SHORT_SIDE_MIN),
            max(round(size[1] * scale), CARD_SHORT_SIDE_MIN))


def _draw_block(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont,
                colour: tuple[int, int, int], top: int, bottom: int, width: int) -> int:
    """Wrapped lines from `top`; the last one that fits ends in "…" when text is left."""
    line_height = round(font.size * 1.35)
    lines = _wrap(text.strip()[:MAX_CARD_TEXT], font, width)
    room = max((bottom - top) // line_height, 0)
    if len(lines) > room:
        lines = lines[:room]
        if lines:
            lines[-1] = lines[-1].rstrip()[:-1] + "…"
    for index, line in enumerate(lines):
        draw.text((MARGIN, top + index * line_height), line, font=font, fill=colour)
    return top + len(lines) * line_height


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if line and font.getlength(line + token) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        lines.append(line.rstrip())
    return lines


def _tokens(paragraph: str) -> list[str]:
    """Words with their trailing space; each CJK character alone, since Chinese breaks
    between any two characters; words cut at 24 characters so none overflows a line."""
    tokens: list[str] = []
    word = ""
    for char in paragraph:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            tokens += [word, char] if word else [char]
            word = ""
        else:
            word += char
            if char == " " or len(word) >= 24:
                tokens.append(word)
                word = ""
    return tokens + [word] if word else tokens


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in CJK_FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)
