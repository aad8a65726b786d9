"""No secret in the database, in any log line or in an error report."""

import io
import logging
import sys

from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from accounts.logging import REDACTED, redact
from accounts.models import GatewayKey
from accounts.services import api_token_create
from prompts.models import ReconciliationRun
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add, gateway_key_verify
from tests.conftest import ADMIN_PASSWORD, PASSWORD, SIM_KEY, SIM_STANDBY_KEY, drain

UNSEEN_KEY = "sk-live-0123456789abcdefghij"  # key-shaped, never registered anywhere
LOG_TOKEN = "gateway-log-access-0f1e2d3c4b5a"  # the gateway's usage log token


def _dump() -> str:
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            lines.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(lines)


def _work_with_failures(simulator, crew, project, admin_client):
    admin_client.post(reverse("console_key_add"), {"name": "primary", "secret": SIM_KEY})
    primary = GatewayKey.objects.get(name="primary")
    admin_client.post(reverse("console_key_activate", args=[primary.id]))
    admin_client.post(reverse("console_key_add"), {"name": "spare", "secret": SIM_STANDBY_KEY})
    wrong = gateway_key_add(name="wrong", secret="sim-wrong-key-for-the-leak-test")
    gateway_key_verify(key=wrong)
    token = api_token_create(user=crew.member, name="ci")[1]
    simulator.script([{"status": 500}, {"status": 401}, {"status": 429,
                                                          "headers": {"Retry-After": "0"}}])
    specs = [JobSpec(brief=f"brief {i}") for i in range(3)]
    for job in batch_create(user=crew.member, project=project, specs=specs).jobs.all():
        drain(job.id)
    # The usage log's token, set on the Reconciliation page and used for a pull.
    simulator.configure(log_token=LOG_TOKEN)
    admin_client.post(reverse("reconciliation_source"), {"url": "", "token": LOG_TOKEN})
    today = timezone.localdate()
    call_command("gateway_reconcile", "--since", str(today), "--until", str(today), "--pull",
                 stdout=io.StringIO())
    assert ReconciliationRun.objects.latest("id").matched == 3  # the token was used
    return token


def test_it_keeps_every_secret_out_of_a_full_database_dump(simulator, crew, project,
                                                           admin_client):
    token = _work_with_failures(simulator, crew, project, admin_client)
    dump = _dump()
    assert "accounts_gatewaykey" in dump or connection.vendor != "sqlite"
    for secret in (SIM_KEY, SIM_STANDBY_KEY, "sim-wrong-key-for-the-leak-test", token,
                   token[3:], ADMIN_PASSWORD, PASSWORD, LOG_TOKEN):
        assert secret not in dump, secret


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        self.lines.append(self.format(record))


def test_it_keeps_every_secret_out_of_every_logger(simulator, crew, project, admin_client):
    capture = _Capture()
    # All loggers, including those that do not propagate to the root.
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    quiet = logging.getLogger("thirdparty.quiet")
    quiet.propagate = False
    loggers.append(quiet)
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    try:
        token = _work_with_failures(simulator, crew, project, admin_client)
        logging.getLogger("prompts").warning("calling with %s", SIM_KEY)
        logging.getLogger("prompts").warning(f"Authorization: Bearer {token}")
        quiet.error("header %(h)s", {"h": f"Bearer {SIM_STANDBY_KEY}"})
        quiet.info("leaked %s", UNSEEN_KEY)
        try:
            raise RuntimeError(f"gateway refused {SIM_KEY}", SIM_STANDBY_KEY)
        except RuntimeError:
            logging.getLogger("celery.worker").exception("task failed")
    finally:
        for logger, level in saved:
            logger.removeHandler(capture)
            logger.setLevel(level)
        quiet.propagate = True
    text = "\n".join(capture.lines)
    assert "task failed" in text and "RuntimeError" in text and REDACTED in text
    assert "HTTP" in text or "job" in text  # the run did log things
    for secret in (SIM_KEY, SIM_STANDBY_KEY, "sim-wrong-key-for-the-leak-test", token,
                   UNSEEN_KEY, LOG_TOKEN):
        assert secret not in text, secret


def test_it_redacts_key_shaped_strings_and_known_secrets():
    assert redact("key sk-abcdefgh12345 ok") == f"key {REDACTED} ok"
    assert "abc.def-123456" not in redact("Authorization: Bearer abc.def-123456")
    assert redact('{"api_key": "zz-123456789"}') == '{"api_key": "' + REDACTED + '"}'
    assert redact("prompt_tokens=1234 max_tokens: 1024") == "prompt_tokens=1234 max_tokens: 1024"


def test_it_redacts_secrets_from_error_reports(active_key, rf):
    def call_gateway(secret):
        raise ValueError("refused")

    try:
        call_gateway(SIM_KEY)
    except ValueError:
        request = rf.post("/console/keys/add/", {"name": "x", "secret": SIM_STANDBY_KEY})
        report = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    assert "call_gateway" in report
    assert SIM_KEY not in report and SIM_STANDBY_KEY not in report
