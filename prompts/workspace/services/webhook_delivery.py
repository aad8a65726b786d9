"""Delivering webhook events: fan each outbox event out to its endpoints, post it signed,
retry with backoff a bounded number of times, and sweep up what a lost worker left.

As saleor does: one attempt row per try (status code, duration, the start of the answer);
a 4xx other than 408 and 429 is never retried; the wait before try n+1 is
WEBHOOK_BACKOFF_BASE_S * 2**(n-1); after WEBHOOK_MAX_ATTEMPTS the delivery has failed.
Tasks take ids; every step claims its row with a conditional update, so a second copy of a
message finds nothing to do.
"""

import json
import logging
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.crypto import decrypt_secret
from prompts.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)
from prompts.workspace.selectors.webhooks import event_data, event_envelope
from prompts.workspace.services import webhooks
from prompts.workspace.url_fetch import UrlRefused, post_to_url

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
Outcome = WebhookDeliveryAttempt.Outcome
DELIVER_TASK = "prompts.tasks.deliver_webhook"
RETRIED_STATUSES = (408, 429)
# Refusals of the URL itself: the same URL is refused again, so they are not retried.
PERMANENT_REFUSALS = ("bad_scheme", "bad_url", "private_address")
EXCERPT_CHARS = 1000
USER_AGENT = "GrokWeb-Webhooks/1"


def _send(delivery_ids: list[int], countdown: float | None = None) -> None:
    try:
        for delivery_id in delivery_ids:
            current_app.send_task(DELIVER_TASK, args=(delivery_id,), countdown=countdown)
    except Exception:
        logger.exception("broker unreachable: webhook deliveries left for the sweep")


def deliveries_enqueue(delivery_ids: list[int], countdown: float | None = None) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: _send(list(delivery_ids), countdown))


def event_body(event: WebhookEvent) -> bytes:
    """The bytes every attempt of every delivery of the event sends (and signs)."""
    return json.dumps(event.payload, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


# Fan-out ----------------------------------------------------------------------------------

def _subscribers(event: WebhookEvent) -> list[WebhookEndpoint]:
    if event.endpoint_id is not None:
        return [event.endpoint]
    endpoints = WebhookEndpoint.objects.filter(team_id=event.team_id, is_active=True)
    return [endpoint for endpoint in endpoints if event.kind in (endpoint.events or [])]


def webhook_event_fan_out(event_id: int) -> int:
    """Seal the event's body and create one delivery per endpoint that wants it; send them
    once this commits. Returns how many deliveries; 0 if another worker had the event."""
    with transaction.atomic():
        now = timezone.now()
        if not WebhookEvent.objects.filter(pk=event_id, fanned_out_at__isnull=True) \
                .update(fanned_out_at=now):
            return 0
        event = WebhookEvent.objects.select_related("team", "endpoint").get(pk=event_id)
        event.payload = event_envelope(event, event_data(event))
        event.save(update_fields=["payload"])
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=now)
             for endpoint in _subscribers(event)])
        ids = list(WebhookDelivery.objects.filter(event=event).values_list("id", flat=True))
        deliveries_enqueue(ids)
    return len(deliveries)


def webhook_events_fan_out(*, limit: int = 500) -> int:
    """Every event not fanned out yet, oldest first."""
    pending = WebhookEvent.objects.filter(fanned_out_at__isnull=True) \
        .order_by("id").values_list("id", flat=True)[:limit]
    return sum(webhook_event_fan_out(event_id) for event_id in list(pending))


# One attempt ------------------------------------------------------------------------------

def backoff_s(attempt: int) -> float:
    return settings.WEBHOOK_BACKOFF_BASE_S * 2 ** (attempt - 1)


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    return bool(WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=delivery_id, status=Status.PENDING, attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,
    ).update(status=Status.SENDING, attempts=F("attempts") + 1,
             lease_until=now + timedelta(seconds=3 * settings.WEBHOOK_TIMEOUT_S + 30)))


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str, bool]:
    """(status code, answer excerpt, error, retry?) for one signed POST."""
    endpoint, event = delivery.endpoint, delivery.event
    body = event_body(event)
    secret = decrypt_secret(endpoint.secret_encrypted)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GrokWeb-Event": event.kind,
        "X-GrokWeb-Delivery": str(delivery.pk),
        webhooks.SIGNATURE_HEADER: webhooks.signature_header(secret, int(time.time()), body),
    }
    try:
        answer = post_to_url(endpoint.url, body=body, headers=headers,
                             timeout_s=settings.WEBHOOK_TIMEOUT_S, policy=webhooks.url_policy())
    except UrlRefused as refused:
        return None, "", str(refused.message), refused.code not in PERMANENT_REFUSALS
    retry = answer.status >= 500 or answer.status in RETRIED_STATUSES
    return answer.status, answer.excerpt[:EXCERPT_CHARS], "", retry


def webhook_deliver(delivery_id: int) -> str | None:
    """One attempt of one delivery. Returns the delivery's new status, or None when this
    message had nothing to do (taken, finished, not due: a duplicate)."""
    if not _claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    number, started = delivery.attempts, timezone.now()
    attempt = WebhookDeliveryAttempt.objects.create(delivery=delivery, number=number,
                                                    started_at=started)
    clock = time.monotonic()
    if not delivery.endpoint.is_active:
        code, excerpt, error, retry = None, "", "The endpoint was switched off.", False
    else:
        code, excerpt, error, retry = _post(delivery)
    duration_ms = int((time.monotonic() - clock) * 1000)
    ok = code is not None and 200 <= code < 300
    again = not ok and retry and number < settings.WEBHOOK_MAX_ATTEMPTS
    outcome = Outcome.OK if ok else Outcome.RETRY if again else Outcome.GAVE_UP
    with transaction.atomic():
        WebhookDeliveryAttempt.objects.filter(pk=attempt.pk).update(
            duration_ms=duration_ms, status_code=code, response_excerpt=excerpt,
            error=error[:300], outcome=outcome)
        status = Status.SUCCEEDED if ok else Status.PENDING if again else Status.FAILED
        delay = backoff_s(number) if again else None
        finished = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, attempts=number).update(
            status=status, lease_until=None, last_status_code=code,
            next_attempt_at=timezone.now() + timedelta(seconds=delay) if again else None,
            finished_at=None if again else timezone.now())
        if finished and again:
            deliveries_enqueue([delivery.pk], countdown=delay)
    logger.info("webhook delivery %s attempt %s: %s %s", delivery.pk, number, code or error,
                outcome)
    return status


# The sweep --------------------------------------------------------------------------------

def webhooks_sweep() -> dict[str, int]:
    """Run by beat: events nobody fanned out, deliveries whose worker died or whose message
    went missing, and the log past WEBHOOK_RETENTION_DAYS."""
    now = timezone.now()
    fanned = webhook_events_fan_out()
    stale = WebhookDelivery.objects.filter(status=Status.SENDING, lease_until__lt=now)
    stale_ids = list(stale.values_list("id", flat=True))
    WebhookDeliveryAttempt.objects.filter(delivery_id__in=stale_ids,
                                          outcome=Outcome.IN_FLIGHT).update(
        outcome=Outcome.RETRY, error="The worker stopped during this attempt.")
    WebhookDelivery.objects.filter(pk__in=stale_ids, status=Status.SENDING,
                                   attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS).update(
        status=Status.FAILED, lease_until=None, finished_at=now)
    revived = WebhookDelivery.objects.filter(pk__in=stale_ids, status=Status.SENDING,
                                             lease_until__lt=now).update(
        status=Status.PENDING, lease_until=None, next_attempt_at=now)
    # A pending delivery well past its time lost its message (a broker restart, say).
    overdue = list(WebhookDelivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lt=now - timedelta(
            seconds=settings.SWEEP_INTERVAL_S)).values_list("id", flat=True)[:1000])
    _send(overdue + stale_ids)
    cutoff = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    pruned, _detail = WebhookEvent.objects.filter(created_at__lt=cutoff,
                                                  fanned_out_at__isnull=False).delete()
    return {"fanned_out": fanned, "revived": revived, "resent": len(overdue), "pruned": pruned}
