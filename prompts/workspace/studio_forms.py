"""Forms of the studio: templates, house styles, review, share links, webhooks. They
validate input only; services do the work."""

import csv
import io
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from prompts.gateway.spec import (
    CFG_MAX,
    CFG_MIN,
    DIMENSION_MAX,
    DIMENSION_MIN,
    STEPS_MAX,
    STEPS_MIN,
)
from prompts.models import SUBSCRIBABLE_EVENTS, BriefTemplate, ReferenceImage, TaskType
from prompts.pipeline.creation import JobSpec
from prompts.workspace.batch_forms import batch_rows_check, csv_upload_text
from prompts.workspace.forms import SubmittedOnceForm, style_version_of, team_styles
from prompts.workspace.services.styles import StyleRules
from prompts.workspace.services.templates import TemplateRefused, template_render

SHARE_DAYS_DEFAULT = 7
SHARE_DAYS_MAX = 90
VARIABLE_PREFIX = "v_"


# Templates --------------------------------------------------------------------------------

class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    body = forms.CharField(label=_("Template"), max_length=20_000,
                           widget=forms.Textarea(attrs={"rows": 5}))
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices,
                                  initial=TaskType.BALANCED)
    style = forms.ModelChoiceField(label=_("House style"), queryset=None, required=False,
                                   empty_label=_("No house style"))

    def __init__(self, *args, team_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["style"].queryset = team_styles(team_id)
        subject, setting, lens = _("subject"), _("setting"), _("lens")
        example = _("Portrait of %(subject)s in %(setting)s, %(lens)s") % {
            "subject": f"{{{subject}}}", "setting": f"{{{setting}}}", "lens": f"{{{lens}}}"}
        self.fields["body"].help_text = _(
            "Write variables in braces, e.g. “%(example)s”. Each becomes a field, or a CSV "
            "column. Write {{ and }} for literal braces.") % {"example": example}


class _TemplateUseForm(SubmittedOnceForm):
    """What generating from a template asks besides the values: style, task type, references."""

    style = forms.ModelChoiceField(label=_("House style"), queryset=None, required=False,
                                   empty_label=_("No house style"))
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices,
                                  widget=forms.RadioSelect)
    references = forms.ModelMultipleChoiceField(
        label=_("References"), queryset=ReferenceImage.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, template: BriefTemplate, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.template, self.project = template, project
        self.fields["style"].queryset = team_styles(project.team_id)
        self.fields["style"].initial = template.style_id or project.default_style_id
        self.fields["task_type"].initial = template.task_type
        self.fields["references"].queryset = (
            project.references.filter(archived_at__isnull=True).order_by("-created_at"))

    def clean(self):
        data = super().clean()
        # Read once: every row of a batch gets the same version.
        self.style_version = style_version_of(data.get("style"))
        return data

    def _spec(self, values: dict) -> JobSpec:
        data = self.cleaned_data
        return JobSpec(brief=template_render(self.template.body, values),
                       task_type=data["task_type"], references=list(data["references"]),
                       style_version=self.style_version, use_project_style=False,
                       template=self.template, template_values=values)


class TemplateGenerateForm(_TemplateUseForm):
    """One field per variable of the template."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.template.variables:
            self.fields[VARIABLE_PREFIX + name] = forms.CharField(
                label=name, max_length=2_000, widget=forms.TextInput(
                    attrs={"data-variable": name}),
                error_messages={"required": _("The variable “%(name)s” has no value.")
                                % {"name": name}})

    def variable_fields(self):
        return [self[VARIABLE_PREFIX + name] for name in self.template.variables]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {name: data[VARIABLE_PREFIX + name].strip() for name in self.template.variables}
        try:
            data["spec"] = self._spec(values)
        except TemplateRefused as refused:
            self.add_error(VARIABLE_PREFIX + refused.field if refused.field in values else None,
                           refused.message)
        return data


class TemplateBatchForm(_TemplateUseForm):
    """A CSV whose header names the template's variables: one row, one job. Every row is
    checked before anything is created; errors name the CSV's row numbers."""

    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    csv_file = forms.FileField(label=_("CSV file"),
                               widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source_rows: list[int] = []

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        text, problem = csv_upload_text(data["csv_file"])
        if problem:
            raise forms.ValidationError(problem)
        specs, rows, errors = self._rows(text)
        batch_rows_check(specs, errors)
        data["specs"], self.source_rows = specs, rows
        return data

    def _rows(self, text: str):
        reader = csv.reader(io.StringIO(text))
        variables = self.template.variables
        try:
            header = [cell.strip() for cell in next(reader, [])]
            columns = {cell.casefold(): index for index, cell in reversed(list(enumerate(header)))}
            missing = [name for name in variables if name.casefold() not in columns]
            if missing:
                return [], [], [_("The CSV header must name every variable of the template. "
                                  "Missing: %(missing)s.") % {"missing": ", ".join(missing)}]
            where = {name: columns[name.casefold()] for name in variables}
            specs, rows, errors = [], [], []
            for line_number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                values = {name: (row[index] if index < len(row) else "").strip()
                          for name, index in where.items()}
                try:
                    specs.append(self._spec(values))
                    rows.append(line_number)
                except TemplateRefused as refused:
                    errors.append(_("Row %(row)s: %(problem)s")
                                  % {"row": line_number, "problem": refused.message})
        except csv.Error as error:
            return [], [], [_("The CSV file could not be read: %(error)s") % {"error": error}]
        if not specs and not errors:
            errors.append(_("The CSV file has no rows under its header."))
        return specs, rows, errors


# House styles -----------------------------------------------------------------------------

class StyleForm(forms.Form):
    """One version's rules. A size, or an aspect ratio, or neither."""

    negative_terms = forms.CharField(
        label=_("Negative terms always present"), required=False, max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separated by commas. Any the model leaves out are added to every record."))
    style_words = forms.CharField(
        label=_("Style words"), required=False, max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separated by commas. Sent to the model and added to the prompt if missing."))
    width = forms.IntegerField(label=_("Width"), required=False, min_value=DIMENSION_MIN,
                               max_value=DIMENSION_MAX, step_size=8)
    height = forms.IntegerField(label=_("Height"), required=False, min_value=DIMENSION_MIN,
                                max_value=DIMENSION_MAX, step_size=8)
    aspect = forms.RegexField(label=_("…or aspect ratio"), required=False, max_length=9,
                              regex=r"^\s*[1-9][0-9]{0,2}\s*:\s*[1-9][0-9]{0,2}\s*$",
                              help_text=_("Like 3:4. The record keeps its long side."),
                              error_messages={"invalid": _("Write an aspect ratio like 3:4.")})
    sampler = forms.CharField(label=_("Sampler"), required=False, max_length=60,
                              widget=forms.TextInput(attrs={"list": "sampler-names"}))
    steps = forms.IntegerField(label=_("Steps"), required=False, min_value=STEPS_MIN,
                               max_value=STEPS_MAX)
    cfg_scale = forms.DecimalField(label=_("CFG scale"), required=False, decimal_places=1,
                                   min_value=Decimal(str(CFG_MIN)), max_value=Decimal(str(CFG_MAX)))
    checkpoint = forms.CharField(
        label=_("Checkpoint for ComfyUI"), required=False, max_length=255,
        help_text=_("The model file the ComfyUI export and PNG cards load, e.g. "
                    "juggernautXL_v9.safetensors."))

    def clean(self):
        data = super().clean()
        width, height, aspect = data.get("width"), data.get("height"), data.get("aspect")
        if (width is None) != (height is None):
            raise forms.ValidationError(_("Give both width and height, or neither."))
        if width is not None and aspect:
            raise forms.ValidationError(_("Give a size or an aspect ratio, not both."))
        return data

    def rules(self) -> StyleRules:
        data = self.cleaned_data
        aspect_width = aspect_height = None
        if data.get("aspect"):
            left, right = data["aspect"].split(":")
            aspect_width, aspect_height = int(left), int(right)
        return StyleRules(
            negative_terms=data["negative_terms"], style_words=data["style_words"],
            width=data["width"], height=data["height"], aspect_width=aspect_width,
            aspect_height=aspect_height, sampler=data["sampler"], steps=data["steps"],
            cfg_scale=data["cfg_scale"], checkpoint=data["checkpoint"])


class StyleCreateForm(StyleForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, max_length=300)
    field_order = ["name", "description"]


class StyleVersionForm(StyleForm):
    note = forms.CharField(label=_("What changed"), required=False, max_length=300)


class ProjectStyleForm(forms.Form):
    style = forms.ModelChoiceField(label=_("Default house style"), queryset=None,
                                   required=False, empty_label=_("No house style"))

    def __init__(self, *args, team_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["style"].queryset = team_styles(team_id)


# Records: edits and review ------------------------------------------------------------------

class RecordEditForm(forms.Form):
    positive_prompt = forms.CharField(label=_("Positive prompt"), max_length=20_000,
                                      widget=forms.Textarea(attrs={"rows": 5}))
    negative_prompt = forms.CharField(label=_("Negative prompt"), required=False,
                                      max_length=20_000, widget=forms.Textarea(attrs={"rows": 3}))
    width = forms.IntegerField(label=_("Width"), required=False, min_value=DIMENSION_MIN,
                               max_value=DIMENSION_MAX)
    height = forms.IntegerField(label=_("Height"), required=False, min_value=DIMENSION_MIN,
                                max_value=DIMENSION_MAX)
    steps = forms.IntegerField(label=_("Steps"), required=False, min_value=STEPS_MIN,
                               max_value=STEPS_MAX)
    cfg_scale = forms.DecimalField(label=_("CFG scale"), required=False, decimal_places=1,
                                   min_value=Decimal(str(CFG_MIN)), max_value=Decimal(str(CFG_MAX)))
    sampler = forms.CharField(label=_("Sampler"), required=False, max_length=60)
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0,
                              max_value=2**63 - 1, help_text=_("Empty: random."))

    def clean(self):
        data = super().clean()
        if (data.get("width") is None) != (data.get("height") is None):
            raise forms.ValidationError(_("Give both width and height, or neither."))
        return data


class ReviewCommentForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class ReviewDecisionForm(ReviewCommentForm):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")),
                                          ("request_changes", _("Request changes"))])

    def clean(self):
        data = super().clean()
        if data.get("decision") == "request_changes" and not data.get("comment", "").strip():
            self.add_error("comment", _("Say what should change."))
        return data


class ReviewerForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Member"), coerce=int)

    def __init__(self, *args, members: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = members


# Share links ------------------------------------------------------------------------------

class ShareLinkForm(forms.Form):
    label = forms.CharField(label=_("Label"), required=False, max_length=120,
                            help_text=_("For you: who the link is for."))
    days = forms.IntegerField(label=_("Expires after (days)"), min_value=1,
                              max_value=SHARE_DAYS_MAX, initial=SHARE_DAYS_DEFAULT,
                              help_text=_("At most %(max)s days.") % {"max": SHARE_DAYS_MAX})


# Webhooks ---------------------------------------------------------------------------------

class WebhookEndpointForm(forms.Form):
    # A CharField: the SSRF guard explains a refused link better than "Enter a valid URL".
    url = forms.CharField(label=_("URL (https://…)"), max_length=2000)
    description = forms.CharField(label=_("Description"), required=False, max_length=200)
    events = forms.MultipleChoiceField(
        label=_("Events"), widget=forms.CheckboxSelectMultiple,
        choices=[(kind.value, kind.label) for kind in SUBSCRIBABLE_EVENTS])
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
