"""Reading generation settings from PNG text chunks: the formats A1111, ComfyUI and
InvokeAI write, our own cards, and input written to hurt (time, size, odd numbers)."""

import io
import json
import random
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from prompts.workspace.formats.comfyui_graph import MAX_GRAPH_NODES
from prompts.workspace.formats.pngcard import (
    CardValues,
    comfyui_api_graph,
    comfyui_ui_workflow,
    png_card,
)
from prompts.workspace.formats.pngmeta import (
    MAX_TEXT_CHARS,
    GenerationMetadata,
    read_generation_metadata,
    read_png_generation_metadata,
)

# A guard against quadratic work, not a benchmark: linear parsing takes milliseconds.
QUICK_S = 0.5

A1111_TEXT = """masterpiece, portrait of a lighthouse keeper,
  golden hour
Negative prompt: blurry,
extra fingers
Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567890, Size: 832x1216, \
Model hash: 4496b36d48, Model: juggernautXL, Lora hashes: "film: 3fa1, grain: 9bc2", Version: v1.9.4"""


def png_with(chunks: dict[str, str]) -> bytes:
    info = PngInfo()
    for key, text in chunks.items():
        info.add_text(key, text)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def read_quickly(chunks: dict[str, str]) -> GenerationMetadata | None:
    started = time.perf_counter()
    found = read_generation_metadata(chunks)
    assert time.perf_counter() - started < QUICK_S
    return found


def test_it_reads_a1111_infotext_with_multiline_prompts_and_quoted_values():
    found = read_png_generation_metadata(png_with({"parameters": A1111_TEXT}))

    assert found == GenerationMetadata(
        source="a1111",
        positive_prompt="masterpiece, portrait of a lighthouse keeper,\ngolden hour",
        negative_prompt="blurry,\nextra fingers", steps=30, sampler="DPM++ 2M Karras",
        cfg_scale=6.5, seed=1234567890, width=832, height=1216)


def test_it_reads_a1111_1_9_schedule_type_into_the_sampler_label():
    text = "a cat\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1"
    automatic = "a cat\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1"

    assert read_generation_metadata({"parameters": text}).sampler == "DPM++ 2M Karras"
    assert read_generation_metadata({"parameters": automatic}).sampler == "Euler a"


def test_it_takes_the_last_line_holding_steps_and_three_settings():
    text = ("a poster that says Steps: 3\nNegative prompt: ugly\n"
            "Steps: 25, Sampler: Euler, CFG scale: 5, Seed: 9\nTemplate: added by an extension")
    short = "a cat\nSteps: 20, Seed: 1"

    found = read_generation_metadata({"parameters": text})
    assert (found.positive_prompt, found.negative_prompt, found.steps) == \
        ("a poster that says Steps: 3", "ugly", 25)
    assert read_generation_metadata({"parameters": short}).positive_prompt == "a cat\nSteps: 20, Seed: 1"


def test_it_reads_a_prompt_without_settings_and_nothing_from_blank_text():
    found = read_generation_metadata({"parameters": "just a prompt"})

    assert (found.positive_prompt, found.steps, found.seed) == ("just a prompt", None, None)
    assert read_generation_metadata({"parameters": "  \n "}) is None
    assert read_generation_metadata({"Software": "GIMP"}) is None
    assert read_png_generation_metadata(b"not a png") is None


def comfy_graph() -> dict:
    """SDXL text encoders, a ControlNet between encoders and sampler, a seed node, and a
    hires pass after the base sampler."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        "2": {"class_type": "CLIPTextEncodeSDXL",
              "inputs": {"text_g": "a red fox", "text_l": "snow", "clip": ["1", 1], "width": 1024}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["1", 1]}},
        "4": {"class_type": "ControlNetApplyAdvanced",
              "inputs": {"positive": ["2", 0], "negative": ["3", 0], "strength": 0.8}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 896, "height": 1152, "batch_size": 1}},
        "6": {"class_type": "Seed (rgthree)", "inputs": {"seed": 42}},
        "10": {"class_type": "KSamplerAdvanced",
               "inputs": {"noise_seed": ["6", 0], "steps": 12, "cfg": 4.5, "sampler_name": "euler",
                          "scheduler": "normal", "positive": ["4", 0], "negative": ["4", 1],
                          "latent_image": ["11", 0], "model": ["1", 0]}},
        "11": {"class_type": "LatentUpscale", "inputs": {"samples": ["12", 0]}},
        "12": {"class_type": "KSampler",
               "inputs": {"seed": ["6", 0], "steps": 35, "cfg": 6.0, "sampler_name": "dpmpp_2m_sde_gpu",
                          "scheduler": "karras", "positive": ["4", 0], "negative": ["4", 1],
                          "latent_image": ["5", 0], "model": ["1", 0], "denoise": 1.0}},
    }


def test_it_reads_comfyui_through_encoders_controlnets_and_seed_nodes():
    found = read_generation_metadata({"prompt": json.dumps(comfy_graph())})

    assert found == GenerationMetadata(
        source="comfyui", positive_prompt="a red fox\nsnow", negative_prompt="lowres",
        steps=35, sampler="DPM++ 2M SDE Karras", cfg_scale=6.0, seed=42, width=896, height=1152)


def test_it_reads_a_comfyui_ui_workflow_when_there_is_no_api_graph():
    workflow = {
        "nodes": [
            {"id": 3, "type": "KSampler", "widgets_values": [7, True, 20, 8, "euler", "normal", 1],
             "inputs": [{"name": "positive", "link": 4}, {"name": "negative", "link": 6},
                        {"name": "latent_image", "link": 2}]},
            {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 768, 1]},
            {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["bottle of galaxy"]},
            {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["text, watermark"]},
        ],
        "links": [[2, 5, 0, 3, 3, "LATENT"], [4, 6, 0, 3, 1, "CONDITIONING"],
                  {"id": 6, "origin_id": 7, "origin_slot": 0, "target_id": 3, "target_slot": 2}],
    }

    found = read_generation_metadata({"workflow": json.dumps(workflow)})

    assert found == GenerationMetadata(
        source="comfyui", positive_prompt="bottle of galaxy", negative_prompt="text, watermark",
        steps=20, sampler="Euler", cfg_scale=8.0, seed=7, width=512, height=768)


def test_it_reads_invokeai_metadata_and_legacy_sd_metadata():
    current = {"positive_prompt": "a koi pond", "negative_prompt": "text", "steps": 40,
               "cfg_scale": 7.5, "scheduler": "dpmpp_2m_k", "seed": 99, "width": 768,
               "height": 512, "model": {"model_name": "sdxl"}}
    legacy = {"model_weights": "sd-1.5", "image": {
        "prompt": [{"prompt": "a koi pond [text, blurry] at dawn", "weight": 1.0}],
        "steps": 50, "cfg_scale": 7.0, "sampler": "k_euler_a", "seed": 5, "width": 512, "height": 512}}

    assert read_generation_metadata({"invokeai_metadata": json.dumps(current)}) == GenerationMetadata(
        source="invokeai", positive_prompt="a koi pond", negative_prompt="text", steps=40,
        sampler="DPM++ 2M Karras", cfg_scale=7.5, seed=99, width=768, height=512)
    assert read_generation_metadata({"sd-metadata": json.dumps(legacy)}) == GenerationMetadata(
        source="invokeai", positive_prompt="a koi pond at dawn", negative_prompt="text, blurry",
        steps=50, sampler="Euler a", cfg_scale=7.0, seed=5, width=512, height=512)


def test_it_refuses_nan_infinity_and_numbers_out_of_range():
    text = "a\nSteps: 99999, Sampler: Euler, CFG scale: nan, Seed: 18446744073709551616, Size: 0x99999"
    graph = comfy_graph()
    graph["12"]["inputs"].update(cfg=12345.0, steps=True, seed=-5)
    graph["5"]["inputs"]["width"] = 8.5

    a1111 = read_generation_metadata({"parameters": text})
    # 1e999 is valid JSON that Python reads as infinity.
    comfy = read_generation_metadata({"prompt": json.dumps(graph).replace("12345.0", "1e999")})
    with_nan = read_generation_metadata({"prompt": json.dumps(graph).replace("1152", "NaN")})

    assert (a1111.steps, a1111.cfg_scale, a1111.seed, a1111.width, a1111.height) == (None,) * 5
    assert (comfy.cfg_scale, comfy.steps, comfy.seed, comfy.width) == (None, None, None, None)
    assert comfy.positive_prompt == "a red fox\nsnow"
    assert with_nan is None  # NaN is not JSON; the whole graph is refused
    assert read_generation_metadata({"parameters": "a\nSteps: 1, Seed: 18446744073709551615, Eta: 1"}).seed == 2**64 - 1


def test_it_does_not_read_oversized_chunks_or_graphs():
    huge_graph = {str(i): {"class_type": "Note", "inputs": {}} for i in range(MAX_GRAPH_NODES + 1)}
    huge_graph.update(comfy_graph())

    assert read_generation_metadata({"parameters": "a" * (MAX_TEXT_CHARS + 1)}) is None
    assert read_generation_metadata({"prompt": json.dumps(huge_graph)}) is None
    assert read_generation_metadata({"prompt": "[" * 100_000 + "]" * 100_000}) is None


def test_it_parses_a_million_character_settings_line_in_well_under_a_second():
    started = time.perf_counter()
    found = read_png_generation_metadata(png_with({"parameters": "prompt\n" + "a" * 1_000_000}))

    assert time.perf_counter() - started < QUICK_S
    assert found is None  # larger than any infotext a tool writes


@pytest.mark.parametrize("last_line", [
    # A1111's `(\w[\w \-/]+):` pattern backtracks on a run with no colon: 0.7 s at 8 KB.
    "Steps: 1, Seed: 2, " + "a" * MAX_TEXT_CHARS,
    "Steps: 1, Seed: 2, " + "a a-/" * (MAX_TEXT_CHARS // 5),
    "a" * MAX_TEXT_CHARS,
    "Steps: " + 'K: "a, ' * (MAX_TEXT_CHARS // 8),
    'Steps: "' + "\\" * MAX_TEXT_CHARS,
    "Steps:" + "," * MAX_TEXT_CHARS + ":",
    "Steps: 1, " + "Hashes: {" * (MAX_TEXT_CHARS // 10),
])
def test_it_reads_hostile_settings_lines_at_the_size_cap_quickly(last_line):
    text = ("prompt\n" + last_line)[:MAX_TEXT_CHARS]

    assert read_quickly({"parameters": text}).positive_prompt.startswith("prompt")


def test_it_reads_many_steps_lines_and_a_cyclic_graph_quickly():
    cyclic = {str(i): {"class_type": "ConditioningCombine",
                       "inputs": {"conditioning_1": [str((i + 1) % 500), 0],
                                  "conditioning_2": [str((i + 7) % 500), 0]}} for i in range(500)}
    cyclic["sampler"] = {"class_type": "KSampler", "inputs": {"positive": ["0", 0], "steps": 20}}

    assert read_quickly({"parameters": "Steps: 1\n" * (MAX_TEXT_CHARS // 9)}) is not None
    assert read_quickly({"prompt": json.dumps(cyclic)}).steps == 20


def test_it_reads_our_cards_back_from_every_chunk():
    values = CardValues("一只在雪地里的红狐狸, 8k", "模糊", 24, "Euler a", Decimal("5.5"), 77,
                        1024, 768, "animagine.safetensors")
    graph = comfyui_api_graph(values)
    expected = dict(positive_prompt="一只在雪地里的红狐狸, 8k", negative_prompt="模糊", steps=24,
                    sampler="Euler a", cfg_scale=5.5, seed=77, width=1024, height=768)

    assert read_png_generation_metadata(png_card(values)) == GenerationMetadata("a1111", **expected)
    assert read_generation_metadata({"prompt": json.dumps(graph)}) == GenerationMetadata("comfyui", **expected)
    assert read_generation_metadata({"workflow": json.dumps(comfyui_ui_workflow(graph))}) == \
        GenerationMetadata("comfyui", **expected)


# Fuzzing: whatever the chunks hold, the reader returns sane values or None, quickly.

FRAGMENTS = ["Steps:", "Steps: 20", "Sampler:", "CFG scale:", "Seed:", "Size: 8x8", "Model: m",
             "Negative prompt:", ",", ":", " ", '"', "\\", "\n", "a", "9", "-1", "1e999", "nan",
             "x", "{", "}", "Schedule type: Karras", "\u72d0"]
KEYS = ["class_type", "inputs", "positive", "negative", "latent_image", "text", "text_g",
        "seed", "noise_seed", "steps", "cfg", "sampler_name", "scheduler", "width", "height",
        "nodes", "links", "id", "type", "widgets_values", "name", "link", "image", "prompt"]
CLASS_TYPES = ["KSampler", "KSamplerAdvanced", "CLIPTextEncode", "EmptyLatentImage",
               "ConditioningCombine", "Seed (rgthree)"]
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
           | st.text(max_size=12) | st.sampled_from(CLASS_TYPES))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=60)
node_ids = st.sampled_from([str(i) for i in range(8)])
links = st.tuples(node_ids, st.integers(-1, 3)).map(list)
graphs = st.dictionaries(node_ids, st.fixed_dictionaries({
    "class_type": st.sampled_from(CLASS_TYPES),
    "inputs": st.dictionaries(st.sampled_from(KEYS), links | scalars, max_size=8)}), max_size=8)
ui_links = st.tuples(st.integers(0, 9), st.integers(0, 8), st.integers(-1, 3), st.integers(0, 8),
                     st.integers(0, 3), st.text(max_size=4)).map(list)
ui_workflows = st.fixed_dictionaries({
    "nodes": st.lists(st.fixed_dictionaries({
        "id": st.integers(0, 8), "type": st.sampled_from(CLASS_TYPES),
        "inputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(KEYS),
                                                  "link": st.integers(0, 9) | st.none()}), max_size=5),
        "widgets_values": st.lists(scalars, max_size=10)}), max_size=8),
    "links": st.lists(ui_links, max_size=12)})
infotexts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=80).map("".join)
chunk_sets = st.fixed_dictionaries({}, optional={
    "parameters": infotexts,
    "prompt": graphs.map(json.dumps) | json_values.map(json.dumps) | st.text(max_size=40),
    "workflow": ui_workflows.map(json.dumps) | json_values.map(json.dumps),
    "invokeai_metadata": json_values.map(json.dumps),
    "sd-metadata": json_values.map(json.dumps),
})


def assert_sane(found: GenerationMetadata | None) -> None:
    if found is None:
        return
    assert found.source in ("a1111", "comfyui", "invokeai")
    assert found.steps is None or 1 <= found.steps <= 1000
    assert found.seed is None or 0 <= found.seed < 2**64
    assert found.cfg_scale is None or 0 <= found.cfg_scale <= 100
    assert all(side is None or 1 <= side <= 16384 for side in (found.width, found.height))
    assert all(text is None or isinstance(text, str)
               for text in (found.positive_prompt, found.negative_prompt, found.sampler))


@settings(max_examples=400, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(chunk_sets)
def test_it_returns_sane_values_or_none_for_fuzzed_chunks(chunks):
    assert_sane(read_quickly(chunks))


def test_it_returns_none_or_sane_values_for_corrupted_png_bytes():
    card = png_card(CardValues("a fox", "", 20, "Euler", 7, 1, 512, 512, "m.safetensors"))
    rng = random.Random(20240601)
    for _ in range(300):
        corrupted = bytearray(card)
        for _ in range(rng.randint(1, 8)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        cut = corrupted[: rng.randrange(8, len(corrupted) + 1)]
        started = time.perf_counter()
        assert_sane(read_png_generation_metadata(bytes(cut)))
        assert time.perf_counter() - started < QUICK_S
