"""The audit log in words: each event as a sentence in the reader's language ("admin
activated gateway key primary-2026-12"), and its recorded fields with readable names and
values. The stored codes (`gateway_key.activate`, `target_type`) stay the stable record;
the CSV export keeps them.
"""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AuditEvent, GatewayKey, Membership

# Whole sentences per action (word order differs in Chinese). %(actor)s is who did it,
# %(target)s the object's name; some use a value recorded with the event.
ACTIONS = {
    "gateway_key.add": gettext_lazy("%(actor)s added gateway key %(target)s"),
    "gateway_key.verify": gettext_lazy("%(actor)s verified gateway key %(target)s"),
    "gateway_key.activate": gettext_lazy("%(actor)s activated gateway key %(target)s"),
    "gateway_key.retire": gettext_lazy("Gateway key %(target)s started retiring: attempts "
                                       "already under way may finish with it"),
    "gateway_key.failing": gettext_lazy("The gateway refused gateway key %(target)s"),
    "gateway_key.revoke": gettext_lazy("%(actor)s revoked gateway key %(target)s"),
    "gateway_key.standby": gettext_lazy("%(actor)s put gateway key %(target)s on standby"),
    "dispatch.resume": gettext_lazy("%(actor)s resumed dispatch after the gateway balance was "
                                    "topped up"),
    "team.create": gettext_lazy("%(actor)s created the team %(target)s"),
    "membership.set": gettext_lazy("%(actor)s made %(user)s %(role)s of %(team)s"),
    "membership.remove": gettext_lazy("%(actor)s removed %(user)s from %(team)s"),
    "user.create": gettext_lazy("%(actor)s created the user %(target)s"),
    "user.activate": gettext_lazy("%(actor)s reactivated the user %(target)s"),
    "user.deactivate": gettext_lazy("%(actor)s deactivated the user %(target)s"),
    "user.staff": gettext_lazy("%(actor)s changed the site admin rights of %(target)s"),
    "api_token.create": gettext_lazy("%(actor)s created the API token %(target)s"),
    "api_token.revoke": gettext_lazy("%(actor)s revoked the API token %(target)s"),
    "auth.login_failed": gettext_lazy("A sign-in as %(username)s failed"),
    "auth.locked_out": gettext_lazy("%(username)s was locked out after repeated wrong "
                                    "passwords"),
    "auth.lockouts_cleared": gettext_lazy("%(actor)s cleared all sign-in lock-outs"),
    "budget.set": gettext_lazy("%(actor)s set a monthly budget for %(user)s in %(team)s"),
    "budget.remove": gettext_lazy("%(actor)s removed the monthly budget of %(user)s in "
                                  "%(team)s"),
    "budget.set.team": gettext_lazy("%(actor)s set the monthly budget of the whole team "
                                    "%(team)s"),
    "budget.remove.team": gettext_lazy("%(actor)s removed the monthly budget of the whole "
                                       "team %(team)s"),
    "price.set": gettext_lazy("%(actor)s added a price for %(model)s"),
    "calls.reprice": gettext_lazy("%(actor)s re-priced recorded calls of %(model)s"),
    "reference.archive": gettext_lazy("%(actor)s removed the reference image %(target)s from "
                                      "its project"),
    "moderation_hold.release": gettext_lazy("%(actor)s released the moderation hold on "
                                            "%(user)s"),
    # The studio.
    "template.create": gettext_lazy("%(actor)s created the brief template %(target)s"),
    "template.update": gettext_lazy("%(actor)s changed the brief template %(target)s"),
    "template.archive": gettext_lazy("%(actor)s archived the brief template %(target)s"),
    "template.restore": gettext_lazy("%(actor)s restored the brief template %(target)s"),
    "style.create": gettext_lazy("%(actor)s created the house style %(target)s"),
    "style.version": gettext_lazy("%(actor)s saved version %(number)s of the house style "
                                  "%(target)s"),
    "style.archive": gettext_lazy("%(actor)s archived the house style %(target)s"),
    "style.restore": gettext_lazy("%(actor)s restored the house style %(target)s"),
    "project.default_style": gettext_lazy("%(actor)s changed the default house style of the "
                                          "project %(target)s"),
    "record.edit": gettext_lazy("%(actor)s edited record #%(id)s"),
    "record.review.submit": gettext_lazy("%(actor)s submitted record #%(id)s for review"),
    "record.review.approve": gettext_lazy("%(actor)s approved record #%(id)s"),
    "record.review.request_changes": gettext_lazy("%(actor)s requested changes to record "
                                                  "#%(id)s"),
    "record.review.withdraw": gettext_lazy("%(actor)s withdrew record #%(id)s from review"),
    "reviewer.add": gettext_lazy("%(actor)s made %(user)s a reviewer in %(team)s"),
    "reviewer.remove": gettext_lazy("%(actor)s removed %(user)s from the reviewers of "
                                    "%(team)s"),
    "share_link.create": gettext_lazy("%(actor)s created a share link"),
    "share_link.revoke": gettext_lazy("%(actor)s revoked a share link"),
    "webhook.create": gettext_lazy("%(actor)s added the webhook %(url)s"),
    "webhook.update": gettext_lazy("%(actor)s changed the webhook %(url)s"),
    "webhook.delete": gettext_lazy("%(actor)s deleted the webhook %(url)s"),
    "webhook.rotate_secret": gettext_lazy("%(actor)s gave the webhook %(url)s a new signing "
                                          "secret"),
    "webhook.test": gettext_lazy("%(actor)s sent a test event to the webhook %(url)s"),
}
VERIFY_OUTCOMES = {True: gettext_lazy("the gateway accepted it"),
                   False: gettext_lazy("the gateway refused it")}

FIELDS = {
    "name": gettext_lazy("name"),
    "masked": gettext_lazy("key"),
    "fingerprint": gettext_lazy("fingerprint"),
    "status": gettext_lazy("status"),
    "accepted": gettext_lazy("accepted"),
    "detail": gettext_lazy("the gateway said"),
    "error": gettext_lazy("error"),
    "team": gettext_lazy("team"),
    "user": gettext_lazy("user"),
    "role": gettext_lazy("role"),
    "username": gettext_lazy("username"),
    "email": gettext_lazy("e-mail"),
    "is_active": gettext_lazy("can sign in"),
    "is_staff": gettext_lazy("site admin"),
    "invited": gettext_lazy("invited by e-mail"),
    "prefix": gettext_lazy("token prefix"),
    "monthly_limit": gettext_lazy("monthly limit"),
    "warn_at": gettext_lazy("warn at"),
    "model": gettext_lazy("model"),
    "input_per_mtok": gettext_lazy("¥ per 1M input tokens"),
    "output_per_mtok": gettext_lazy("¥ per 1M output tokens"),
    "effective_from": gettext_lazy("effective from"),
    "note": gettext_lazy("note"),
    "project": gettext_lazy("project"),
    "attempts": gettext_lazy("cleared attempts"),
    "resumed_jobs": gettext_lazy("jobs sent again"),
    "since": gettext_lazy("from"),
    "until": gettext_lazy("to"),
    "calls": gettext_lazy("calls"),
    "changed": gettext_lazy("calls re-priced"),
    "cost": gettext_lazy("cost (¥)"),
    "unpriced_calls": gettext_lazy("unpriced calls"),
    "usd_input_per_mtok": gettext_lazy("US$ per 1M input tokens"),
    "usd_output_per_mtok": gettext_lazy("US$ per 1M output tokens"),
    "usd_rate": gettext_lazy("¥ per US$"),
    "usd_rate_date": gettext_lazy("exchange rate of"),
    "paused": gettext_lazy("was paused"),
    "body": gettext_lazy("text"),
    "task_type": gettext_lazy("task type"),
    "style": gettext_lazy("house style"),
    "number": gettext_lazy("version"),
    "negative_terms": gettext_lazy("negative terms"),
    "style_words": gettext_lazy("style words"),
    "size": gettext_lazy("size"),
    "aspect": gettext_lazy("aspect ratio"),
    "sampler": gettext_lazy("sampler"),
    "steps": gettext_lazy("steps"),
    "cfg_scale": gettext_lazy("CFG scale"),
    "checkpoint": gettext_lazy("checkpoint"),
    "review": gettext_lazy("review"),
    "comment": gettext_lazy("comment"),
    "record": gettext_lazy("record"),
    "label": gettext_lazy("label"),
    "expires_at": gettext_lazy("expires"),
    "url": gettext_lazy("address"),
    "events": gettext_lazy("events"),
    "description": gettext_lazy("description"),
    "positive_prompt": gettext_lazy("positive prompt"),
    "negative_prompt": gettext_lazy("negative prompt"),
    "width": gettext_lazy("width"),
    "height": gettext_lazy("height"),
    "seed": gettext_lazy("seed"),
}
# Where a field means something else in one kind of event.
FIELDS_BY_KIND = {
    "webhook": {"is_active": gettext_lazy("active")},
}
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
VALUE_LABELS = {
    "status": dict(GatewayKey.Status.choices),
    "role": dict(Membership.Role.choices),
    # The prompts app's codes (accounts does not import it): the same words, translated once.
    "task_type": {"strict": gettext_lazy("Strict reference matching"),
                  "balanced": gettext_lazy("Balanced"),
                  "creative": gettext_lazy("Creative exploration")},
    "review": {"draft": gettext_lazy("Draft"), "pending": gettext_lazy("In review"),
               "changes_requested": gettext_lazy("Changes requested"),
               "approved": gettext_lazy("Approved")},
    "events": {"job.succeeded": gettext_lazy("A job succeeded"),
               "job.failed": gettext_lazy("A job failed or was rejected"),
               "record.approved": gettext_lazy("A record was approved"),
               "budget.warning": gettext_lazy("A budget reached its warning level")},
}


def _values(event: AuditEvent) -> dict:
    """What the event recorded, the newer state first."""
    return {**(event.before or {}), **(event.after or {})}


def _target_name(event: AuditEvent, values: dict) -> str:
    return str(values.get("name") or event.target_repr or event.target_id or "")


def audit_sentence(event: AuditEvent) -> str:
    values = _values(event)
    actor = event.actor.username if event.actor else _("GrokWeb")
    action = event.action
    if action.startswith("budget.") and not values.get("user"):
        action += ".team"  # a team's own budget, not a member's
    template = ACTIONS.get(action)
    if template is None:
        # An action added later and not described here yet: its code, never nothing.
        return f"{actor}: {event.action} {event.target_repr}".strip()
    role = VALUE_LABELS["role"].get(values.get("role"), values.get("role", ""))
    sentence = str(template) % {
        "actor": actor, "target": _target_name(event, values), "user": values.get("user", ""),
        "team": values.get("team", ""), "role": str(role).lower(),
        "username": values.get("username", ""), "model": values.get("model", ""),
        "id": event.target_id, "url": values.get("url", ""), "number": values.get("number", ""),
    }
    if event.action == "gateway_key.verify" and "accepted" in values:
        sentence += _(": %(outcome)s") % {"outcome": VERIFY_OUTCOMES[bool(values["accepted"])]}
    return sentence


def audit_value(field: str, value) -> str:
    """A recorded value for people: labels for codes, yes/no, ¥ and percentages."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list) and field in VALUE_LABELS:
        return ", ".join(str(VALUE_LABELS[field].get(item, item)) for item in value)
    if field in VALUE_LABELS and isinstance(value, str) and value in VALUE_LABELS[field]:
        return str(VALUE_LABELS[field][value])
    if field in ("monthly_limit", "input_per_mtok", "output_per_mtok"):
        return f"¥{value}"
    if field == "warn_at":
        try:
            return f"{(Decimal(str(value)) * 100).normalize():f}%"
        except InvalidOperation:
            return str(value)
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.strftime("%Y-%m-%d %H:%M")
    if field == "size" and isinstance(value, str):
        return value.replace("x", "×")
    if isinstance(value, list | dict):
        return ", ".join(str(item) for item in value) if isinstance(value, list) else \
            ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)


def audit_field(name: str, action: str = "") -> str:
    special = FIELDS_BY_KIND.get(action.split(".", 1)[0], {})
    return str(special.get(name) or FIELDS.get(name, name.replace("_", " ")))


def audit_action_label(action: str) -> str:
    """An action code as the filter lists it ("Gateway key activated")."""
    return str(ACTION_LABELS.get(action, action))


ACTION_LABELS = {
    "gateway_key.add": gettext_lazy("Gateway key added"),
    "gateway_key.verify": gettext_lazy("Gateway key verified"),
    "gateway_key.activate": gettext_lazy("Gateway key activated"),
    "gateway_key.retire": gettext_lazy("Gateway key retiring"),
    "gateway_key.failing": gettext_lazy("Gateway key refused by the gateway"),
    "gateway_key.revoke": gettext_lazy("Gateway key revoked"),
    "gateway_key.standby": gettext_lazy("Gateway key put on standby"),
    "dispatch.resume": gettext_lazy("Dispatch resumed"),
    "team.create": gettext_lazy("Team created"),
    "membership.set": gettext_lazy("Role set"),
    "membership.remove": gettext_lazy("Removed from a team"),
    "user.create": gettext_lazy("User created"),
    "user.activate": gettext_lazy("User reactivated"),
    "user.deactivate": gettext_lazy("User deactivated"),
    "user.staff": gettext_lazy("Site admin rights changed"),
    "api_token.create": gettext_lazy("API token created"),
    "api_token.revoke": gettext_lazy("API token revoked"),
    "auth.login_failed": gettext_lazy("Failed sign-in"),
    "auth.locked_out": gettext_lazy("Sign-in locked out"),
    "auth.lockouts_cleared": gettext_lazy("Lock-outs cleared"),
    "budget.set": gettext_lazy("Budget set"),
    "budget.remove": gettext_lazy("Budget removed"),
    "price.set": gettext_lazy("Price added"),
    "calls.reprice": gettext_lazy("Calls re-priced"),
    "reference.archive": gettext_lazy("Reference image removed"),
    "moderation_hold.release": gettext_lazy("Moderation hold released"),
    "template.create": gettext_lazy("Brief template created"),
    "template.update": gettext_lazy("Brief template changed"),
    "template.archive": gettext_lazy("Brief template archived"),
    "template.restore": gettext_lazy("Brief template restored"),
    "style.create": gettext_lazy("House style created"),
    "style.version": gettext_lazy("House style version saved"),
    "style.archive": gettext_lazy("House style archived"),
    "style.restore": gettext_lazy("House style restored"),
    "project.default_style": gettext_lazy("Default house style changed"),
    "record.edit": gettext_lazy("Record edited"),
    "record.review.submit": gettext_lazy("Record submitted for review"),
    "record.review.approve": gettext_lazy("Record approved"),
    "record.review.request_changes": gettext_lazy("Changes requested on a record"),
    "record.review.withdraw": gettext_lazy("Record withdrawn from review"),
    "reviewer.add": gettext_lazy("Reviewer named"),
    "reviewer.remove": gettext_lazy("Reviewer removed"),
    "share_link.create": gettext_lazy("Share link created"),
    "share_link.revoke": gettext_lazy("Share link revoked"),
    "webhook.create": gettext_lazy("Webhook added"),
    "webhook.update": gettext_lazy("Webhook changed"),
    "webhook.delete": gettext_lazy("Webhook deleted"),
    "webhook.rotate_secret": gettext_lazy("Webhook secret replaced"),
    "webhook.test": gettext_lazy("Webhook test sent"),
}
