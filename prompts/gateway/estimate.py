"""Offline input-token estimate for one gateway request, checked before any call.

It errs high on purpose: we cannot run the gateway's tokenizer, and underestimating
lets a request over the 200,000-token guard reach the gateway, where it fails after
being queued and possibly billed; overestimating only splits or refuses a request
that was close to the limit anyway. So CJK counts one token per character, other
text one token per 3 UTF-8 bytes (real tokenizers average about 4), and images use
the tile formula with a margin, or the largest possible figure when the size is unknown.
"""

from __future__ import annotations

import json
import math
import re

from .limits import INPUT_TOKEN_LIMIT
from .payloads import REPAIR_INSTRUCTION, RESPONSE_FORMAT, system_prompt

# CJK ideographs, kana, hangul, CJK punctuation and full-width forms.
_CJK = re.compile(
    "[\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)
BYTES_PER_TOKEN = 3
PER_MESSAGE_TOKENS = 8  # role markers and separators, for up to four messages

IMAGE_FIT_PX = 2048
IMAGE_SHORT_SIDE_PX = 768
IMAGE_TILE_PX = 512
IMAGE_TOKENS_PER_TILE = 170
IMAGE_BASE_TOKENS = 85
IMAGE_MARGIN = 1.2


def text_tokens(text: str) -> int:
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub("", text)
    return cjk + math.ceil(len(rest.encode("utf-8")) / BYTES_PER_TOKEN)


def image_tokens(width: int, height: int) -> int:
    """Tokens for one image: fit in 2048x2048, short side down to 768, 170 per 512-px tile + 85."""
    if width <= 0 or height <= 0:
        raise ValueError("image dimensions must be positive")
    scale = min(1.0, IMAGE_FIT_PX / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, IMAGE_SHORT_SIDE_PX / min(width, height))
    width, height = width * scale, height * scale
    tiles = math.ceil(width / IMAGE_TILE_PX) * math.ceil(height / IMAGE_TILE_PX)
    return math.ceil((IMAGE_TOKENS_PER_TILE * tiles + IMAGE_BASE_TOKENS) * IMAGE_MARGIN)


# The largest image after scaling is 2048x768: 4x2 tiles.
MAX_IMAGE_TOKENS = image_tokens(IMAGE_FIT_PX, IMAGE_SHORT_SIDE_PX)

# Computed from the real prompt and schema so the estimate follows any change to them;
# the longer system prompt and the repair instruction are counted whatever the request.
OVERHEAD_TOKENS = (
    max(text_tokens(system_prompt(with_images=flag)) for flag in (True, False))
    + text_tokens(json.dumps(RESPONSE_FORMAT))
    + text_tokens(REPAIR_INSTRUCTION)
    + 4 * PER_MESSAGE_TOKENS
)


def estimate_input_tokens(
    *, text: str, image_sizes: list[tuple[int, int]] = (), url_images: int = 0
) -> int:
    """Input tokens for a request with ``text`` (the brief, plus a previous reply when
    repairing), images of known ``(width, height)`` and ``url_images`` of unknown size."""
    return (
        OVERHEAD_TOKENS
        + text_tokens(text)
        + sum(image_tokens(width, height) for width, height in image_sizes)
        + url_images * MAX_IMAGE_TOKENS
    )


class TokenLimitExceeded(Exception):
    def __init__(self, estimated: int, limit: int) -> None:
        super().__init__(f"estimated {estimated} input tokens, over the limit of {limit}")
        self.estimated = estimated
        self.limit = limit


def check_token_limit(estimated: int) -> None:
    """Raise TokenLimitExceeded unless ``estimated`` is under INPUT_TOKEN_LIMIT."""
    if estimated >= INPUT_TOKEN_LIMIT:
        raise TokenLimitExceeded(estimated, INPUT_TOKEN_LIMIT)


# Splitting a brief that is too long for one request --------------------------------------

_SENTENCE_ENDS = frozenset(".!?")
_CJK_SENTENCE_ENDS = frozenset("。！？；")


def split_to_fit(text: str, *, max_tokens: int, max_chars: int) -> list[str]:
    """Rows of at most `max_tokens` estimated tokens and `max_chars` characters: one per
    paragraph; a paragraph too long is cut between sentences (as many per row as fit),
    and a sentence too long between characters. One pass, no backtracking."""
    rows: list[str] = []
    for paragraph in _paragraphs(text):
        if _fits(paragraph, max_tokens, max_chars):
            rows.append(paragraph)
            continue
        row, row_tokens = "", 0
        for piece in _pieces(paragraph, max_tokens, max_chars):
            tokens = text_tokens(piece)
            if row and (row_tokens + tokens > max_tokens or len(row) + len(piece) > max_chars):
                rows.append(row.strip())
                row, row_tokens = "", 0
            row += piece
            row_tokens += tokens  # a sum of parts never counts fewer tokens than the whole
        if row.strip():
            rows.append(row.strip())
    return rows


def _fits(text: str, max_tokens: int, max_chars: int) -> bool:
    return len(text) <= max_chars and text_tokens(text) <= max_tokens


def _paragraphs(text: str) -> list[str]:
    paragraphs, current = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current).strip())
            current = []
    if current:
        paragraphs.append("\n".join(current).strip())
    return paragraphs


def _sentences(paragraph: str) -> list[str]:
    """Sentences with their trailing spaces: cut after 。！？； or after . ! ? and a space."""
    sentences, start = [], 0
    for index, char in enumerate(paragraph):
        next_char = paragraph[index + 1] if index + 1 < len(paragraph) else " "
        if char in _CJK_SENTENCE_ENDS or (char in _SENTENCE_ENDS and next_char.isspace()):
            end = index + 1
            while end < len(paragraph) and paragraph[end].isspace():
                end += 1
            sentences.append(paragraph[start:end])
            start = end
    if start < len(paragraph):
        sentences.append(paragraph[start:])
    return [sentence for sentence in sentences if sentence]


def _pieces(paragraph: str, max_tokens: int, max_chars: int):
    """The paragraph's sentences; a sentence too long for a row alone, cut into parts."""
    for sentence in _sentences(paragraph):
        if _fits(sentence, max_tokens, max_chars):
            yield sentence
            continue
        part, cost = "", 0.0
        for char in sentence:
            char_cost = 1.0 if _CJK.match(char) else len(char.encode("utf-8")) / BYTES_PER_TOKEN
            # One token of margin for the rounding up in text_tokens.
            if part and (cost + char_cost > max_tokens - 1 or len(part) >= max_chars):
                yield part
                part, cost = "", 0.0
            part += char
            cost += char_cost
        if part:
            yield part
