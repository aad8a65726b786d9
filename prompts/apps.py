from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.crypto import register_encrypted_field


class PromptsConfig(AppConfig):
    name = "prompts"
    verbose_name = _("Prompts")

    def ready(self):
        # Webhook signing secrets are encrypted like gateway keys and move with them.
        register_encrypted_field("prompts.WebhookEndpoint", "secret_encrypted")
        # So is the gateway's usage-log token set on the Reconciliation page.
        register_encrypted_field("prompts.GatewayLogSource", "token_encrypted")
