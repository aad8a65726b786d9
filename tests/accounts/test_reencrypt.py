import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from accounts.crypto import decrypt_secret
from accounts.models import GatewayKey
from prompts.pipeline.keys import gateway_key_active, gateway_key_add

SECRETS = {"primary": "sk-primary-secret-000111", "spare": "sk-spare-secret-222333"}


def test_it_moves_every_secret_to_a_new_fernet_key_and_the_old_one_can_go(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    for name, secret in SECRETS.items():
        gateway_key_add(name=name, secret=secret, activate=name == "primary")
    before = dict(GatewayKey.objects.values_list("name", "secret_encrypted"))

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # step 1: prepend the new key
    for key in GatewayKey.objects.all():
        assert decrypt_secret(key.secret_encrypted) == SECRETS[key.name]
    call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))  # step 2
    after = dict(GatewayKey.objects.values_list("name", "secret_encrypted"))
    assert all(after[name] != before[name] for name in SECRETS)

    settings.FIELD_ENCRYPTION_KEYS = [new]  # step 3: remove the old key
    for key in GatewayKey.objects.all():
        assert decrypt_secret(key.secret_encrypted) == SECRETS[key.name]
    assert gateway_key_active().secret == SECRETS["primary"]


def test_it_shows_why_the_old_key_must_stay_until_the_secrets_are_reencrypted(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    gateway_key_add(name="primary", secret=SECRETS["primary"])
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(InvalidToken):
        decrypt_secret(GatewayKey.objects.get().secret_encrypted)
