"""PNG prompt cards from records (`/records/<id>/export/png/` and every export menu), read
back with sd-parsers, a reader independent of ours; and PNGs from A1111, ComfyUI and
InvokeAI uploaded as references, offered as a starting brief."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin
from sd_parsers import ParserManager
from sd_parsers.parsers import AUTOMATIC1111Parser, ComfyUIParser

from prompts.models import GenerationJob, ReferenceImage
from prompts.workspace.formats.pngcard import CardValues, comfyui_api_graph, comfyui_ui_workflow
from prompts.workspace.services.references import reference_create
from prompts.workspace.services.styles import StyleRules, style_create
from tests.workspace.conftest import image_bytes, make_record

RETURN_TYPES = {"CheckpointLoaderSimple": 3, "CLIPTextEncode": 1, "EmptyLatentImage": 1,
                "KSampler": 1, "VAEDecode": 1, "SaveImage": 0}


def parse(parser, png: bytes):
    info = ParserManager(managed_parsers=[parser]).parse(io.BytesIO(png))
    assert info is not None
    return info


@pytest.fixture
def styled_record(project, crew):
    style = style_create(team=crew.team, user=crew.manager, name="Catalogue",
                         rules=StyleRules(checkpoint="juggernautXL_v9.safetensors"))
    record = make_record(project, crew.member)
    GenerationJob.objects.filter(pk=record.job_id).update(style_version=style.current_version())
    record.refresh_from_db()
    return record


def test_it_serves_a_png_card_that_a_1111_and_comfyui_readers_read(member_client, styled_record):
    response = member_client.get(reverse("record_export", args=[styled_record.id, "png"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == \
        f'attachment; filename="record-{styled_record.id}.png"'
    png = response.content

    a1111 = parse(AUTOMATIC1111Parser, png)
    sampler = a1111.samplers[0]
    assert a1111.full_prompt == styled_record.positive_prompt
    assert a1111.full_negative_prompt == "blurry, extra fingers"
    assert sampler.name == "DPM++ 2M Karras"
    assert sampler.parameters == {"steps": "30", "cfg_scale": "6.5", "seed": "12345"}
    assert a1111.metadata["Size"] == "832x1216"
    assert sampler.model.name == "juggernautXL_v9"

    comfy = parse(ComfyUIParser, png)
    ksampler = comfy.samplers[0]
    assert comfy.full_prompt == styled_record.positive_prompt
    assert comfy.full_negative_prompt == "blurry, extra fingers"
    assert (ksampler.parameters["steps"], ksampler.parameters["cfg_scale"],
            ksampler.parameters["seed"]) == (30, 6.5, 12345)
    assert ksampler.model.name == "juggernautXL_v9.safetensors"


def test_the_cards_comfyui_graphs_link_only_to_outputs_that_exist(member_client, styled_record):
    png = member_client.get(reverse("record_export", args=[styled_record.id, "png"])).content
    chunks = Image.open(io.BytesIO(png)).info
    graph = json.loads(chunks["prompt"])
    for node in graph.values():
        for value in node["inputs"].values():
            if isinstance(value, list):  # an input that names a node
                origin, slot = value
                assert origin in graph
                assert 0 <= slot < RETURN_TYPES[graph[origin]["class_type"]]
    workflow = json.loads(chunks["workflow"])
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for link_id, origin, slot, target, target_slot, _kind in workflow["links"]:
        assert origin in nodes and target in nodes
        assert link_id in nodes[origin]["outputs"][slot]["links"]
        assert nodes[target]["inputs"][target_slot]["link"] == link_id
    assert workflow == comfyui_ui_workflow(graph, randomize_seed=False)


def test_a_record_with_a_reference_gets_its_picture(member_client, project, crew):
    reference, _created = reference_create(project=project, user=crew.member,
                                           data=image_bytes("JPEG", (1200, 600)),
                                           original_name="shoe.jpg")
    record = make_record(project, crew.member)
    record.job.references.add(reference)
    png = member_client.get(reverse("record_export", args=[record.id, "png"])).content
    assert Image.open(io.BytesIO(png)).size == (1024, 512)
    assert parse(AUTOMATIC1111Parser, png).full_prompt == record.positive_prompt


def test_every_export_menu_zips_several_cards(member_client, project, crew):
    first, second = make_record(project, crew.member), make_record(project, crew.member,
                                                                   positive_prompt="a bowl")
    response = member_client.get(reverse("library_export"),
                                 {"ids": [first.id, second.id], "format": "png"})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [f"record-{first.id}.png", f"record-{second.id}.png"]
    assert parse(ComfyUIParser, archive.read(f"record-{second.id}.png")).full_prompt == "a bowl"
    for name, args in (("project_export", [project.id, "png"]),):
        assert member_client.get(reverse(name, args=args))["Content-Type"] == "application/zip"
    for page in (reverse("record_detail", args=[first.id]), reverse("library"),
                 reverse("project_detail", args=[project.id])):
        assert "/export/png/" in member_client.get(page).content.decode() \
            or 'value="png"' in member_client.get(page).content.decode()


# PNGs from generators, uploaded as references ----------------------------------------------

def png_with(chunks: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, text in chunks.items():
        info.add_text(key, text)
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (40, 40, 40)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def comfyui_only_png() -> bytes:
    graph = comfyui_api_graph(CardValues(
        positive_prompt="a paper lantern over a canal, night", negative_prompt="blurry, logo",
        steps=24, sampler="Euler a", cfg_scale=5.5, seed=99, width=768, height=1024,
        checkpoint=""))
    return png_with({"prompt": json.dumps(graph),
                     "workflow": json.dumps(comfyui_ui_workflow(graph))})


def invokeai_png() -> bytes:
    return png_with({"invokeai_metadata": json.dumps({
        "positive_prompt": "a tea field at dawn", "negative_prompt": "people",
        "steps": 20, "scheduler": "euler", "cfg_scale": 6, "seed": 5, "width": 512,
        "height": 768})})


@pytest.mark.parametrize("make_png,prompt", [
    (comfyui_only_png, "a paper lantern over a canal, night"),
    (invokeai_png, "a tea field at dawn"),
])
def test_it_offers_a_brief_from_a_comfyui_or_invokeai_png(member_client, project, make_png,
                                                          prompt):
    response = member_client.post(reverse("reference_upload", args=[project.id]),
                                  {"files": [SimpleUploadedFile("made.png", make_png())]},
                                  follow=True)
    html = response.content.decode()
    assert "Start a brief from its PNG prompt" in html
    reference = ReferenceImage.objects.get()
    assert reference.png_parameters.startswith(prompt + "\nNegative prompt: ")
    assert "Steps: " in reference.png_parameters  # the settings come along
    page = member_client.get(reverse("generate", args=[project.id]),
                             {"from_reference": reference.id}).content.decode()
    assert f"{prompt}</textarea>" in page
    assert f"?from_reference={reference.id}" in member_client.get(
        reverse("project_detail", args=[project.id])).content.decode()
