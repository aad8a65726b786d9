from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.crypto import rotate_secret
from accounts.models import GatewayKey


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS "
        "(MultiFernet.rotate). Run it after prepending a new key; afterwards the old key can be "
        "removed from FIELD_ENCRYPTION_KEYS. Safe to run again."
    )

    def handle(self, *args, **options):
        # Every encrypted column in the project; add new ones here.
        rotated = 0
        with transaction.atomic():
            for key in GatewayKey.objects.select_for_update().only("id", "secret_encrypted"):
                GatewayKey.objects.filter(pk=key.pk).update(
                    secret_encrypted=rotate_secret(key.secret_encrypted))
                rotated += 1
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {rotated} gateway key(s) under the first FIELD_ENCRYPTION_KEYS key."))
