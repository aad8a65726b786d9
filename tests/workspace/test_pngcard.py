"""PNG prompt cards, read back the way the tools read them: sd-parsers (a PNG metadata
reader independent of ours) for the A1111 infotext and the ComfyUI graphs, Pillow for the
chunks and the picture, and ComfyUI's own node definitions for the graph's wiring."""

import io
import json
import zipfile
from decimal import Decimal

import pytest
from PIL import Image, PngImagePlugin
from sd_parsers import ParserManager
from sd_parsers.data import Generators
from sd_parsers.parsers import AUTOMATIC1111Parser, ComfyUIParser

from prompts.workspace.formats.pngcard import (
    CardValues,
    a1111_infotext,
    comfyui_api_graph,
    comfyui_ui_workflow,
    png_card,
    png_cards_zip,
)
from tests.workspace.conftest import image_bytes

# RETURN_TYPES of the ComfyUI core nodes a card uses, as ComfyUI's nodes.py defines them.
COMFYUI_RETURN_TYPES = {
    "CheckpointLoaderSimple": ("MODEL", "CLIP", "VAE"),
    "CLIPTextEncode": ("CONDITIONING",),
    "EmptyLatentImage": ("LATENT",),
    "KSampler": ("LATENT",),
    "VAEDecode": ("IMAGE",),
    "SaveImage": (),
}


def card_values(**changes) -> CardValues:
    values = dict(
        positive_prompt="portrait of an old lighthouse keeper, golden hour, 85mm",
        negative_prompt="blurry, extra fingers", steps=28, sampler="DPM++ 2M Karras",
        cfg_scale=Decimal("6.5"), seed=123456789, width=832, height=1216,
        checkpoint="juggernautXL_v9.safetensors", title="Lighthouse",
    )
    values.update(changes)
    return CardValues(**values)


EMPTY_RECORD = CardValues(positive_prompt="", negative_prompt="", steps=None, sampler=None,
                          cfg_scale=None, seed=None, width=None, height=None, checkpoint="")


def read_with(parser, png: bytes):
    info = ParserManager(managed_parsers=[parser]).parse(io.BytesIO(png))
    assert info is not None, f"{parser.__name__} found nothing"
    return info


def test_it_reads_back_the_a1111_settings_with_an_independent_reader():
    info = read_with(AUTOMATIC1111Parser, png_card(card_values()))

    sampler = info.samplers[0]
    assert info.generator == Generators.AUTOMATIC1111
    assert info.full_prompt == "portrait of an old lighthouse keeper, golden hour, 85mm"
    assert info.full_negative_prompt == "blurry, extra fingers"
    assert sampler.name == "DPM++ 2M Karras"
    assert sampler.parameters == {"steps": "28", "cfg_scale": "6.5", "seed": "123456789"}
    assert info.metadata["Size"] == "832x1216"
    assert sampler.model.name == "juggernautXL_v9"


def test_it_reads_back_the_comfyui_graphs_with_an_independent_reader():
    info = read_with(ComfyUIParser, png_card(card_values()))

    sampler = info.samplers[0]
    assert info.generator == Generators.COMFYUI
    assert info.full_prompt == "portrait of an old lighthouse keeper, golden hour, 85mm"
    assert info.full_negative_prompt == "blurry, extra fingers"
    assert sampler.name == "dpmpp_2m"
    assert sampler.parameters["scheduler"] == "karras"
    assert (sampler.parameters["steps"], sampler.parameters["cfg_scale"],
            sampler.parameters["seed"]) == (28, 6.5, 123456789)
    latent = info.metadata["EmptyLatentImage"][0]
    assert (latent["width"], latent["height"]) == (832, 1216)
    assert sampler.model.name == "juggernautXL_v9.safetensors"


def test_it_writes_the_chunks_comfyui_and_a1111_write():
    chunks = Image.open(io.BytesIO(png_card(card_values()))).info

    assert chunks["parameters"] == a1111_infotext(card_values())
    assert json.loads(chunks["prompt"]) == comfyui_api_graph(card_values())
    workflow = json.loads(chunks["workflow"])
    assert workflow["version"] == 0.4
    assert {node["type"] for node in workflow["nodes"]} == set(COMFYUI_RETURN_TYPES)


def test_it_always_writes_steps_and_three_settings_even_for_an_empty_record():
    settings_line = a1111_infotext(EMPTY_RECORD).split("\n")[-1]
    info = read_with(AUTOMATIC1111Parser, png_card(EMPTY_RECORD))

    assert settings_line.startswith("Steps: 30, ")
    assert settings_line == "Steps: 30, Sampler: Euler, CFG scale: 7, Seed: -1, Model: sd_xl_base_1.0"
    assert info.samplers[0].parameters["steps"] == "30"


def test_it_quotes_values_with_commas_colons_or_quotes_as_a1111_does():
    text = a1111_infotext(card_values(sampler="Euler, odd", checkpoint='my "best": v2.ckpt'))

    assert text.endswith('Sampler: "Euler, odd", CFG scale: 6.5, Seed: 123456789, '
                         'Size: 832x1216, Model: "my \\"best\\": v2"')


def test_it_keeps_chinese_prompts_in_utf8_itxt_and_ascii_json():
    values = card_values(positive_prompt="一位年迈的灯塔看守人的肖像，黄金时刻",
                         negative_prompt="模糊，多余的手指", title="灯塔")
    png = png_card(values)
    chunks = Image.open(io.BytesIO(png)).info
    info = read_with(AUTOMATIC1111Parser, png)
    comfy = read_with(ComfyUIParser, png)

    assert isinstance(chunks["parameters"], PngImagePlugin.iTXt)
    assert chunks["prompt"].isascii() and chunks["workflow"].isascii()
    assert info.full_prompt == comfy.full_prompt == "一位年迈的灯塔看守人的肖像，黄金时刻"
    assert info.full_negative_prompt == comfy.full_negative_prompt == "模糊，多余的手指"


def test_it_writes_latin1_text_as_plain_text_chunks():
    chunks = Image.open(io.BytesIO(png_card(card_values(positive_prompt="café crème")))).info

    assert not isinstance(chunks["parameters"], PngImagePlugin.iTXt)
    assert chunks["parameters"].startswith("café crème\n")


@pytest.mark.parametrize(("label", "expected"), [
    ("DPM++ 2M Karras", ("dpmpp_2m", "karras")),
    ("DPM++ 2M SDE Exponential", ("dpmpp_2m_sde", "exponential")),
    ("Euler a", ("euler_ancestral", "normal")),
    ("DDIM", ("ddim", "ddim_uniform")),
    ("Restart", ("euler", "normal")),
    (None, ("euler", "normal")),
])
def test_it_maps_a1111_sampler_labels_to_comfyui(label, expected):
    ksampler = comfyui_api_graph(card_values(sampler=label))["3"]["inputs"]

    assert (ksampler["sampler_name"], ksampler["scheduler"]) == expected


def test_it_derives_a_stable_seed_when_the_record_has_none():
    first = comfyui_api_graph(card_values(seed=None))["3"]["inputs"]["seed"]
    again = comfyui_api_graph(card_values(seed=None))["3"]["inputs"]["seed"]
    other = comfyui_api_graph(card_values(seed=None, positive_prompt="a lighthouse"))

    assert first == again
    assert 0 <= first < 2**53  # exact in the JavaScript frontend
    assert other["3"]["inputs"]["seed"] != first


def test_it_points_every_api_graph_link_at_an_existing_output():
    graph = comfyui_api_graph(EMPTY_RECORD)

    for node in graph.values():
        for value in node["inputs"].values():
            if isinstance(value, list):
                origin_id, slot = value
                assert origin_id in graph
                assert 0 <= slot < len(COMFYUI_RETURN_TYPES[graph[origin_id]["class_type"]])


@pytest.mark.parametrize("values", [card_values(), EMPTY_RECORD])
def test_it_links_every_ui_workflow_input_to_an_existing_output(values):
    workflow = comfyui_ui_workflow(comfyui_api_graph(values))
    nodes = {node["id"]: node for node in workflow["nodes"]}
    links = {link[0]: link for link in workflow["links"]}

    assert len(links) == len(workflow["links"]) == workflow["last_link_id"]
    assert workflow["last_node_id"] == max(nodes)
    for node in workflow["nodes"]:
        for target_slot, node_input in enumerate(node["inputs"]):
            link_id, origin_id, origin_slot, target_id, link_slot, kind = links[node_input["link"]]
            origin_types = COMFYUI_RETURN_TYPES[nodes[origin_id]["type"]]
            assert (target_id, link_slot) == (node["id"], target_slot)
            assert origin_types[origin_slot] == kind == node_input["type"]
            assert link_id in nodes[origin_id]["outputs"][origin_slot]["links"]
        for slot, output in enumerate(node["outputs"]):
            assert output["slot_index"] == slot
            assert output["type"] == COMFYUI_RETURN_TYPES[node["type"]][slot]
            for link_id in output["links"]:
                assert links[link_id][1:3] == [node["id"], slot]
    listed = sorted(link for node in nodes.values() for out in node["outputs"] for link in out["links"])
    assert listed == sorted(links)


def test_it_orders_ui_nodes_so_every_input_runs_first():
    workflow = comfyui_ui_workflow(comfyui_api_graph(card_values()))
    order = {node["id"]: node["order"] for node in workflow["nodes"]}

    assert sorted(order.values()) == list(range(len(order)))
    assert all(order[link[1]] < order[link[3]] for link in workflow["links"])


def test_it_gives_widget_values_in_comfyui_widget_order():
    workflow = comfyui_ui_workflow(comfyui_api_graph(card_values()))
    widgets = {node["type"]: node["widgets_values"] for node in workflow["nodes"]}
    texts = [node["widgets_values"] for node in workflow["nodes"] if node["type"] == "CLIPTextEncode"]

    assert widgets["KSampler"] == [123456789, "fixed", 28, 6.5, "dpmpp_2m", "karras", 1.0]
    assert widgets["CheckpointLoaderSimple"] == ["juggernautXL_v9.safetensors"]
    assert widgets["EmptyLatentImage"] == [832, 1216, 1]
    assert sorted(texts) == [["blurry, extra fingers"],
                             ["portrait of an old lighthouse keeper, golden hour, 85mm"]]
    assert all(node["properties"] == {"Node name for S&R": node["type"]}
               for node in workflow["nodes"])


def test_it_lets_comfyui_randomize_the_seed_of_a_record_without_one():
    png = png_card(card_values(seed=None))
    workflow = json.loads(Image.open(io.BytesIO(png)).info["workflow"])
    ksampler = next(node for node in workflow["nodes"] if node["type"] == "KSampler")

    assert ksampler["widgets_values"][1] == "randomize"
    assert a1111_infotext(card_values(seed=None)).split("\n")[-1].count("Seed: -1") == 1


def test_it_draws_a_card_in_the_record_aspect_with_dark_type():
    card = Image.open(io.BytesIO(png_card(card_values(width=832, height=1216))))
    square = Image.open(io.BytesIO(png_card(EMPTY_RECORD)))

    assert card.format == "PNG"
    assert card.size == (701, 1024)
    assert square.size == (1024, 1024)
    assert card.convert("L").getextrema()[0] < 80  # the prompt is drawn, not a blank card


def test_it_fits_a_reference_picture_within_1024_px():
    jpeg = image_bytes("JPEG", size=(3000, 1500))
    png = image_bytes("PNG", size=(400, 300))

    assert Image.open(io.BytesIO(png_card(card_values(), image=jpeg))).size == (1024, 512)
    assert Image.open(io.BytesIO(png_card(card_values(), image=png))).size == (400, 300)
    assert read_with(AUTOMATIC1111Parser, png_card(card_values(), image=jpeg)).full_prompt


def test_it_turns_a_phone_photo_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: the camera was turned a quarter
    sideways = image_bytes("JPEG", size=(600, 300), exif=exif.tobytes())

    assert Image.open(io.BytesIO(png_card(card_values(), image=sideways))).size == (300, 600)


def test_it_refuses_a_reference_that_is_not_a_jpeg_or_png():
    with pytest.raises(ValueError):
        png_card(card_values(), image=b"GIF89a not really")
    with pytest.raises(ValueError):
        png_card(card_values(), image=image_bytes("GIF"))


def test_it_zips_several_cards_under_unique_safe_names():
    card = png_card(card_values())
    archive = zipfile.ZipFile(io.BytesIO(png_cards_zip(
        [("record-1.png", card), ("record-1.png", card), ("../../etc/record-2.png", card)])))

    assert archive.namelist() == ["record-1.png", "record-1-2.png", "record-2.png"]
    assert read_with(ComfyUIParser, archive.read("record-1-2.png")).full_prompt
