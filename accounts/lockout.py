"""Sign-in lock-out thresholds for django-axes (AXES_HANDLER).

Axes counts failures per parameter set (AXES_LOCKOUT_PARAMETERS: account and address
together, then the address alone) but compares them all with one limit. An address that
tries many accounts deserves a higher threshold than one account tried from one address,
so the address alone locks only at AXES_ADDRESS_FAILURE_LIMIT.
"""

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


class AccountAndAddressHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        """Failures as axes compares them with AXES_FAILURE_LIMIT: those of this account from
        this address, or the limit itself once the address alone reached its own limit."""
        account_at_address, address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if address >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            return max(account_at_address, settings.AXES_FAILURE_LIMIT)
        return account_at_address
