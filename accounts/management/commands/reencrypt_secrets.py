from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.crypto import ENCRYPTED_FIELDS, rotate_secret


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS "
        "(MultiFernet.rotate). Run it after prepending a new key; afterwards the old key can be "
        "removed from FIELD_ENCRYPTION_KEYS. Safe to run again."
    )

    def handle(self, *args, **options):
        # Every encrypted column in the project (accounts.crypto.ENCRYPTED_FIELDS).
        counts = []
        with transaction.atomic():
            for model_label, field in ENCRYPTED_FIELDS:
                model = apps.get_model(model_label)
                rotated = 0
                for row in model.objects.select_for_update().only("id", field):
                    model.objects.filter(pk=row.pk).update(
                        **{field: rotate_secret(getattr(row, field))})
                    rotated += 1
                counts.append(f"{rotated} {model._meta.verbose_name_plural}")
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {', '.join(counts)} under the first FIELD_ENCRYPTION_KEYS key."))
