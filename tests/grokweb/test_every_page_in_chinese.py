"""Every page, in Simplified Chinese, for a member, a manager, a site admin, someone in no
team and someone signed out, with a month of realistic work (tests/showcase.py): no English
word may show except user data and proper names.

How it checks: it collects what a reader sees (text, and the title, placeholder, aria-label
and alt attributes), removes every text the showcase stored (names, briefs, prompts, the
gateway's own messages…), and looks for ASCII words left over that are not on a short list
of proper names and format names. The showcase's data avoids the words GrokWeb's English
uses (test_it_cannot_mistake_a_missing_translation_for_user_data), so discounting user data
cannot hide an untranslated label.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import translation

from accounts.models import ApiToken, AuditEvent, GatewayKey, Team, User
from prompts.gateway.kept_settings import split_kept_settings
from prompts.models import (
    Batch,
    BriefTemplate,
    Comment,
    DispatchPause,
    GatewayCall,
    GenerationJob,
    HouseStyle,
    HouseStyleVersion,
    Project,
    PromptRecord,
    ReconciliationItem,
    ReconciliationRun,
    ReferenceImage,
    ReviewStep,
    ShareLink,
    Tag,
    WebhookEndpoint,
)
from prompts.models.workspace import DEMO_PROJECT_DESCRIPTION
from prompts.workspace.formats.pngmeta import read_generation_metadata
from tests.showcase import build_showcase

# Names a Chinese page may show in Latin letters: the product, Token (how the team writes
# model tokens), model and tool names, file formats, protocols and units.
ALLOWED = {
    "GrokWeb", "Token", "grok-build-0.1", "grok-build-0.2", "grok-mini-9", "A1111",
    "AUTOMATIC1111", "ComfyUI", "InvokeAI", "Civitai", "CSV", "JSONL", "JSON", "API",
    "OpenAPI", "PNG", "JPEG", "WebP", "HTTP", "https", "URL", "CFG", "UTF-8", "GBK",
    "Authorization", "Bearer", "Django", "Retry-After", "EXIF", "MB", "KB", "px", "ms", "s",
    "ID", "US", "USD", "IP", "YYYY-MM", "gw_", "Excel",
    "English",  # the language switcher names each language in itself
    "Axes",  # django-axes, the sign-in lock-out app, by its name in Django admin
    "Webhook",  # as the team writes it, like Token
    "README", "X-GrokWeb-Signature",  # a file and a header named literally
    "one-api", "new-api",  # the gateway software whose usage log reconciliation reads
    "quota",  # that log's column, named literally (as the gateway's own messages say it)
}
# Names by their shape: a model file ("juggernautXL_v9.safetensors"), a version ("v2").
PROPER_NAME = re.compile(r"[\w.+-]+\.(safetensors|ckpt|pt|gguf)|v\d+")
# Addresses shown as text (a share link, "/compare/?ids=3,5"): not prose.
ADDRESS = re.compile(r"https?://\S+|(?<!\w)/[\w\-./?=&%,#]+")
AUDIT_DATA = ("name", "username", "user", "team", "masked", "fingerprint", "detail", "error",
              "model", "prefix", "email", "note")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.+'’-]*")
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


# Not prose: scripts, styles, and <code> (what a user types or copies literally: CSV column
# names, an HTTP header, a masked key).
SKIPPED = ("script", "style", "code")


class _Reader(HTMLParser):
    """The text a reader sees: text nodes outside SKIPPED elements, plus the attributes
    that are read out or shown on hover."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED:
            self._skip += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.texts.append(value)
            if tag == "input" and name == "value" and dict(attrs).get("type") == "submit":
                self.texts.append(value or "")

    def handle_endtag(self, tag):
        if tag in SKIPPED:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


def user_data() -> list[str]:
    """Every text the showcase stored that a page may show, longest first."""
    texts: list[str] = []
    texts += User.objects.values_list("username", flat=True)
    texts += User.objects.values_list("email", flat=True)
    texts += Team.objects.values_list("name", flat=True)
    for project in Project.objects.all():
        texts.append(project.name)
        if project.description != DEMO_PROJECT_DESCRIPTION:  # ours: it must be translated
            texts.append(project.description)
    for reference in ReferenceImage.objects.all():
        texts.append(reference.original_name)
        found = read_generation_metadata({"parameters": reference.png_parameters})
        if found:  # the prompt a generator wrote into the PNG
            texts += [found.positive_prompt or "", found.negative_prompt or "",
                      found.sampler or ""]
    for job in GenerationJob.objects.all():
        # The brief's own text and the values it keeps; the "Keep these settings" block is
        # GrokWeb's format and must be shown translated, never raw.
        text, kept = split_kept_settings(job.brief)
        texts += [text, *text.split("\n"), job.error_message, job.model]
        texts += [str(value) for value in vars(kept).values() if value not in (None, "")]
    for record in PromptRecord.objects.all():
        texts += [record.positive_prompt, record.negative_prompt, record.sampler,
                  record.style, record.raw_text, *(record.visual_features or {}).values()]
    texts += Tag.objects.values_list("name", flat=True)
    texts += Comment.objects.values_list("body", flat=True)
    texts += Batch.objects.values_list("title", flat=True)
    for key in GatewayKey.objects.all():
        texts += [key.name, key.masked, key.fingerprint, key.last_error.partition("): ")[2]]
    for token in ApiToken.objects.all():
        texts += [token.name, f"gw_{token.prefix}"]
    texts += GatewayCall.objects.values_list("error_message", flat=True)
    texts += DispatchPause.objects.values_list("detail", flat=True)
    # The studio's: templates (and the variables in them), house styles, reviews, links.
    for template in BriefTemplate.objects.all():
        texts += [template.name, template.body, *template.variables]
    for style in HouseStyle.objects.all():
        texts += [style.name, style.description]
    for version in HouseStyleVersion.objects.all():
        texts += [version.negative_terms, version.style_words, version.sampler,
                  version.checkpoint, version.note]
    texts += ReviewStep.objects.values_list("comment", flat=True)
    texts += ShareLink.objects.values_list("label", flat=True)
    texts += ShareLink.objects.values_list("token_prefix", flat=True)
    for endpoint in WebhookEndpoint.objects.all():
        texts += [endpoint.url, endpoint.description, endpoint.secret_masked]
    # Reconciliation: the gateway's own ids for calls, and the file or address it read.
    texts += ReconciliationItem.objects.values_list("request_id", flat=True)
    texts += ReconciliationRun.objects.values_list("source_name", flat=True)
    for event in AuditEvent.objects.all():
        for values in (event.before or {}, event.after or {}):
            # Names and the gateway's words are data; codes (status, role) must be shown
            # translated, so they are not discounted.
            texts += [value for name, value in values.items()
                      if name in AUDIT_DATA and isinstance(value, str)]
    return sorted({text for text in texts if text and text.strip()}, key=len, reverse=True)


def english_left(html: str, data: list[str]) -> list[str]:
    """ASCII words left on the page once `data` and proper names are taken out. Data is
    removed whole first; what remains of it (a truncated prompt, a word diff) goes by its
    words, which test_it_cannot_mistake_a_missing_translation_for_user_data keeps apart
    from GrokWeb's own."""
    reader = _Reader()
    reader.feed(html)
    data = sorted(set(data), key=len, reverse=True)
    vocabulary = data_words(data)
    found = []
    for text in reader.texts:
        for item in data:
            if item in text:
                text = text.replace(item, " ")
        text = ADDRESS.sub(" ", text)
        found += [word for word in WORD.findall(text) if not _allowed(word, vocabulary)]
    return found


def _allowed(word: str, vocabulary: set[str]) -> bool:
    bare = word.rstrip(".:;,")
    if word in ALLOWED or bare in ALLOWED or bare.lower() in vocabulary \
            or PROPER_NAME.fullmatch(bare):
        return True
    # A name cut short ("harbour-dusk-wide-…", or "..." in Django's Chinese catalog).
    stem = word.removesuffix("…").removesuffix("...").lower()
    return stem != word.lower() and any(known.startswith(stem) for known in vocabulary)


def half_width_colons(html: str) -> list[str]:
    """A Chinese label followed by ":" instead of the full-width "："."""
    reader = _Reader()
    reader.feed(html)
    return [match.group(0) for text in reader.texts
            for match in re.finditer(r"[\u4e00-\u9fff）][ ]?:", text)]


def data_words(data: list[str]) -> set[str]:
    return {word.rstrip(".:;,").lower() for text in data for word in WORD.findall(text)}


def ui_words() -> set[str]:
    """The words of GrokWeb's own English: every msgid of its catalog."""
    words, msgid, reading = set(), [], False
    for line in open("locale/zh_Hans/LC_MESSAGES/django.po", encoding="utf-8"):
        if line.startswith(("msgid ", "msgid_plural ")):
            reading, msgid = True, msgid + [line.split(" ", 1)[1]]
        elif line.startswith('"') and reading:
            msgid.append(line)
        else:
            reading = False
    for quoted in msgid:
        words |= data_words([quoted])
    return words


def _client(user: User | None, password: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    if user is not None:
        client.force_login(user)
    return client


def _fetch(client: Client, page) -> str:
    headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}
    if page.method == "post":
        data = {key: SimpleUploadedFile(*value) if isinstance(value, tuple) else value
                for key, value in page.data.items()}
        response = client.post(page.url, data, **headers)
    else:
        response = client.get(page.url, **headers)
    assert response.status_code in (200, 404, 422), (page.name, response.status_code)
    return response.content.decode()


@pytest.fixture
def showcase(crew, admin_user, price):
    return build_showcase(manager=crew.manager, member=crew.member, admin=admin_user,
                          team=crew.team)


def test_it_shows_no_english_on_any_page_in_chinese(showcase):
    people = {"member": showcase.member, "manager": showcase.manager,
              "admin": showcase.admin, "anonymous": None, "loner": showcase.loner}
    data = user_data()
    leftovers = {}
    for role, pages in showcase.pages.items():
        client = _client(people[role])
        for page in pages:
            html = _fetch(client, page)
            assert 'lang="zh-hans"' in html or page.htmx, page.name
            typed = [value for value in page.data.values() if isinstance(value, str)]
            words = english_left(html, data + typed) + half_width_colons(html)
            if words:
                leftovers[f"{role}: {page.name}"] = sorted(set(words))
    # Pages shown once, after an action: a new token, an upload's report, the error pages.
    client = _client(showcase.member)
    client.post("/accounts/tokens/create/", {"name": "koi-sync"})
    client.post(f"/projects/{showcase.project.id}/references/upload/",
                {"files": [SimpleUploadedFile("koi-empty.png", b"")]})
    data = [*user_data(), "koi-empty.png", "koi-sync"]
    for name, html in (
        ("new token", _fetch(client, _get("/accounts/tokens/"))),
        ("upload report", _fetch(client, _get(f"/projects/{showcase.project.id}/"))),
        ("500", _render("500.html")),
        ("locked out", _render("registration/locked_out.html", {"minutes": 15})),
        ("403", _render_page("403.html", showcase.member)),
        ("403: form expired", _render_page("403_csrf.html", showcase.member)),
    ):
        new = _token_plaintexts(html)
        words = english_left(html, data + new)
        if words:
            leftovers[name] = sorted(set(words))
    assert not leftovers, "English on Chinese pages:\n" + json.dumps(
        leftovers, ensure_ascii=False, indent=1)


def _get(url: str):
    from tests.showcase import Page

    return Page(url, url)


def _render(template: str, context: dict | None = None) -> str:
    with translation.override("zh-hans"):
        return render_to_string(template, context or {})


def _render_page(template: str, user: User) -> str:
    """A page Django renders itself (403, CSRF failure), with the site's context."""
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    request.user = user
    request.membership = user.memberships.select_related("team").first()
    request.session = {}
    with translation.override("zh-hans"):
        return render_to_string(template, request=request)


def _token_plaintexts(html: str) -> list[str]:
    return re.findall(r'id="token-plaintext">([^<]+)<', html)


def test_it_cannot_mistake_a_missing_translation_for_user_data(showcase):
    """The words of the showcase's data are not words of GrokWeb's own English, so removing
    data from a page cannot remove an untranslated label with it."""
    shared = (data_words(user_data()) & ui_words()) - {word.lower() for word in ALLOWED}
    # Samplers ("DPM++ 2M Karras", "Euler a") are names that happen to hold two.
    assert shared <= {"m", "a"}, shared


def test_it_finds_english_in_a_page_that_has_some():
    html = ('<main><h1>项目</h1><p title="Open the record">打开</p>'
            '<button>Save</button><span>Koi pond</span><code>GrokWeb</code></main>')
    assert english_left(html, ["Koi pond"]) == ["Open", "the", "record", "Save"]

