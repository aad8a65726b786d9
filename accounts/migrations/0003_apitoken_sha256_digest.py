"""API tokens: store SHA-256 of the token instead of an HMAC keyed on DJANGO_SECRET_KEY, so
rotating the secret key no longer invalidates every token. Existing rows keep their HMAC,
marked `salted-hmac`, and are re-stored as SHA-256 the first time each token is used."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_console_audit_append_only"),
    ]

    operations = [
        migrations.RenameField(model_name="apitoken", old_name="token_hmac", new_name="token_digest"),
        # Rows that exist now were made with the HMAC.
        migrations.AddField(
            model_name="apitoken",
            name="digest_scheme",
            field=models.CharField(default="salted-hmac", editable=False, max_length=16,
                                   choices=[("sha256", "SHA-256"),
                                            ("salted-hmac", "HMAC keyed on DJANGO_SECRET_KEY (older tokens)")]),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="digest_scheme",
            field=models.CharField(default="sha256", editable=False, max_length=16,
                                   choices=[("sha256", "SHA-256"),
                                            ("salted-hmac", "HMAC keyed on DJANGO_SECRET_KEY (older tokens)")]),
        ),
    ]
