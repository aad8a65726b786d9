"""Reference images: validate an upload and make the send-ready JPEG the gateway accepts.

Plain bytes in, a `PreparedImage` out, or `ImageRejected` with a code and a message a
content-team user can act on. No models here: callers store what they need.
"""

import hashlib
import io
from dataclasses import dataclass, field

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, UnidentifiedImageError

from grokweb.refusals import Refusal
from prompts.gateway.limits import IMAGE_LONG_SIDE_PX as SEND_LONG_SIDE
from prompts.gateway.limits import IMAGE_MAX_BYTES as SEND_MAX_BYTES
from prompts.workspace.formats.pngmeta import GenerationMetadata, read_generation_metadata

THUMBNAIL_LONG_SIDE = 320
# Stricter than Pillow's own threshold (~89 MP): room for 45 MP camera files, while a
# 50 MP PNG still decodes to ~200 MB at most (JPEGs are decoded at reduced scale).
MAX_PIXELS = 50_000_000
# Anything thinner cannot show a face or a palette, and resizing it would round to 0 px.
MIN_SIDE = 32
# The first is the send quality; the others are tried only while the JPEG is too big.
SEND_QUALITIES = (85, 70, 50)
THUMBNAIL_QUALITY = 80

_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow's JPEG opener returns MPO for camera files that carry a second, preview image.
_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_PNG_TEXT_KEYS = ("parameters", "prompt", "workflow", "invokeai_metadata", "sd-metadata")
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.createProfile("sRGB")


class ImageRejected(Refusal):
    """The upload cannot be used as a reference."""


@dataclass(frozen=True)
class PreparedImage:
    """A checked reference: the upload as is, plus the JPEG and thumbnail made from it.

    width/height are the upright size of the original; send_* describe `send_jpeg`.
    """

    original: bytes = field(repr=False)
    original_format: str
    width: int
    height: int
    sha256: str
    send_jpeg: bytes = field(repr=False)
    send_width: int
    send_height: int
    thumbnail: bytes = field(repr=False)
    png_text: dict[str, str]
    suggested_brief: str | None
    suggested_params: dict


def prepare_reference(data: bytes, *, max_bytes: int) -> PreparedImage:
    """Check an uploaded reference and build what is stored and sent; raise ImageRejected."""
    if len(data) > max_bytes:
        raise ImageRejected(
            "too_large",
            format_lazy(
                _("This file is larger than {limit_mb} MB. Please upload a smaller image."),
                limit_mb=f"{max_bytes / 2**20:.3g}",
            ),
        )
    if not data:
        raise ImageRejected("empty", _("This file is empty."))
    original_format = _verify(data)
    try:
        with Image.open(io.BytesIO(data), formats=_OPEN_FORMATS) as image:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            raw_width, raw_height = image.size
            send_raw_size = _fit(image.size, SEND_LONG_SIDE)
            if image.format in ("JPEG", "MPO"):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale. The box must have the target's
                # aspect ratio: Pillow picks the scale from the tighter axis, so a square box
                # on a 3:2 photo decodes at full size.
                image.draft("RGB", send_raw_size)
            image.load()
            png_text = _png_text(image)
            icc_profile = image.info.get("icc_profile")
            send_image = _resample_ready(image)
            if send_image.size != send_raw_size:
                send_image = send_image.resize(
                    send_raw_size, Image.Resampling.LANCZOS, reducing_gap=3.0
                )
            send_image = _to_srgb(send_image, icc_profile)
    except (OSError, ValueError, SyntaxError) as exc:
        raise _corrupt() from exc

    # Rotating the 2048 px result is cheaper than rotating the decoded original.
    if orientation in _ORIENTATION_TRANSPOSE:
        send_image = send_image.transpose(_ORIENTATION_TRANSPOSE[orientation])
    if orientation in (5, 6, 7, 8):
        raw_width, raw_height = raw_height, raw_width
    thumbnail = send_image.resize(
        _fit(send_image.size, THUMBNAIL_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    suggested_brief, suggested_params = _suggestion(png_text)
    return PreparedImage(
        original=data,
        original_format=original_format,
        width=raw_width,
        height=raw_height,
        sha256=hashlib.sha256(data).hexdigest(),
        send_jpeg=_send_jpeg(send_image),
        send_width=send_image.width,
        send_height=send_image.height,
        thumbnail=_jpeg(thumbnail, THUMBNAIL_QUALITY),
        png_text=png_text,
        suggested_brief=suggested_brief,
        suggested_params=suggested_params,
    )


def _verify(data: bytes) -> str:
    """Sniff the real format and check structure and pixel count, without decoding pixels.

    `formats=` keeps Pillow from trying any other parser on untrusted bytes.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Past twice Pillow's own limit it raises; the warning only matters if a caller
        # made warnings errors. MAX_PIXELS below is stricter and checked explicitly, which
        # avoids warnings filters: they are process-wide and not thread-safe.
        raise _bomb() from exc
    except UnidentifiedImageError as exc:
        if data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise _corrupt() from exc
        raise ImageRejected(
            "unsupported_type", _("This file is not a JPEG, PNG or WebP image.")
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise _corrupt() from exc
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _bomb()
        if min(width, height) < MIN_SIDE:
            raise ImageRejected(
                "too_small",
                format_lazy(
                    _("This image is too small: each side must be at least {min_side} pixels."),
                    min_side=MIN_SIDE,
                ),
            )
        original_format = _FORMATS[image.format]
        try:
            # Checks PNG chunk CRCs; the full decode afterwards catches the rest.
            image.verify()
        except (OSError, ValueError, SyntaxError) as exc:
            raise _corrupt() from exc
    return original_format


def _corrupt() -> ImageRejected:
    return ImageRejected(
        "corrupt", _("This image is damaged or incomplete. Please export it again and re-upload.")
    )


def _bomb() -> ImageRejected:
    return ImageRejected(
        "decompression_bomb",
        format_lazy(
            _("This image has too many pixels: the limit is {limit} megapixels."),
            limit=MAX_PIXELS // 1_000_000,
        ),
    )


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The size that fits `long_side` keeping the aspect ratio; never upscales."""
    width, height = size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resample_ready(image: Image.Image) -> Image.Image:
    """RGB (or CMYK, for its ICC profile) that LANCZOS can resize; transparency becomes
    white, which the model reads as background, where dropping alpha leaves black."""
    if image.mode in ("RGB", "CMYK"):
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode.startswith("I"):
        # 16-bit grey: Pillow's own conversion clips everything above 255 to white.
        return image.convert("I").point(lambda value: value / 256).convert("RGB")
    return image.convert("RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """An sRGB image with no metadata. Dropping a Display P3, Adobe RGB or CMYK profile
    without converting would shift the colours the model sees."""
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            # Most camera and Android files say sRGB already: skip the ~40 ms transform.
            if not ImageCms.getProfileDescription(source).startswith("sRGB"):
                if image.mode == "RGB":
                    ImageCms.profileToProfile(image, source, _SRGB, inPlace=True)
                else:
                    image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # An unreadable profile: the pixels as they are beat a rejection.
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.info = {}
    return image


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.info = {}  # Pillow writes a comment or XMP found in info into the file.
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _send_jpeg(image: Image.Image) -> bytes:
    """At 2048 px even pure noise is ~3 MB at quality 85; lower qualities are a guard."""
    for quality in SEND_QUALITIES:
        encoded = _jpeg(image, quality)
        if len(encoded) < SEND_MAX_BYTES:
            return encoded
    raise AssertionError(f"send JPEG is {len(encoded)} bytes even at quality {quality}")


def _png_text(image: Image.Image) -> dict[str, str]:
    text = getattr(image, "text", None) or {}
    return {key: str(text[key]) for key in _PNG_TEXT_KEYS if key in text}


def _suggestion(png_text: dict[str, str]) -> tuple[str | None, dict]:
    """A brief and generation settings recovered from A1111, ComfyUI or InvokeAI metadata."""
    metadata = read_generation_metadata(png_text)
    if metadata is None:
        return None, {}
    params = {name: value for name, value in metadata_settings(metadata).items()
              if value not in (None, "")}
    return metadata.positive_prompt or None, params


def metadata_settings(metadata: GenerationMetadata) -> dict:
    """The settings of a generator's metadata other than its positive prompt."""
    return {
        "negative_prompt": metadata.negative_prompt,
        "steps": metadata.steps,
        "sampler": metadata.sampler,
        "cfg_scale": metadata.cfg_scale,
        "seed": metadata.seed,
        "width": metadata.width,
        "height": metadata.height,
    }
