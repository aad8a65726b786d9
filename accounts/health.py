import logging

from django.conf import settings
from django.db import connection
from kombu import Connection

from accounts.models import GatewayKey

logger = logging.getLogger(__name__)


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means unhealthy; the reason goes to the log
        logger.warning("health: database unreachable: %s", exc)
        return "unreachable"


def check_broker() -> str:
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("health: broker unreachable: %s", exc)
        return "unreachable"


def check_gateway_key() -> str:
    try:
        if GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).exists():
            return "ok"
        return "missing"
    except Exception as exc:
        logger.warning("health: gateway key check failed: %s", exc)
        return "unknown"


def health_checks() -> dict[str, str]:
    return {
        "database": check_database(),
        "broker": check_broker(),
        "gateway_key": check_gateway_key(),
    }
