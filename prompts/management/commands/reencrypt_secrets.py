from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.crypto import rotate_secret
from accounts.models import GatewayKey
from prompts.models import GatewayLogSource


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (the gateway keys and the gateway's log token) under "
        "the first key of FIELD_ENCRYPTION_KEYS (MultiFernet.rotate). Run it after prepending "
        "a new key; afterwards the old key can be removed from FIELD_ENCRYPTION_KEYS. Safe to "
        "run again."
    )

    def handle(self, *args, **options):
        # Every encrypted column in the project; add new ones here.
        keys = tokens = 0
        with transaction.atomic():
            for key in GatewayKey.objects.select_for_update().only("id", "secret_encrypted"):
                GatewayKey.objects.filter(pk=key.pk).update(
                    secret_encrypted=rotate_secret(key.secret_encrypted))
                keys += 1
            for source in GatewayLogSource.objects.select_for_update().exclude(
                    token_encrypted=""):
                GatewayLogSource.objects.filter(pk=source.pk).update(
                    token_encrypted=rotate_secret(source.token_encrypted))
                tokens += 1
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {keys} gateway key(s) and {tokens} log token(s) under the first "
            "FIELD_ENCRYPTION_KEYS key."))
