"""The new-batch form: briefs pasted one per line or a CSV, validated row by row."""

import csv
import io
import re
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from prompts.gateway.limits import TASK_PRESETS
from prompts.models import ReferenceImage, TaskType
from prompts.pipeline.creation import JobSpec
from prompts.workspace.forms import SubmittedOnceForm

BATCH_MAX_ROWS = 500
BATCH_CSV_MAX_BYTES = 2 * 1024 * 1024
CSV_COLUMNS = ("brief", "task_type", "temperature", "references")


def batch_rows_check(specs: list, errors: list) -> None:
    """The rows' own errors, else a batch too big: what every batch form refuses alike."""
    if errors:
        raise forms.ValidationError(errors)
    if len(specs) > BATCH_MAX_ROWS:
        raise forms.ValidationError(
            _("A batch can hold at most %(max)s briefs; this one has %(n)s.")
            % {"max": BATCH_MAX_ROWS, "n": len(specs)})


def csv_upload_text(upload) -> tuple[str, str | None]:
    """The text of an uploaded CSV, or a message saying why it cannot be read."""
    if upload.size > BATCH_CSV_MAX_BYTES:
        return "", _("The CSV file is larger than 2 MB.")
    raw = upload.read()
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        try:
            # Excel on a Chinese Windows saves CSV as GBK.
            return raw.decode("gb18030"), None
        except UnicodeDecodeError:
            return "", _("The CSV file is not UTF-8 or GBK text.")


class BatchForm(SubmittedOnceForm):
    """One brief per line (or paragraph) of pasted text, or a CSV with the columns
    brief, task_type, temperature, references (file names separated by ';')."""

    SPLIT_CHOICES = [("line", _("One brief per line")),
                     ("paragraph", _("One brief per paragraph (blank line between)"))]

    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    text = forms.CharField(label=_("Briefs"), required=False,
                           widget=forms.Textarea(attrs={"rows": 10}))
    split = forms.ChoiceField(label=_("Split the text"), choices=SPLIT_CHOICES, initial="line",
                              widget=forms.RadioSelect)
    csv_file = forms.FileField(label=_("…or a CSV file"), required=False,
                               widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices,
                                  initial=TaskType.BALANCED)
    references = forms.ModelMultipleChoiceField(
        label=_("References for every brief"), queryset=ReferenceImage.objects.none(),
        required=False, widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["references"].queryset = (
            project.references.filter(archived_at__isnull=True).order_by("-created_at"))
        self.source_rows: list[int] = []

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("csv_file") and data.get("text", "").strip():
            raise forms.ValidationError(_(
                "You pasted briefs and chose a CSV file: a batch is made from one of them. "
                "Empty the briefs box to use the CSV file, or clear the file to use the "
                "pasted briefs."), code="two_sources")
        if data.get("csv_file"):
            specs, rows, errors = self._from_csv(data["csv_file"], data)
        elif data.get("text", "").strip():
            specs, rows, errors = self._from_text(data["text"], data)
        else:
            raise forms.ValidationError(_("Paste some briefs or choose a CSV file."))
        batch_rows_check(specs, errors)
        data["specs"], self.source_rows = specs, rows
        return data

    def _from_text(self, text: str, data: dict):
        text = text.replace("\r\n", "\n")
        if data["split"] == "paragraph":
            chunks = [chunk.strip() for chunk in re.split(r"\n\s*\n", text)]
        else:
            chunks = [line.strip() for line in text.split("\n")]
        specs, rows = [], []
        for number, chunk in enumerate(chunks, start=1):
            if chunk:
                specs.append(JobSpec(brief=chunk, task_type=data["task_type"],
                                     references=list(data["references"])))
                rows.append(number)
        return specs, rows, []

    def _from_csv(self, upload, data: dict):
        text, problem = csv_upload_text(upload)
        if problem:
            return [], [], [problem]
        reader = csv.DictReader(io.StringIO(text))
        columns = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        if "brief" not in columns:
            return [], [], [_("The CSV file needs a header row with a “brief” column.")]
        reader.fieldnames = columns
        by_name = {ref.original_name: ref for ref in self.fields["references"].queryset}
        specs, rows, errors = [], [], []
        try:
            for line_number, row in enumerate(reader, start=2):
                spec, problems = self._csv_row(row, data, by_name)
                errors += [
                    _("Row %(row)s: %(problem)s") % {"row": line_number, "problem": problem}
                    for problem in problems
                ]
                if spec is not None:
                    specs.append(spec)
                    rows.append(line_number)
        except csv.Error as error:
            errors.append(_("The CSV file could not be read: %(error)s") % {"error": error})
        if not specs and not errors:
            errors.append(_("The CSV file has no briefs."))
        return specs, rows, errors

    def _csv_row(self, row: dict, data: dict, by_name: dict):
        if None in row:
            return None, [_("it has more cells than the header.")]
        if all(not (value or "").strip() for value in row.values()):
            return None, []
        problems = []
        brief = (row.get("brief") or "").strip()
        if not brief:
            problems.append(_("the brief is empty."))
        task_type = (row.get("task_type") or "").strip().lower() or data["task_type"]
        if task_type not in TASK_PRESETS:
            problems.append(_("task type “%(value)s” is not strict, balanced or creative.")
                            % {"value": task_type})
        temperature = None
        raw_temperature = (row.get("temperature") or "").strip()
        if raw_temperature:
            try:
                temperature = Decimal(raw_temperature)
            except ArithmeticError:
                temperature = None
            if temperature is None or not temperature.is_finite() or \
                    not Decimal(0) <= temperature <= Decimal(2):
                problems.append(_("temperature “%(value)s” is not a number from 0 to 2.")
                                % {"value": raw_temperature})
        references = list(data["references"])
        names = [name.strip() for name in (row.get("references") or "").split(";")]
        if any(names):
            references = []
            for name in filter(None, names):
                if name in by_name:
                    references.append(by_name[name])
                else:
                    problems.append(_("no reference called “%(name)s” in this project.")
                                    % {"name": name})
        if problems:
            return None, problems
        return JobSpec(brief=brief, task_type=task_type, temperature=temperature,
                       references=references), []
