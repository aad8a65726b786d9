import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")

app = Celery("grokweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set: a new PostgreSQL connection per job (~8 ms on loopback).
# settings.py sets it; this keeps Django's own rule instead (CONN_MAX_AGE, and a connection
# that saw an error is replaced), as a web request would.
@signals.task_prerun.connect
def _close_old_db_connections(**kwargs) -> None:
    close_old_connections()
