"""Reference image checks and the send-ready JPEG (prompts/workspace/images.py). No database."""

import hashlib
import io
import json
import struct
import time
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, PngImagePlugin

from prompts.workspace import images
from prompts.workspace.formats.pngmeta import read_generation_metadata
from prompts.workspace.images import (
    ImageRejected,
    prepare_reference,
)

MAX_BYTES = 30 * 1024 * 1024


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def scene(size: tuple[int, int]) -> Image.Image:
    """Blue picture with a red top-left quadrant, so rotations can be told apart."""
    image = Image.new("RGB", size, (0, 0, 255))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=(255, 0, 0))
    return image


def photo(size: tuple[int, int], quality: int = 95) -> bytes:
    """Gradients plus sensor-like noise: compresses like a photo, unlike flat colour."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    noise = Image.effect_noise(size, 20).convert("RGB")
    return encode(Image.blend(base, noise, 0.3), "JPEG", quality=quality)


def srgb_profile(description: str = "sRGB built-in") -> bytes:
    """Pillow's sRGB profile, optionally relabelled so it is treated as another space."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile.replace("sRGB built-in".encode("utf-16-be"), description.encode("utf-16-be"))


def rejection(data: bytes, max_bytes: int = MAX_BYTES) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        prepare_reference(data, max_bytes=max_bytes)
    assert str(caught.value.message), "every rejection tells the user why"
    return caught.value


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def is_red(pixel) -> bool:
    red, green, blue = pixel
    return red > 200 and green < 60 and blue < 60


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header declaring a size, followed by a few bytes of pixel data:
    decoding it would fail as corrupt, so a bomb verdict proves nothing was decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90})],
)
def test_it_accepts_jpeg_png_and_webp(fmt, params):
    data = encode(scene((640, 480)), fmt, **params)

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert prepared.original == data
    assert prepared.original_format == fmt
    assert (prepared.width, prepared.height) == (640, 480)
    assert prepared.sha256 == hashlib.sha256(data).hexdigest()
    send = opened(prepared.send_jpeg)
    assert (send.format, send.mode, send.size) == ("JPEG", "RGB", (640, 480))
    assert (prepared.send_width, prepared.send_height) == (640, 480)
    assert is_red(send.getpixel((10, 10))) and not is_red(send.getpixel((630, 470)))
    assert opened(prepared.thumbnail).size == (320, 240)
    assert prepared.png_text == {} and prepared.suggested_brief is None


def test_it_accepts_a_camera_mpo_as_a_jpeg():
    first, preview = scene((640, 480)), Image.new("RGB", (160, 120), (0, 255, 0))
    data = encode(first, "MPO", save_all=True, append_images=[preview])

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert prepared.original_format == "JPEG"
    assert is_red(opened(prepared.send_jpeg).getpixel((10, 10)))


def test_it_applies_exif_orientation_and_strips_gps_and_all_metadata():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored landscape, shown rotated 90° clockwise
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 7.0)
    data = encode(
        scene((800, 600)),
        "JPEG",
        exif=exif.tobytes(),
        icc_profile=srgb_profile(),
        comment=b"shot at home",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret</x:xmpmeta>",
    )
    assert opened(data).getexif().get_ifd(ExifTags.IFD.GPSInfo), "the fixture carries GPS"

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert (prepared.width, prepared.height) == (600, 800)
    assert (prepared.send_width, prepared.send_height) == (600, 800)
    send = opened(prepared.send_jpeg)
    assert send.size == (600, 800)
    # The red top-left quadrant of the stored image is shown top-right.
    assert is_red(send.getpixel((580, 20))) and not is_red(send.getpixel((20, 20)))
    assert opened(prepared.thumbnail).size == (240, 320)
    for output in (prepared.send_jpeg, prepared.thumbnail):
        image = opened(output)
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
        for marker in (b"Exif", b"PhoneCo", b"shot at home", b"secret", b"ICC_PROFILE"):
            assert marker not in output


@pytest.mark.parametrize(
    ("size", "send_size"), [((6000, 4000), (2048, 1365)), ((3000, 4000), (1536, 2048))]
)
def test_it_shrinks_a_camera_photo_under_the_gateway_limits(size, send_size):
    data = photo(size)

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert (prepared.width, prepared.height) == size
    assert opened(prepared.send_jpeg).size == send_size
    assert (prepared.send_width, prepared.send_height) == send_size
    assert len(prepared.send_jpeg) < 5 * 1000 * 1000
    assert max(opened(prepared.thumbnail).size) == 320


def test_it_lowers_jpeg_quality_until_the_send_copy_fits(monkeypatch):
    data = photo((2048, 1536))
    first_try = prepare_reference(data, max_bytes=MAX_BYTES).send_jpeg
    monkeypatch.setattr(images, "SEND_MAX_BYTES", len(first_try) - 1)

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert len(prepared.send_jpeg) < len(first_try)
    assert opened(prepared.send_jpeg).size == (2048, 1536)


@pytest.mark.parametrize(
    ("mode", "colour", "profile"),
    [
        ("RGB", (255, 0, 0), srgb_profile("Wide built-in")),  # converted in place
        ("CMYK", (0, 255, 255, 0), None),  # print files: cyan-free, yellow+magenta = red
    ],
)
def test_it_converts_colour_spaces_to_srgb_without_a_profile(mode, colour, profile):
    params = {"icc_profile": profile} if profile else {}
    data = encode(Image.new(mode, (100, 100), colour), "JPEG", **params)

    send = opened(prepare_reference(data, max_bytes=MAX_BYTES).send_jpeg)

    assert send.mode == "RGB" and "icc_profile" not in send.info
    assert is_red(send.getpixel((50, 50)))


def test_it_puts_transparent_areas_on_white():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 49, 99), fill=(255, 0, 0, 255))

    send = opened(prepare_reference(encode(image, "PNG"), max_bytes=MAX_BYTES).send_jpeg)

    assert is_red(send.getpixel((10, 50)))
    assert min(send.getpixel((90, 50))) > 240


def test_it_keeps_16_bit_grey_pngs_grey_instead_of_white():
    data = encode(Image.new("I;16", (64, 64), 30000), "PNG")

    send = opened(prepare_reference(data, max_bytes=MAX_BYTES).send_jpeg)

    assert all(100 < channel < 135 for channel in send.getpixel((32, 32)))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_rejects_a_truncated_image_as_corrupt(fmt):
    data = encode(Image.effect_noise((400, 300), 40).convert("RGB"), fmt)

    assert rejection(data[: len(data) * 2 // 3]).code == "corrupt"


def test_it_rejects_a_png_with_a_damaged_header_as_corrupt():
    data = bytearray(encode(scene((100, 100)), "PNG"))
    data[16:20] = b"\xff\xff\xff\xff"  # width inside IHDR; the CRC no longer matches

    assert rejection(bytes(data)).code == "corrupt"


def test_it_rejects_a_text_file_named_like_a_jpeg():
    assert rejection(b"name,brief\nmia,red dress on a beach\n" * 20).code == "unsupported_type"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_it_rejects_other_image_formats(fmt):
    assert rejection(encode(scene((100, 100)), fmt)).code == "unsupported_type"


@pytest.mark.parametrize(
    "size",
    [
        (100_000, 100_000),  # past twice Pillow's own limit: Pillow raises while opening
        (8_000, 7_000),  # 56 MP: under Pillow's limit, over ours
    ],
)
def test_it_rejects_a_decompression_bomb_without_decoding_it(size):
    started = time.perf_counter()

    assert rejection(png_header_only(*size)).code == "decompression_bomb"
    assert time.perf_counter() - started < 0.5


def test_it_rejects_a_tiny_1_bit_png_that_expands_past_the_pixel_cap():
    data = encode(Image.new("1", (8_000, 7_000)), "PNG")
    assert len(data) < 100_000

    assert rejection(data).code == "decompression_bomb"


def test_it_rejects_a_file_over_the_byte_limit_before_reading_it():
    data = encode(scene((100, 100)), "PNG")

    assert rejection(data, max_bytes=len(data) - 1).code == "too_large"
    assert prepare_reference(data, max_bytes=len(data)).original == data


def test_it_rejects_an_image_too_small_to_be_a_reference():
    assert rejection(encode(scene((640, 8)), "PNG")).code == "too_small"


A1111_PARAMETERS = (
    "portrait of a woman, red qipao, soft window light\n"
    "film grain\n"
    "Negative prompt: blurry, extra fingers\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567890, Size: 832x1216, "
    'Model hash: 31e35c80fc, Lora hashes: "film: abc123, grain: def456", Version: v1.9.4'
)


def test_it_reads_a1111_parameters_from_a_png():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    data = encode(scene((832, 1216)), "PNG", pnginfo=info)

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert prepared.png_text == {"parameters": A1111_PARAMETERS}
    assert (
        prepared.suggested_brief == "portrait of a woman, red qipao, soft window light\nfilm grain"
    )
    assert prepared.suggested_params == {
        "negative_prompt": "blurry, extra fingers",
        "steps": 28,
        "sampler": "DPM++ 2M Karras",
        "cfg_scale": 6.5,
        "seed": 1234567890,
        "width": 832,
        "height": 1216,
    }


def test_it_reads_a1111_parameters_without_a_negative_prompt_or_settings():
    metadata = read_generation_metadata({"parameters": "a cat on a sofa"})
    assert (metadata.positive_prompt, metadata.negative_prompt) == ("a cat on a sofa", None)
    assert (metadata.steps, metadata.seed, metadata.width) == (None, None, None)
    metadata = read_generation_metadata(
        {"parameters": "Negative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
                       "Seed: -1"})
    assert (metadata.positive_prompt, metadata.negative_prompt) == (None, "lowres")
    assert (metadata.steps, metadata.sampler, metadata.width) == (20, "Euler a", None)


COMFYUI_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 42, "steps": 20, "positive": ["6", 0], "negative": ["7", 0]},
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark, text", "clip": ["4", 1]}},
    "10": {"class_type": "CLIPTextEncode", "inputs": {"text": ["12", 0], "clip": ["4", 1]}},
}


def test_it_reads_comfyui_prompt_and_workflow_chunks_from_a_png():
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(COMFYUI_PROMPT))
    info.add_text("workflow", json.dumps({"nodes": [], "links": []}))
    data = encode(scene((512, 512)), "PNG", pnginfo=info)

    prepared = prepare_reference(data, max_bytes=MAX_BYTES)

    assert set(prepared.png_text) == {"prompt", "workflow"}
    assert prepared.suggested_brief == "a lighthouse at dusk"
    assert prepared.suggested_params == {"negative_prompt": "watermark, text", "steps": 20,
                                         "seed": 42}
