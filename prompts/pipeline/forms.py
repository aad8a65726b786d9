"""The console's gateway key form: it validates, nothing more."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import GatewayKey


class GatewayKeyAddForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("A name to tell keys apart, such as the month it was issued."))
    # A password field: never echoed back into the page, never part of a URL.
    secret = forms.CharField(label=_("API key"), strip=True, max_length=500,
                             widget=forms.PasswordInput(render_value=False,
                                                        attrs={"autocomplete": "off"}))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if GatewayKey.objects.filter(name=name).exists():
            raise ValidationError(_("A key with this name exists already."))
        return name
