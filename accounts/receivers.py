"""Failed sign-ins and lock-outs land in the audit log (the receivers only call a service)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from accounts.access import client_ip
from accounts.services import login_failure_record


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    login_failure_record(username=str(credentials.get("username", "")),
                         ip_address=client_ip(request) if request else None,
                         locked_out=False)


@receiver(user_locked_out, dispatch_uid="accounts.audit_locked_out")
def audit_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    login_failure_record(username=username or "", ip_address=ip_address, locked_out=True)
