"""Password rules beyond Django's defaults: site admins hold the keys, so theirs are stronger."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CHARACTER_CLASSES = [re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"),
                     re.compile(r"[^A-Za-z0-9]")]


class AdminStrongPasswordValidator:
    """With ADMIN_STRONG_PASSWORDS on, a site admin's password needs ADMIN_PASSWORD_MIN_LENGTH
    characters and three of: lower case, upper case, digits, symbols."""

    def validate(self, password: str, user=None) -> None:
        if not (settings.ADMIN_STRONG_PASSWORDS and user is not None and user.is_staff):
            return
        classes = sum(1 for pattern in CHARACTER_CLASSES if pattern.search(password))
        if len(password) < settings.ADMIN_PASSWORD_MIN_LENGTH or classes < 3:
            raise ValidationError(
                _("Site admins need a strong password: at least %(length)s characters with "
                  "three of lower case, upper case, digits and symbols.")
                % {"length": settings.ADMIN_PASSWORD_MIN_LENGTH},
                code="admin_password_weak",
            )

    def get_help_text(self) -> str:
        return _("Site admins need at least %(length)s characters with three of lower case, "
                 "upper case, digits and symbols.") % {"length": settings.ADMIN_PASSWORD_MIN_LENGTH}
