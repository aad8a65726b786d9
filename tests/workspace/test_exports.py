"""Exports: A1111 infotext that parses back, ComfyUI API workflows, CSV for Excel, JSONL."""

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from prompts.workspace.exports import a1111_infotext, comfyui_workflow
from prompts.workspace.formats.generator_formats import comfyui_sampler
from prompts.workspace.formats.pngmeta import read_generation_metadata
from tests.workspace.conftest import make_record


def test_it_writes_a1111_text_that_parses_back_to_the_same_fields(record):
    text = a1111_infotext(record)
    assert text.splitlines()[1] == "Negative prompt: blurry, extra fingers"
    assert text.splitlines()[2].startswith("Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, "
                                           "Seed: 12345, Size: 832x1216")
    metadata = read_generation_metadata({"parameters": text})
    assert (metadata.positive_prompt, metadata.negative_prompt) == (
        record.positive_prompt, record.negative_prompt)
    assert (metadata.steps, metadata.sampler, metadata.cfg_scale, metadata.seed) == (
        30, "DPM++ 2M Karras", 6.5, 12345)
    assert (metadata.width, metadata.height) == (832, 1216)


def test_it_writes_seed_minus_one_for_a_random_seed_and_keeps_chinese(project, crew):
    record = make_record(project, crew.member, seed=None, positive_prompt="水墨山水, 远山",
                         negative_prompt="")
    text = a1111_infotext(record)
    assert "Seed: -1" in text.splitlines()[-1]
    assert read_generation_metadata({"parameters": text}).positive_prompt == "水墨山水, 远山"
    assert "Negative prompt" not in a1111_infotext(record)


def test_it_builds_a_comfyui_api_workflow_with_the_records_values(record):
    workflow = comfyui_workflow(record)
    by_type = {node["class_type"]: (node_id, node) for node_id, node in workflow.items()}
    assert set(by_type) == {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage",
                            "KSampler", "VAEDecode", "SaveImage"}
    sampler_id, sampler = by_type["KSampler"]
    inputs = sampler["inputs"]
    assert (inputs["seed"], inputs["steps"], inputs["cfg"]) == (12345, 30, 6.5)
    assert (inputs["sampler_name"], inputs["scheduler"]) == ("dpmpp_2m", "karras")
    assert workflow[inputs["positive"][0]]["inputs"]["text"] == record.positive_prompt
    assert workflow[inputs["negative"][0]]["inputs"]["text"] == "blurry, extra fingers"
    latent = workflow[inputs["latent_image"][0]]
    assert latent["class_type"] == "EmptyLatentImage"
    assert (latent["inputs"]["width"], latent["inputs"]["height"]) == (832, 1216)
    decode = by_type["VAEDecode"][1]
    assert decode["inputs"]["samples"] == [sampler_id, 0]
    assert by_type["SaveImage"][1]["inputs"]["images"] == [by_type["VAEDecode"][0], 0]
    json.dumps(workflow)  # plain JSON


@pytest.mark.parametrize("a1111,comfy", [
    ("DPM++ 2M Karras", ("dpmpp_2m", "karras")),
    ("Euler a", ("euler_ancestral", "normal")),
    ("DPM++ SDE Karras", ("dpmpp_sde", "karras")),
    ("DPM++ 2M SDE Exponential", ("dpmpp_2m_sde", "exponential")),
    ("UniPC", ("uni_pc", "normal")),
    ("DDIM", ("ddim", "ddim_uniform")),
    ("Something New", ("euler", "normal")),
])
def test_it_maps_a1111_sampler_names_to_comfyui(a1111, comfy):
    assert comfyui_sampler(a1111) == comfy


def test_it_gives_a_record_without_seed_a_stable_comfyui_seed(project, crew):
    record = make_record(project, crew.member, seed=None)
    seeds = {comfyui_workflow(record)["3"]["inputs"]["seed"] for _ in range(2)}
    assert len(seeds) == 1 and next(iter(seeds)) >= 0


def test_it_downloads_a_records_a1111_text(member_client, record):
    response = member_client.get(reverse("record_export", args=[record.id, "a1111"]))
    assert response["Content-Disposition"] == f'attachment; filename="record-{record.id}.txt"'
    assert read_generation_metadata({"parameters": response.content.decode()}).seed == 12345


def test_it_exports_csv_with_a_bom_so_excel_shows_chinese(member_client, project, crew):
    record = make_record(project, crew.member, brief="春节海报", positive_prompt="=红灯笼")
    response = member_client.get(reverse("project_export", args=[project.id, "csv"]))
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert "春节海报" in text
    assert "'=红灯笼" in text  # not a formula in a spreadsheet
    assert text.splitlines()[0].startswith("id,project,author,created_at,brief")
    assert str(record.id) in text.splitlines()[1]


def test_it_exports_jsonl_one_record_per_line(member_client, project, crew):
    make_record(project, crew.member, positive_prompt="one")
    make_record(project, crew.member, positive_prompt="二")
    response = member_client.get(reverse("project_export", args=[project.id, "jsonl"]))
    rows = [json.loads(line) for line in response.content.decode().splitlines()]
    assert [row["positive_prompt"] for row in rows] == ["one", "二"]
    assert rows[0]["cfg_scale"] == 6.5 and rows[0]["project"] == "Spring Campaign"


def test_it_exports_a_selection_as_a_zip_of_workflows(member_client, project, crew):
    first = make_record(project, crew.member)
    second = make_record(project, crew.member, cfg_scale=Decimal("8.0"))
    make_record(project, crew.member, positive_prompt="not selected")
    response = member_client.get(reverse("library_export"),
                                 {"format": "comfyui", "ids": [first.id, second.id]})
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [f"record-{first.id}.json", f"record-{second.id}.json"]
    workflow = json.loads(archive.read(f"record-{second.id}.json"))
    assert workflow["3"]["inputs"]["cfg"] == 8.0


def test_it_asks_to_tick_records_before_exporting_a_selection(member_client, record):
    response = member_client.get(reverse("library_export"), {"format": "csv"}, follow=True)
    assert "Tick the records to export first." in response.content.decode()


def test_it_does_not_export_another_teams_records_in_a_selection(outsider_client, record):
    response = outsider_client.get(reverse("library_export"),
                                   {"format": "jsonl", "ids": [record.id]})
    assert response.content == b""


def test_it_writes_times_with_the_sites_offset_and_booleans_other_tools_read(
        member_client, project, crew, frozen_clock):
    make_record(project, crew.member, positive_prompt="ok one")
    make_record(project, crew.member, positive_prompt="", needs_review=True, raw_text="{oops")
    csv_text = member_client.get(reverse("project_export", args=[project.id, "csv"])).content
    rows = list(csv.DictReader(io.StringIO(csv_text.decode("utf-8-sig"))))
    # Frozen at 2026-11-20 10:00 in Shanghai: stored in UTC, written in local time.
    assert [row["created_at"] for row in rows] == ["2026-11-20T10:00:00+08:00"] * 2
    assert [row["needs_review"] for row in rows] == ["false", "true"]
    lines = member_client.get(reverse("project_export", args=[project.id, "jsonl"])).content
    records = [json.loads(line) for line in lines.decode().splitlines()]
    assert [r["created_at"] for r in records] == ["2026-11-20T10:00:00+08:00"] * 2
    assert [r["needs_review"] for r in records] == [False, True]


def test_it_always_writes_steps_and_three_settings_in_an_a1111_download(member_client,
                                                                        project, crew):
    # A record that needs review has no settings at all; A1111 and Civitai ignore a last line
    # without Steps and at least three settings, so the export writes them anyway.
    record = make_record(project, crew.member, positive_prompt="", negative_prompt="",
                         needs_review=True, raw_text="a lighthouse, dusk", steps=None,
                         sampler="", cfg_scale=None, seed=None, width=None, height=None)
    text = member_client.get(reverse("record_export", args=[record.id, "a1111"])).content.decode()
    last = text.splitlines()[-1]
    settings = dict(part.split(": ", 1) for part in last.split(", "))
    assert last.startswith("Steps: ") and len(settings) >= 3
    assert read_generation_metadata({"parameters": text}).steps == int(settings["Steps"])
