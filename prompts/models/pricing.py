"""What the gateway serves and what it costs: enabled models and the price book."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class GatewayModel(models.Model):
    """A model name the gateway serves that admins have enabled; the default is GATEWAY_MODEL."""

    name = models.CharField(_("model"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway model")
        verbose_name_plural = _("gateway models")

    def __str__(self) -> str:
        return self.name

# Written by seed_demo on its example price; shown translated (ModelPrice.shown_note).
EXAMPLE_PRICE_NOTE = gettext_noop(
    "EXAMPLE price for the demo - replace it with your gateway's price.")


class ModelPrice(models.Model):
    """¥ per million tokens for a model from a moment on. Rows are never edited, only added."""

    model = models.CharField(_("model"), max_length=100)
    input_per_mtok = models.DecimalField(
        _("¥ per 1M input tokens"), max_digits=14, decimal_places=6
    )
    output_per_mtok = models.DecimalField(
        _("¥ per 1M output tokens"), max_digits=14, decimal_places=6
    )
    effective_from = models.DateTimeField(_("effective from"))
    # When the price was entered in USD: the USD figures and the rate that converted them.
    usd_input_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    usd_output_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    usd_rate = models.DecimalField(
        _("USD→¥ rate"), max_digits=10, decimal_places=4, null=True, blank=True
    )
    usd_rate_date = models.DateField(null=True, blank=True)
    is_example = models.BooleanField(_("example price"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-effective_from"]
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_from"], name="modelprice_unique_model_from"
            ),
            models.CheckConstraint(
                condition=Q(input_per_mtok__gte=0) & Q(output_per_mtok__gte=0),
                name="modelprice_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from:%Y-%m-%d}"

    @property
    def shown_note(self) -> str:
        """The note; the demo's example-price note (seed_demo) in the reader's language."""
        return gettext(EXAMPLE_PRICE_NOTE) if self.note == EXAMPLE_PRICE_NOTE else self.note
