"""A house style, told to the model in the request and enforced on the parsed spec."""

from prompts.gateway.payloads import build_chat_payload
from prompts.gateway.spec import HouseRules, PromptSpec, enforce_house_style, split_terms

RULES = HouseRules(negative_terms="watermark, text, extra fingers",
                   style_words="soft window light, muted palette", width=832, height=1216,
                   sampler="DPM++ 2M Karras", steps=28, cfg_scale=6.5)


def spec(**changes) -> PromptSpec:
    values = dict(positive_prompt="a jade teapot on linen, 50mm", negative_prompt="blurry, Text",
                  width=1024, height=1024, steps=40, cfg_scale=9.0, sampler="Euler a", seed=7)
    values.update(changes)
    return PromptSpec(**values)


def test_it_appends_the_negative_terms_the_answer_lacked():
    enforced = enforce_house_style(spec(), RULES)
    # "Text" was there (case differs); the other two were added, in the style's order.
    assert enforced.negative_prompt == "blurry, Text, watermark, extra fingers"


def test_it_appends_missing_style_words_to_the_positive_prompt():
    enforced = enforce_house_style(spec(positive_prompt="a jade teapot, Muted Palette"), RULES)
    assert enforced.positive_prompt == "a jade teapot, Muted Palette, soft window light"


def test_it_sets_size_sampler_steps_and_cfg_and_keeps_the_seed():
    enforced = enforce_house_style(spec(), RULES)
    assert (enforced.width, enforced.height) == (832, 1216)
    assert (enforced.sampler, enforced.steps, enforced.cfg_scale) == ("DPM++ 2M Karras", 28, 6.5)
    assert enforced.seed == 7


def test_it_fits_an_aspect_ratio_to_the_answers_long_side():
    portrait = enforce_house_style(spec(width=1216, height=832), HouseRules(aspect=(3, 4)))
    assert (portrait.width, portrait.height) == (912, 1216)
    wide = enforce_house_style(spec(width=1024, height=1024), HouseRules(aspect=(16, 9)))
    assert (wide.width, wide.height) == (1024, 576)


def test_it_changes_nothing_the_style_leaves_open():
    enforced = enforce_house_style(spec(), HouseRules(negative_terms="watermark"))
    assert (enforced.width, enforced.sampler, enforced.steps, enforced.cfg_scale) == (
        1024, "Euler a", 40, 9.0)
    assert enforce_house_style(spec(), None) == spec()


def test_it_splits_terms_on_chinese_and_latin_separators():
    assert split_terms("水印，文字、 extra  fingers;blurry\nlow quality") == [
        "水印", "文字", "extra fingers", "blurry", "low quality"]
    assert enforce_house_style(spec(negative_prompt=""), HouseRules(negative_terms="水印，文字")) \
        .negative_prompt == "水印, 文字"


def test_it_tells_the_model_the_style_in_the_system_prompt():
    payload = build_chat_payload(model="m", brief="A jade teapot", images=[], temperature=0.6,
                                 max_tokens=100, house_style=RULES)
    system, user = payload["messages"]
    assert "house style" in system["content"]
    for fragment in ("soft window light, muted palette", "watermark, text, extra fingers",
                     "width 832 and height 1216", "sampler DPM++ 2M Karras", "steps 28",
                     "cfg_scale 6.5"):
        assert fragment in system["content"]
    assert user == {"role": "user", "content": "A jade teapot"}  # the brief stays the brief


def test_without_a_style_the_request_is_unchanged():
    plain = build_chat_payload(model="m", brief="x", images=[], temperature=0.6, max_tokens=9)
    assert "house style" not in plain["messages"][0]["content"]
    assert plain == build_chat_payload(model="m", brief="x", images=[], temperature=0.6,
                                       max_tokens=9, house_style=None)
