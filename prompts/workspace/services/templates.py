"""Brief templates: `{variables}` parsed and filled in, and the team's templates kept.

The syntax is Python's str.format without its extras: `{name}` is a variable (letters,
digits and `_`, Chinese included), `{{` and `}}` are literal braces. The scanner is one
left-to-right pass; values are inserted as they are, never read as template text.
"""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from accounts.services import audit_record
from grokweb.refusals import Refusal
from prompts.models import BriefTemplate, HouseStyle

MAX_VARIABLES = 20
MAX_VARIABLE_NAME = 40
MAX_VALUE_CHARS = 2_000


class TemplateRefused(Refusal):
    """A template that cannot be saved, or values that cannot fill it."""


def _pieces(body: str) -> list[tuple[str, str]]:
    """[("text", …) | ("var", name)] for the body; TemplateRefused names the first fault."""
    pieces: list[tuple[str, str]] = []
    text: list[str] = []
    index, length = 0, len(body)
    while index < length:
        char = body[index]
        if char == "{" and body.startswith("{{", index):
            text.append("{")
            index += 2
        elif char == "}" and body.startswith("}}", index):
            text.append("}")
            index += 2
        elif char == "{":
            end = body.find("}", index + 1)
            opened = body.find("{", index + 1)
            if end == -1 or (opened != -1 and opened < end):
                raise TemplateRefused("unclosed_brace", _(
                    "A “{” is never closed. Write {{ for a literal brace."), field="body")
            name = body[index + 1:end]
            if not _is_name(name):
                raise TemplateRefused("bad_variable", _(
                    "“{%(name)s}” is not a variable name: use letters, digits and _ "
                    "(no spaces). Write {{ for a literal brace.") % {"name": name}, field="body")
            if text:
                pieces.append(("text", "".join(text)))
                text = []
            pieces.append(("var", name))
            index = end + 1
        elif char == "}":
            raise TemplateRefused("stray_brace", _(
                "A “}” closes nothing. Write }} for a literal brace."), field="body")
        else:
            text.append(char)
            index += 1
    if text:
        pieces.append(("text", "".join(text)))
    return pieces


def _is_name(name: str) -> bool:
    return 0 < len(name) <= MAX_VARIABLE_NAME and all(c.isalnum() or c == "_" for c in name)


def template_variables(body: str) -> list[str]:
    """The variable names in order of first use. Raises TemplateRefused for a bad body."""
    names: list[str] = []
    for kind, value in _pieces(body):
        if kind == "var" and value not in names:
            names.append(value)
    if len(names) > MAX_VARIABLES:
        raise TemplateRefused("too_many_variables", _(
            "A template can have at most %(max)s variables.") % {"max": MAX_VARIABLES},
            field="body")
    return names


def template_render(body: str, values: Mapping[str, str]) -> str:
    """The brief: every variable replaced by its value. A variable with no value (missing
    or blank) is refused by name."""
    parts = []
    for kind, value in _pieces(body):
        if kind == "text":
            parts.append(value)
            continue
        filled = (values.get(value) or "").strip()
        if not filled:
            raise TemplateRefused("missing_variable", _(
                "The variable “%(name)s” has no value.") % {"name": value}, field=value)
        if len(filled) > MAX_VALUE_CHARS:
            raise TemplateRefused("value_too_long", _(
                "The value of “%(name)s” is longer than %(max)s characters.")
                % {"name": value, "max": MAX_VALUE_CHARS}, field=value)
        parts.append(filled)
    return "".join(parts)


def _check_style(team: Team, style: HouseStyle | None) -> None:
    if style is not None and (style.team_id != team.pk or style.archived_at is not None):
        raise TemplateRefused("style_unavailable", _("Choose one of this team's house styles."),
                              field="style")


def _snapshot(template: BriefTemplate) -> dict:
    return {"name": template.name, "body": template.body, "task_type": template.task_type,
            "style": template.style_id}


def template_create(*, team: Team, user: User, name: str, body: str, task_type: str,
                    style: HouseStyle | None = None, ip_address: str | None = None
                    ) -> BriefTemplate:
    _check_style(team, style)
    template = BriefTemplate(team=team, created_by=user, name=name.strip(), body=body.strip(),
                             task_type=task_type, style=style)
    template.variables = template_variables(template.body)
    _save(template, name)
    audit_record(actor=user, action="template.create", target=template,
                 after=_snapshot(template), ip_address=ip_address)
    return template


def template_update(*, template: BriefTemplate, user: User, name: str, body: str,
                    task_type: str, style: HouseStyle | None = None,
                    ip_address: str | None = None) -> BriefTemplate:
    """Records made earlier keep the brief and values they were made with."""
    _check_style(template.team, style)
    before = _snapshot(template)
    template.name, template.body = name.strip(), body.strip()
    template.task_type, template.style = task_type, style
    template.variables = template_variables(template.body)
    _save(template, name)
    audit_record(actor=user, action="template.update", target=template, before=before,
                 after=_snapshot(template), ip_address=ip_address)
    return template


def _save(template: BriefTemplate, name: str) -> None:
    taken = BriefTemplate.objects.filter(team_id=template.team_id, name=template.name) \
        .exclude(pk=template.pk).exists()
    if taken:
        raise TemplateRefused("name_taken", _("The team already has a template called "
                                              "“%(name)s”.") % {"name": name}, field="name")
    if not template.variables:
        subject = _("subject")
        raise TemplateRefused("no_variables", _(
            "A template needs at least one variable in braces, like %(example)s.")
            % {"example": f"{{{subject}}}"}, field="body")
    template.full_clean(exclude=["team", "created_by", "style"], validate_constraints=False)
    template.save()


@transaction.atomic
def template_archive(*, template: BriefTemplate, user: User, archived: bool = True,
                     ip_address: str | None = None) -> BriefTemplate:
    """Archived templates leave the lists; records made from them keep pointing at them."""
    if (template.archived_at is not None) != archived:
        template.archived_at = timezone.now() if archived else None
        template.save(update_fields=["archived_at"])
        audit_record(actor=user, action="template.archive" if archived else "template.restore",
                     target=template, ip_address=ip_address)
    return template
