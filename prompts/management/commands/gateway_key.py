import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.models import GatewayKey
from prompts.pipeline.keys import (
    gateway_key_activate,
    gateway_key_add,
    gateway_key_mark_standby,
    gateway_key_revoke,
    gateway_key_verify,
)


class Command(BaseCommand):
    help = (
        "Manage gateway API keys. The secret is read from standard input, never from the "
        "command line: printf '%s' \"$KEY\" | manage.py gateway_key add --name primary"
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="store a key (standby; active if none is)")
        add.add_argument("--name", required=True)
        add.add_argument("--no-verify", action="store_true", help="skip the check at the gateway")
        rotate = sub.add_parser("rotate", help="store, verify and activate a key; the old one retires")
        rotate.add_argument("--name", required=True)
        sub.add_parser("list", help="list keys, masked")
        revoke = sub.add_parser("revoke", help="stop using a key at once")
        revoke.add_argument("--name", required=True)
        activate = sub.add_parser("activate", help="activate a stored key")
        activate.add_argument("--name", required=True)
        verify = sub.add_parser("verify", help="ask the gateway whether it accepts a stored key")
        verify.add_argument("--name", required=True)
        standby = sub.add_parser("standby", help="keep a retiring, retired or failing key in reserve")
        standby.add_argument("--name", required=True)

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def _read_secret(self) -> str:
        if sys.stdin.isatty():
            self.stderr.write("Paste the key and press Enter (it is not echoed to the log):")
        secret = sys.stdin.readline().strip()
        if not secret:
            raise CommandError("No key on standard input.")
        return secret

    def _key(self, name: str) -> GatewayKey:
        try:
            return GatewayKey.objects.get(name=name)
        except GatewayKey.DoesNotExist:
            raise CommandError(f"No gateway key named {name!r}.") from None

    def _verify(self, key: GatewayKey) -> None:
        ok, detail = gateway_key_verify(key=key)
        if not ok:
            raise CommandError(f"The gateway refused key {key.name} ({key.masked}): {detail}")
        self.stdout.write(f"Verified {key.name} ({key.masked}) at the gateway: {detail}")

    def handle_add(self, *, name, no_verify=False, **options):
        secret = self._read_secret()
        try:
            key = gateway_key_add(name=name, secret=secret)
        except IntegrityError:
            raise CommandError(f"A key named {name!r} exists already.") from None
        if not no_verify:
            self._verify(key)
        if not GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
            gateway_key_activate(key=key)
        key.refresh_from_db()
        self.stdout.write(self.style.SUCCESS(f"Stored {key.name} ({key.masked}) as {key.status}."))

    def handle_rotate(self, *, name, **options):
        secret = self._read_secret()
        try:
            key = gateway_key_add(name=name, secret=secret)
        except IntegrityError:
            raise CommandError(f"A key named {name!r} exists already.") from None
        self._verify(key)
        gateway_key_activate(key=key)
        self.stdout.write(self.style.SUCCESS(
            f"{key.name} ({key.masked}) is active; the previous key is retiring."))

    def handle_activate(self, *, name, **options):
        key = self._key(name)
        self._verify(key)
        gateway_key_activate(key=key)
        self.stdout.write(self.style.SUCCESS(f"{key.name} ({key.masked}) is active."))

    def handle_verify(self, *, name, **options):
        self._verify(self._key(name))

    def handle_standby(self, *, name, **options):
        key = gateway_key_mark_standby(key=self._key(name))
        self.stdout.write(f"{key.name} ({key.masked}) is {key.status}.")

    def handle_revoke(self, *, name, **options):
        key = self._key(name)
        gateway_key_revoke(key=key)
        self.stdout.write(self.style.WARNING(f"{key.name} ({key.masked}) is revoked."))

    def handle_list(self, **options):
        rows = GatewayKey.objects.order_by("status", "name")
        if not rows:
            self.stdout.write("No gateway keys. Add one: manage.py gateway_key add --name NAME")
        for key in rows:
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(
                f"{key.name:20} {key.masked:14} {key.fingerprint}  {key.status:9} last used {used}"
            )
