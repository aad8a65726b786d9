"""Reference images: validated and prepared once on upload, stored with their send-ready copy."""

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from prompts.models import Project, ReferenceImage
from prompts.pipeline.creation import project_check_open
from prompts.workspace.formats.pngcard import CardValues, a1111_infotext
from prompts.workspace.formats.pngmeta import MAX_TEXT_CHARS, read_generation_metadata
from prompts.workspace.images import prepare_reference
from prompts.workspace.url_fetch import fetch_reference_url

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class ReferenceUpload:
    """A stored reference, whether it was new (or back from removal), and the brief its PNG
    text suggests."""

    reference: ReferenceImage
    created: bool
    suggested_brief: str | None
    restored: bool = False


def reference_create(
    *,
    project: Project,
    user: User,
    data: bytes,
    original_name: str,
    shows_person: bool = False,
    consent: bool = False,
    source_url: str = "",
) -> tuple[ReferenceImage, bool]:
    """Store an uploaded image; returns (reference, created). See reference_upload."""
    upload = reference_upload(project=project, user=user, data=data,
                              original_name=original_name, shows_person=shows_person,
                              consent=consent, source_url=source_url)
    return upload.reference, upload.created


def reference_upload(
    *,
    project: Project,
    user: User,
    data: bytes,
    original_name: str,
    shows_person: bool = False,
    consent: bool = False,
    source_url: str = "",
) -> ReferenceUpload:
    """Store an uploaded image. The same file twice in one project is the same reference.
    Raises ImageRejected with a message for the user; on any failure no row and no file is
    left behind. The suggested brief comes from A1111 or ComfyUI text in a PNG. Uploading a
    removed reference again brings it back. An archived project takes no new references
    (JobRefused, as for jobs)."""
    project_check_open(project)
    prepared = prepare_reference(data, max_bytes=settings.REFERENCE_MAX_UPLOAD_BYTES)
    existing = ReferenceImage.objects.filter(project=project, sha256=prepared.sha256).first()
    if existing is not None:
        restored = existing.archived_at is not None
        if restored:
            existing.archived_at = None
            existing.save(update_fields=["archived_at"])
        if shows_person and consent:
            reference_confirm_consent(reference=existing, user=user)
        return ReferenceUpload(existing, False, prepared.suggested_brief, restored=restored)
    stem = prepared.sha256[:20]
    reference = ReferenceImage(
        project=project,
        uploaded_by=user,
        original_name=(original_name or f"{stem}.{EXTENSIONS[prepared.original_format]}")[:255],
        source_url=source_url,
        sha256=prepared.sha256,
        original_format=prepared.original_format,
        width=prepared.width,
        height=prepared.height,
        send_width=prepared.send_width,
        send_height=prepared.send_height,
        send_bytes=len(prepared.send_jpeg),
        shows_person=shows_person,
        png_parameters=_stored_parameters(generation_text(prepared.png_text)),
    )
    if shows_person and consent:
        reference.consent_by, reference.consent_at = user, timezone.now()
    saved = []
    try:
        with transaction.atomic():
            for field, content, name in (
                (reference.original, prepared.original,
                 f"{stem}.{EXTENSIONS[prepared.original_format]}"),
                (reference.send_file, prepared.send_jpeg, f"{stem}-send.jpg"),
                (reference.thumbnail, prepared.thumbnail, f"{stem}-thumb.jpg"),
            ):
                field.save(name, ContentFile(content), save=False)
                saved.append(field.name)
            reference.save()
    except Exception:
        storage = reference.original.storage
        for name in saved:
            storage.delete(name)
        raise
    return ReferenceUpload(reference, True, prepared.suggested_brief)


def generation_text(png_text: dict[str, str]) -> str:
    """What a generator wrote into the PNG, as A1111 text: its own `parameters`, or the
    ComfyUI or InvokeAI metadata written the same way, so every reader of the reference
    (start a brief from its PNG prompt) reads all three generators alike."""
    if png_text.get("parameters", "").strip():
        return png_text["parameters"]
    metadata = read_generation_metadata(png_text)
    if metadata is None or not metadata.positive_prompt:
        return ""
    return a1111_infotext(CardValues(
        positive_prompt=metadata.positive_prompt, negative_prompt=metadata.negative_prompt or "",
        steps=metadata.steps, sampler=metadata.sampler, cfg_scale=metadata.cfg_scale,
        seed=metadata.seed, width=metadata.width, height=metadata.height, checkpoint=""))


def reference_create_from_url(
    *, project: Project, user: User, url: str, shows_person: bool = False, consent: bool = False
) -> tuple[ReferenceImage, bool]:
    """Fetch an https image (no private addresses, size and type checked), then store it.
    Raises UrlRefused or ImageRejected, each with a message for the user."""
    upload = reference_upload_from_url(project=project, user=user, url=url,
                                       shows_person=shows_person, consent=consent)
    return upload.reference, upload.created


def _stored_parameters(text: str) -> str:
    """The PNG's A1111 text, kept for the generate page's suggestion; text longer than the
    reader ever parses (MAX_TEXT_CHARS) is not kept at all."""
    return text if len(text) <= MAX_TEXT_CHARS else ""


def reference_upload_from_url(
    *, project: Project, user: User, url: str, shows_person: bool = False, consent: bool = False
) -> ReferenceUpload:
    project_check_open(project)  # before fetching anything
    data, final_url = fetch_reference_url(url, max_bytes=settings.REFERENCE_MAX_UPLOAD_BYTES)
    name = final_url.rsplit("/", 1)[-1].split("?")[0] or "image"
    return reference_upload(project=project, user=user, data=data, original_name=name,
                            shows_person=shows_person, consent=consent, source_url=url)


def reference_confirm_consent(*, reference: ReferenceImage, user: User) -> ReferenceImage:
    """The uploader confirms they hold the rights and the person's consent."""
    if reference.consent_at is None:
        reference.shows_person = True
        reference.consent_by, reference.consent_at = user, timezone.now()
        reference.save(update_fields=["shows_person", "consent_by", "consent_at"])
    return reference


@transaction.atomic
def reference_archive(*, reference: ReferenceImage, user: User) -> ReferenceImage:
    """Remove a reference from its project: it leaves the project page and the pickers and
    cannot be attached to new jobs. The row and its files stay, because past jobs and records
    point at it and still show its thumbnail."""
    if reference.archived_at is None:
        reference.archived_at = timezone.now()
        reference.save(update_fields=["archived_at"])
        audit_record(actor=user, action="reference.archive", target=reference,
                     after={"project": reference.project_id})
    return reference
