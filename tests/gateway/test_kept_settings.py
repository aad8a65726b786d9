"""The "Keep these settings" block: written, read back, bounded, and applied to a spec."""

from hypothesis import given
from hypothesis import strategies as st

from prompts.gateway.kept_settings import (
    HEADER,
    KeptSettings,
    brief_with_kept_settings,
    kept_settings_apply,
    kept_settings_clean,
    split_kept_settings,
)
from prompts.gateway.spec import PromptSpec

FULL = kept_settings_clean(negative_prompt="blurry,\n lowres", steps=30,
                           sampler="DPM++ 2M Karras", cfg_scale=6.5, seed=1234, width=832,
                           height=1216)


def test_it_writes_a_block_the_model_can_read_and_reads_it_back():
    brief = brief_with_kept_settings("A harbour at dusk\n\nlanterns", FULL)
    assert brief == ("A harbour at dusk\n\nlanterns\n\nKeep these settings:\n"
                     "- Negative prompt: blurry, lowres\n- Steps: 30\n"
                     "- Sampler: DPM++ 2M Karras\n- CFG scale: 6.5\n- Seed: 1234\n"
                     "- Size: 832x1216")
    assert split_kept_settings(brief) == ("A harbour at dusk\n\nlanterns", FULL)


def test_it_leaves_a_brief_without_a_block_alone():
    for brief in ("A harbour", "Keep these settings: warm light", f"x\n{HEADER}",
                  f"x\n{HEADER}\n- Steps: 30\nand then more text"):
        assert split_kept_settings(brief) == (brief, KeptSettings())
    assert brief_with_kept_settings(" A harbour ", KeptSettings()) == "A harbour"


def test_it_drops_values_the_spec_would_not_hold():
    kept = kept_settings_clean(steps=0, cfg_scale=float("nan"), seed=2**64, width=832,
                               sampler="x" * 61)
    assert kept == KeptSettings()  # a size needs both sides
    brief = f"x\n{HEADER}\n- Steps: 9999\n- Seed: -1\n- CFG scale: 1e400\n- Size: 64x64"
    assert split_kept_settings(brief) == ("x", KeptSettings(width=64, height=64))


def test_it_puts_the_kept_settings_in_place_of_the_models():
    spec = PromptSpec(positive_prompt="lanterns", negative_prompt="", steps=20, seed=None)
    kept = kept_settings_apply(spec, kept_settings_clean(steps=30, seed=7))
    assert (kept.steps, kept.seed, kept.negative_prompt, kept.positive_prompt) == (
        30, 7, "", "lanterns")


@given(st.text(max_size=300) | st.builds(lambda a, b: f"{a}\n{HEADER}\n- Steps: {b}",
                                        st.text(max_size=50), st.text(max_size=20)))
def test_it_reads_any_brief_without_failing_or_losing_its_text(text):
    brief, kept = split_kept_settings(text)
    assert text.startswith(brief)
    assert kept == KeptSettings() or HEADER in text
