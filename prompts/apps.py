from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.crypto import register_encrypted_field


class PromptsConfig(AppConfig):
    name = "prompts"
    verbose_name = _("Prompts")

    def ready(self):
        # Webhook signing secrets are encrypted like gateway keys and move with them.
        register_encrypted_field("prompts.WebhookEndpoint", "secret_encrypted")
