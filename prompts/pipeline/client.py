"""The gateway client a process uses: one pooled HTTP client, configured from settings."""

from functools import lru_cache

from django.conf import settings

from prompts.gateway.client import GatewayClient


@lru_cache(maxsize=1)
def gateway_client() -> GatewayClient:
    """One pooled client per process (a worker's threads share its connection pool)."""
    return GatewayClient(
        settings.GATEWAY_BASE_URL,
        model=settings.GATEWAY_MODEL,
        timeout_s=settings.GATEWAY_TIMEOUT_S,
        connect_timeout_s=settings.GATEWAY_CONNECT_TIMEOUT_S,
    )
