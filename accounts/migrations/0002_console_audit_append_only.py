"""The audit log is append-only in the database too (PostgreSQL): a trigger refuses UPDATE
and DELETE. The one update allowed is the actor becoming NULL when a user is deleted
(on_delete=SET_NULL); TRUNCATE (test flushes) is not a row operation and passes."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.action, NEW.target_type, NEW.target_id, NEW.target_repr,
            NEW.ip_address, NEW.before::text, NEW.after::text, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.action, OLD.target_type, OLD.target_id, OLD.target_repr,
            OLD.ip_address, OLD.before::text, OLD.after::text, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
CREATE TRIGGER accounts_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
