import math

import pytest

from prompts.gateway.estimate import (
    MAX_IMAGE_TOKENS,
    OVERHEAD_TOKENS,
    TokenLimitExceeded,
    check_token_limit,
    estimate_input_tokens,
    image_tokens,
    split_to_fit,
    text_tokens,
)
from prompts.gateway.limits import INPUT_TOKEN_LIMIT


def test_it_errs_high_against_a_four_chars_per_token_count():
    brief = "A photorealistic portrait of an elderly fisherman mending nets at dawn. " * 20

    text_part = estimate_input_tokens(text=brief) - OVERHEAD_TOKENS

    assert text_part >= math.ceil(len(brief) / 3) > len(brief) / 4


def test_it_counts_each_cjk_character_and_punctuation_as_a_token():
    brief = "一位年轻女孩的肖像，柔和的窗光。"

    assert estimate_input_tokens(text=brief) - OVERHEAD_TOKENS == len(brief)


def test_it_includes_the_real_system_prompt_and_schema():
    assert OVERHEAD_TOKENS > 500
    assert estimate_input_tokens(text="") == OVERHEAD_TOKENS


def test_it_counts_images_by_tiles_and_unknown_urls_at_the_maximum():
    assert image_tokens(512, 512) < image_tokens(1024, 1024) < image_tokens(4000, 1500)
    assert image_tokens(4000, 1500) == MAX_IMAGE_TOKENS
    assert image_tokens(100_000, 100_000) <= MAX_IMAGE_TOKENS
    with_sizes = estimate_input_tokens(text="b", image_sizes=[(1024, 1024)])
    with_url = estimate_input_tokens(text="b", url_images=1)
    assert with_url - with_sizes == MAX_IMAGE_TOKENS - image_tokens(1024, 1024)


def test_it_refuses_input_at_or_over_the_200k_guard():
    assert INPUT_TOKEN_LIMIT == 200_000
    check_token_limit(199_999)
    huge = estimate_input_tokens(text="x" * 600_000)

    with pytest.raises(TokenLimitExceeded) as caught:
        check_token_limit(huge)

    assert caught.value.estimated == huge and caught.value.limit == 200_000
    with pytest.raises(TokenLimitExceeded):
        check_token_limit(200_000)


def test_it_splits_a_brief_by_paragraph_then_sentence_into_rows_that_fit():
    text = ("Short one.\n\n" + "A long sentence here. " * 10 + "\n\n"
            + "长句子。" * 30 + "\n\n" + "x" * 100)
    rows = split_to_fit(text, max_tokens=25, max_chars=80)
    assert rows[0] == "Short one."
    assert all(text_tokens(row) <= 25 and len(row) <= 80 for row in rows)
    assert all(row.endswith((".", "。")) for row in rows[1:-2])  # cut between sentences
    assert "".join(rows).replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_it_keeps_a_paragraph_that_fits_whole():
    assert split_to_fit("One.\nTwo lines.\n\nThree.", max_tokens=100, max_chars=100) == [
        "One.\nTwo lines.", "Three."]
