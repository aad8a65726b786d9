"""Forms of the admin console: they validate, nothing more."""

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Team, User


class TeamCreateForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=100)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Team.objects.filter(name=name).exists():
            raise ValidationError(_("A team with this name exists already."))
        return name


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    email = forms.EmailField(label=_("E-mail"), required=False)
    password = forms.CharField(
        label=_("Password"), required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to send an invitation: the user chooses a password from a "
                    "link in the e-mail."))
    is_staff = forms.BooleanField(label=_("Site admin"), required=False)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This username is taken."))
        return username

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not data.get("password") and not data.get("email"):
            raise ValidationError(_("Give a password, or an e-mail address to send the "
                                    "invitation to."))
        if data.get("password"):
            candidate = User(username=data["username"], email=data.get("email", ""),
                             is_staff=data.get("is_staff", False))
            try:
                validate_password(data["password"], candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return data


class MembershipSetForm(forms.Form):
    user = forms.ModelChoiceField(label=_("User"), queryset=User.objects.filter(is_active=True)
                                  .order_by("username"), to_field_name="username")
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.order_by("name"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
