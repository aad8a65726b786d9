"""Reference uploads and links through the views: what is stored, what is refused, and that
a refusal leaves no row and no file behind. The image checks themselves are tested in
tests/references; here the concern is the page and the service around them."""

import io
import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from prompts.models import GenerationJob, ReferenceImage
from prompts.workspace import url_fetch
from prompts.workspace.services import references as reference_services
from tests.workspace.conftest import image_bytes


def upload(client, project, *files, **fields):
    """Upload, then follow the redirect to the project page that reports on each file."""
    return client.post(reverse("reference_upload", args=[project.id]),
                       {"files": list(files), **fields}, follow=True)


def stored_files(settings) -> list[str]:
    root = str(settings.MEDIA_ROOT)
    return [os.path.join(d, f) for d, _dirs, names in os.walk(root) for f in names]


def jpeg_with_exif(size=(600, 400), orientation=6) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = image.getexif()
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[2] = (31.0, 14.0, 0.0)  # GPSLatitude
    gps[1] = "N"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_it_stores_good_jpeg_png_and_webp_uploads(member_client, project, settings):
    response = upload(member_client, project,
                      SimpleUploadedFile("a.jpg", image_bytes("JPEG")),
                      SimpleUploadedFile("b.png", image_bytes("PNG", size=(500, 500))),
                      SimpleUploadedFile("c.webp", image_bytes("WEBP", size=(300, 700))))
    assert response.status_code == 200
    refs = {ref.original_name: ref for ref in ReferenceImage.objects.filter(project=project)}
    assert set(refs) == {"a.jpg", "b.png", "c.webp"}
    assert {ref.original_format for ref in refs.values()} == {"JPEG", "PNG", "WEBP"}
    assert len(stored_files(settings)) == 9  # original, send-ready JPEG and thumbnail each
    assert refs["a.jpg"].uploaded_by_id == response.wsgi_request.user.id
    assert "uploaded." in response.content.decode()


def test_it_applies_exif_orientation_and_strips_gps(member_client, project):
    upload(member_client, project, SimpleUploadedFile("rotated.jpg", jpeg_with_exif()))
    ref = ReferenceImage.objects.get(project=project)
    assert (ref.width, ref.height) == (400, 600)
    with ref.send_file.open("rb") as handle:
        sent = Image.open(io.BytesIO(handle.read()))
        assert sent.size == (400, 600)
        exif = sent.getexif()
        assert 0x8825 not in exif and not exif.get_ifd(0x8825)
        assert 0x0112 not in exif


def test_it_shrinks_a_6000_by_4000_photo_under_5_mb_and_2048_px(member_client, project):
    upload(member_client, project,
           SimpleUploadedFile("big.jpg", image_bytes("JPEG", size=(6000, 4000), quality=95)))
    ref = ReferenceImage.objects.get(project=project)
    assert (ref.width, ref.height) == (6000, 4000)
    assert max(ref.send_width, ref.send_height) == 2048
    assert ref.send_bytes < 5 * 1000 * 1000
    assert ref.send_file.size == ref.send_bytes


def bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, "PNG")  # 64 MP, a few kB on disk
    return buffer.getvalue()


@pytest.mark.parametrize("name,data,message", [
    ("cut.jpg", image_bytes("JPEG")[:1500], "damaged or incomplete"),
    ("notes.jpg", b"These are my notes, not a picture.\n" * 20, "not a JPEG, PNG or WebP"),
    ("bomb.png", bomb_png(), "too many pixels"),
])
def test_it_refuses_a_bad_file_clearly_and_keeps_nothing(member_client, project, settings,
                                                         name, data, message):
    response = upload(member_client, project, SimpleUploadedFile(name, data))
    assert response.redirect_chain[0][1] == 302
    assert message in response.content.decode()
    assert name in response.content.decode()
    assert not ReferenceImage.objects.exists()
    assert stored_files(settings) == []


def test_it_refuses_an_oversized_file_without_reading_it_all(member_client, project, settings):
    settings.REFERENCE_MAX_UPLOAD_BYTES = 50_000
    data = image_bytes("PNG", size=(1200, 900), compress_level=0)
    assert len(data) > 50_000
    response = upload(member_client, project, SimpleUploadedFile("huge.png", data))
    assert "larger than" in response.content.decode()
    assert not ReferenceImage.objects.exists()
    assert stored_files(settings) == []


def test_it_keeps_the_good_files_of_a_mixed_upload_and_names_the_bad_one(member_client,
                                                                        project):
    response = upload(member_client, project,
                      SimpleUploadedFile("good.jpg", image_bytes("JPEG")),
                      SimpleUploadedFile("bad.jpg", b"nope" * 100))
    page = response.content.decode()
    assert "bad.jpg" in page and "not a JPEG, PNG or WebP" in page
    assert list(ReferenceImage.objects.values_list("original_name", flat=True)) == ["good.jpg"]


def test_it_saves_the_good_files_when_one_is_empty_and_names_each_bad_one(member_client,
                                                                         project):
    response = upload(member_client, project,
                      SimpleUploadedFile("harbour.jpg", image_bytes("JPEG")),
                      SimpleUploadedFile("empty.png", b""),
                      SimpleUploadedFile("notes.jpg", b"not a picture" * 50),
                      SimpleUploadedFile("river.png", image_bytes("PNG", size=(400, 300))))
    assert response.status_code == 200
    results = response.content.decode().split('id="upload-results"')[1].split("</ul>")[0]
    assert "empty.png</strong>: This file is empty." in results
    assert "notes.jpg</strong>: This file is not a JPEG, PNG or WebP image." in results
    assert "harbour.jpg</strong>:\n    uploaded." in results
    assert set(ReferenceImage.objects.values_list("original_name", flat=True)) == {
        "harbour.jpg", "river.png"}


def test_it_redirects_after_an_upload_and_reports_it_once(member_client, project):
    response = member_client.post(reverse("reference_upload", args=[project.id]),
                                  {"files": [SimpleUploadedFile("a.jpg", image_bytes("JPEG"))]})
    assert response.status_code == 302
    assert response["Location"] == reverse("project_detail", args=[project.id]) + "#references"
    first = member_client.get(response["Location"]).content.decode()
    assert "a.jpg</strong>:" in first
    # A reload is a GET of the project page: no second upload, no second report.
    again = member_client.get(response["Location"]).content.decode()
    assert 'id="upload-results"' not in again
    assert ReferenceImage.objects.count() == 1


def test_it_redirects_after_adding_a_link(member_client, project, monkeypatch):
    # The fetcher's own checks are tested above and in test_url_fetch; here, the page flow.
    monkeypatch.setattr(reference_services, "fetch_reference_url",
                        lambda url, max_bytes: (image_bytes("JPEG"), url))
    response = member_client.post(reverse("reference_from_url", args=[project.id]),
                                  {"url": "https://images.example.com/shots/pier.jpg"})
    assert response.status_code == 302
    page = member_client.get(response["Location"]).content.decode()
    assert "pier.jpg</strong>:" in page and "uploaded." in page
    assert ReferenceImage.objects.get().source_url == "https://images.example.com/shots/pier.jpg"


def test_it_keeps_one_reference_for_the_same_file_uploaded_twice(member_client, project):
    data = image_bytes("JPEG")
    upload(member_client, project, SimpleUploadedFile("one.jpg", data))
    response = upload(member_client, project, SimpleUploadedFile("again.jpg", data))
    assert ReferenceImage.objects.count() == 1
    assert "already in this project" in response.content.decode()


def test_it_serves_thumbnails_to_the_team_only_and_has_no_public_media(member_client,
                                                                      outsider_client, project):
    upload(member_client, project, SimpleUploadedFile("a.jpg", image_bytes("JPEG")))
    ref = ReferenceImage.objects.get()
    response = member_client.get(reverse("reference_image", args=[ref.id, "thumbnail"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size[0] <= 320
    assert outsider_client.get(
        reverse("reference_image", args=[ref.id, "thumbnail"])).status_code == 404
    assert member_client.get("/media/" + ref.thumbnail.name).status_code == 404


def test_it_records_consent_with_user_and_time_and_refuses_to_send_without_it(
        member_client, project, crew):
    upload(member_client, project, SimpleUploadedFile("face.jpg", image_bytes("JPEG")),
           shows_person="on")
    ref = ReferenceImage.objects.get()
    assert ref.shows_person and not ref.sendable
    response = member_client.post(reverse("generate", args=[project.id]),
                                  {"brief": "portrait", "task_type": "strict",
                                   "references": [ref.id]})
    assert response.status_code == 422
    assert "confirm you hold the rights" in response.content.decode()
    assert not GenerationJob.objects.exists()

    member_client.post(reverse("reference_consent", args=[ref.id]), {"consent": "1"})
    ref.refresh_from_db()
    assert ref.consent_by == crew.member and ref.consent_at is not None and ref.sendable


def test_it_stores_consent_given_at_upload(member_client, project, crew):
    upload(member_client, project, SimpleUploadedFile("face.jpg", image_bytes("JPEG")),
           shows_person="on", consent="on")
    ref = ReferenceImage.objects.get()
    assert ref.sendable and ref.consent_by == crew.member


def test_it_starts_a_brief_from_a_png_with_its_negative_prompt_and_settings(member_client,
                                                                           project):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red lantern festival, night\nNegative prompt: blurry, lowres\n"
                                "Steps: 24, Sampler: Euler a, CFG scale: 6.5, Seed: 4242, "
                                "Size: 832x1216")
    image = io.BytesIO()
    Image.new("RGB", (256, 256), (9, 9, 9)).save(image, "PNG", pnginfo=info)
    response = upload(member_client, project, SimpleUploadedFile("made.png", image.getvalue()))
    ref = ReferenceImage.objects.get()
    assert ref.png_parameters.startswith("a red lantern festival")
    start = f"?from_reference={ref.id}"
    assert start in response.content.decode()  # the upload report offers it

    page = member_client.get(reverse("generate", args=[project.id]) + start).content.decode()
    assert "a red lantern festival, night</textarea>" in page
    assert "blurry, lowres</textarea>" in page  # the negative prompt, in "Keep these settings"
    for name, value in (("keep_steps", "24"), ("keep_sampler", "Euler a"),
                        ("keep_cfg_scale", "6.5"), ("keep_seed", "4242"),
                        ("keep_width", "832"), ("keep_height", "1216")):
        assert f'name="{name}" value="{value}"' in page, name
    assert f'value="{ref.id}" id="id_references_0" checked' in page


def test_it_starts_a_brief_from_a_comfyui_png_with_its_settings(member_client, project):
    graph = {"3": {"class_type": "KSampler", "inputs": {
        "seed": 7, "steps": 28, "cfg": 5.5, "sampler_name": "euler", "scheduler": "normal",
        "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 1024}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "paper lanterns over a river"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark"}}}
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(graph))
    image = io.BytesIO()
    Image.new("RGB", (256, 256), (9, 9, 9)).save(image, "PNG", pnginfo=info)
    upload(member_client, project, SimpleUploadedFile("comfy.png", image.getvalue()))
    ref = ReferenceImage.objects.get()
    page = member_client.get(reverse("generate", args=[project.id]),
                             {"from_reference": ref.id}).content.decode()
    assert "paper lanterns over a river</textarea>" in page
    assert "watermark</textarea>" in page
    assert 'name="keep_steps" value="28"' in page and 'name="keep_seed" value="7"' in page


@pytest.fixture
def fake_dns(monkeypatch):
    """Names resolve to what the test sets; an address literal resolves to itself."""
    answers = {}

    def resolver(host, port):
        return answers.get(host, [host])

    monkeypatch.setattr(url_fetch, "resolve_host", resolver)
    return answers


@pytest.mark.parametrize("url,message", [
    ("http://images.example.com/a.jpg", "Only https:// links"),
    ("https://127.0.0.1/a.jpg", "private or local network address"),
    ("https://10.0.0.8/a.jpg", "private or local network address"),
    ("https://169.254.169.254/latest/meta-data/", "private or local network address"),
    ("https://intranet.example.com/a.jpg", "private or local network address"),
])
def test_it_refuses_links_to_http_and_private_addresses(member_client, project, fake_dns,
                                                        settings, url, message):
    fake_dns["intranet.example.com"] = ["127.0.0.1"]
    response = member_client.post(reverse("reference_from_url", args=[project.id]), {"url": url})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReferenceImage.objects.exists()
    assert stored_files(settings) == []
