"""Forms for the workspace. They validate input only; services do the work."""

import secrets
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from prompts.gateway.kept_settings import (
    NEGATIVE_MAX_CHARS,
    SAMPLER_MAX_CHARS,
    SEED_MAX,
    KeptSettings,
    brief_with_kept_settings,
    kept_settings_clean,
    split_kept_settings,
)
from prompts.gateway.limits import DEFAULT_MAX_TOKENS
from prompts.gateway.spec import (
    CFG_MAX,
    CFG_MIN,
    DIMENSION_MAX,
    DIMENSION_MIN,
    STEPS_MAX,
    STEPS_MIN,
)
from prompts.models import GenerationJob, HouseStyle, PromptRecord, ReferenceImage, TaskType
from prompts.pipeline.creation import JobSpec
from prompts.workspace.selectors.jobs import JobFilters
from prompts.workspace.selectors.library import LibraryFilters


def team_styles(team_id: int):
    """The house styles a form offers: the team's, not archived."""
    return HouseStyle.objects.filter(team_id=team_id, archived_at__isnull=True).order_by("name")


def style_version_of(style: HouseStyle | None):
    """A chosen style's current version: what the job records and the worker sends."""
    return style.current_version() if style is not None else None


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files from one <input multiple>; each is checked by the reference service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        """The chosen files, good or bad: each is checked on its own by the reference
        service, so one empty or broken file does not turn the others away."""
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return files


class _ConsentFields(forms.Form):
    shows_person = forms.BooleanField(label=_("Shows a real person"), required=False)
    consent = forms.BooleanField(
        label=_("I hold the rights to this image and the consent of the person shown"),
        required=False,
    )


class ReferenceUploadForm(_ConsentFields):
    files = MultipleImageField(label=_("Images (JPEG, PNG or WebP)"))


class ReferenceUrlForm(_ConsentFields):
    # A CharField, not a URLField: the fetcher explains what is wrong with a link
    # (http, a private address…) better than "Enter a valid URL".
    url = forms.CharField(label=_("Image link (https://…)"), max_length=2000)


def _new_submission_token() -> str:
    return secrets.token_urlsafe(16)


class SubmissionTokenField(forms.CharField):
    """A one-time token rendered into a job-creating form (a new one on every render): the
    form's repeats — a double click, back and resubmit — carry the same token, and the
    creation service answers them with the first job instead of a second one. When Back
    loads the form again from the server (with a new token), static/js/app.js puts back the
    token the form was sent with."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False, max_length=64, widget=forms.HiddenInput,
            initial=_new_submission_token,
            validators=[RegexValidator(r"^[A-Za-z0-9_-]{16,64}$",
                                       _("This form is out of date. Reload the page."))],
            **kwargs)


class SubmittedOnceForm(forms.Form):
    submission_token = SubmissionTokenField()

    def submission_key(self, kind: str) -> str:
        """The key the creation service remembers; empty (no deduplication) for a request
        made without the form, e.g. a script's POST."""
        token = self.cleaned_data.get("submission_token", "")
        return f"form:{kind}:{token}" if token else ""


class GenerateForm(SubmittedOnceForm):
    brief = forms.CharField(label=_("Brief"), widget=forms.Textarea(attrs={"rows": 6}))
    references = forms.ModelMultipleChoiceField(
        label=_("References"), queryset=ReferenceImage.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices,
                                  initial=TaskType.BALANCED, widget=forms.RadioSelect)
    temperature = forms.DecimalField(
        label=_("Temperature"), required=False, min_value=Decimal(0), max_value=Decimal(2),
        decimal_places=2, help_text=_("Empty: the task type's preset."),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    max_tokens = forms.IntegerField(label=_("Max tokens"), required=False, min_value=1,
                                    max_value=32768)
    style = forms.ModelChoiceField(label=_("House style"), queryset=HouseStyle.objects.none(),
                                   required=False, empty_label=_("No house style"))
    # "Keep these settings": what the model is asked to keep and the record will hold
    # (prompts.gateway.kept_settings), e.g. from a generator's PNG. All optional.
    keep_negative_prompt = forms.CharField(
        label=_("Negative prompt"), required=False, max_length=NEGATIVE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}))
    keep_steps = forms.IntegerField(label=_("Steps"), required=False, min_value=STEPS_MIN,
                                    max_value=STEPS_MAX)
    keep_sampler = forms.CharField(label=_("Sampler"), required=False,
                                   max_length=SAMPLER_MAX_CHARS)
    keep_cfg_scale = forms.DecimalField(label=_("CFG scale"), required=False,
                                        min_value=Decimal(str(CFG_MIN)),
                                        max_value=Decimal(str(CFG_MAX)), decimal_places=1,
                                        widget=forms.NumberInput(attrs={"step": "0.5"}))
    keep_seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0,
                                   max_value=SEED_MAX)
    keep_width = forms.IntegerField(label=_("Width"), required=False, min_value=DIMENSION_MIN,
                                    max_value=DIMENSION_MAX)
    keep_height = forms.IntegerField(label=_("Height"), required=False,
                                     min_value=DIMENSION_MIN, max_value=DIMENSION_MAX)
    KEEP_FIELDS = ("keep_negative_prompt", "keep_steps", "keep_sampler", "keep_cfg_scale",
                   "keep_seed", "keep_width", "keep_height")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["max_tokens"].help_text = _("Empty: %(n)s.") % {"n": DEFAULT_MAX_TOKENS}
        self.fields["references"].queryset = (
            project.references.filter(archived_at__isnull=True).order_by("-created_at"))
        self.fields["style"].queryset = team_styles(project.team_id)
        self.fields["style"].initial = self.initial.get("style", project.default_style_id)

    @classmethod
    def initial_from_brief(cls, brief: str) -> dict:
        """A stored brief back into the form: its own text, and its kept settings in the
        "Keep these settings" fields."""
        text, kept = split_kept_settings(brief)
        initial = {"brief": text}
        for name in ("negative_prompt", "steps", "sampler", "cfg_scale", "seed", "width",
                     "height"):
            value = getattr(kept, name)
            if value not in (None, ""):
                initial[f"keep_{name}"] = value
        return initial

    @property
    def keeps_settings(self) -> bool:
        return any(self[name].value() not in (None, "") for name in self.KEEP_FIELDS)

    def clean(self):
        data = super().clean()
        if bool(data.get("keep_width")) != bool(data.get("keep_height")):
            self.add_error("keep_width", _("Give both width and height, or neither."))
        return data

    def kept_settings(self) -> KeptSettings:
        data = self.cleaned_data
        return kept_settings_clean(**{
            name: data.get(f"keep_{name}") for name in (
                "negative_prompt", "steps", "sampler", "cfg_scale", "seed", "width", "height")})

    def job_spec(self) -> JobSpec:
        """The job asked for; after a failed is_valid() (the live estimate), what there is."""
        data = self.cleaned_data
        return JobSpec(
            brief=brief_with_kept_settings(data.get("brief", ""), self.kept_settings()),
            task_type=data.get("task_type") or TaskType.BALANCED,
            temperature=data.get("temperature"), max_tokens=data.get("max_tokens"),
            references=list(data.get("references") or []),
            style_version=style_version_of(data.get("style")), use_project_style=False,
        )


class LibraryFilterForm(forms.Form):
    STATUS_CHOICES = [("", _("Any")), ("ok", _("Complete")), ("needs_review", _("Needs review"))]

    q = forms.CharField(label=_("Search"), required=False,
                        widget=forms.TextInput(attrs={"type": "search"}))
    project = forms.TypedChoiceField(label=_("Project"), required=False, coerce=int,
                                     empty_value=None)
    author = forms.TypedChoiceField(label=_("Author"), required=False, coerce=int,
                                    empty_value=None)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    tag = forms.TypedChoiceField(label=_("Tag"), required=False, coerce=int, empty_value=None)
    favourites = forms.BooleanField(label=_("My favourites"), required=False)
    date_from = forms.DateField(label=_("From"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    template = forms.TypedChoiceField(label=_("Template"), required=False, coerce=int,
                                      empty_value=None)
    review = forms.ChoiceField(label=_("Review"), required=False,
                               choices=[("", _("Any"))] + PromptRecord.Review.choices)

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        anything = [("", _("Any"))]
        self.fields["project"].choices = anything + choices["projects"]
        self.fields["author"].choices = anything + choices["authors"]
        self.fields["tag"].choices = anything + choices["tags"]
        self.fields["template"].choices = anything + choices["templates"]

    def filters(self) -> LibraryFilters:
        if not self.is_valid():
            return LibraryFilters()
        data = self.cleaned_data
        return LibraryFilters(
            q=data["q"].strip(), project_id=data["project"], author_id=data["author"],
            status=data["status"], favourites=data["favourites"], tag_id=data["tag"],
            date_from=data["date_from"], date_to=data["date_to"],
            template_id=data["template"], review=data["review"],
        )


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any"))] + GenerationJob.Status.choices)
    mine = forms.BooleanField(label=_("My jobs only"), required=False)
    project = forms.TypedChoiceField(label=_("Project"), required=False, coerce=int,
                                     empty_value=None)

    def __init__(self, query, *, projects: list[tuple[int, str]]):
        # An unticked checkbox sends nothing, so "my jobs only" is on until the filters are
        # submitted; a page link alone (?page=2) keeps the defaults.
        submitted = any(key != "page" for key in query)
        super().__init__(query if submitted else None, initial={"mine": True})
        self.fields["project"].choices = [("", _("Any"))] + projects

    def filters(self) -> JobFilters:
        if not self.is_bound or not self.is_valid():
            return JobFilters()
        data = self.cleaned_data
        return JobFilters(status=data["status"], mine=data["mine"], project_id=data["project"])


class TagsForm(forms.Form):
    tags = forms.CharField(label=_("Tags"), required=False, max_length=1000,
                           help_text=_("Separate tags with commas."))

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data["tags"].replace("，", ",")
        return [name.strip() for name in raw.split(",") if name.strip()]


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(label=_("Rating"), coerce=int,
                                   choices=[("", "–")] + [(n, "★" * n) for n in range(1, 6)])


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 3}))
