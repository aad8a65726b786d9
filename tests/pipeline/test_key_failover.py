from django.core import mail
from django.urls import reverse

from accounts.models import GatewayKey
from prompts.models import GatewayCall, GenerationJob
from prompts.pipeline.creation import JobSpec, batch_create
from prompts.pipeline.keys import gateway_key_add, gateway_key_verify
from tests.conftest import SIM_KEY, SIM_STANDBY_KEY, drain


def _jobs(crew, project, n):
    specs = [JobSpec(brief=f"A red fox number {i}") for i in range(n)]
    return list(batch_create(user=crew.member, project=project, specs=specs).jobs.order_by("id"))


def test_it_parks_jobs_on_a_refused_key_and_resumes_them_when_a_new_key_is_activated(
        simulator, crew, project, admin_client, admin_user):
    gateway_key_add(name="leaked", secret="sim-key-the-gateway-revoked", activate=True)
    jobs = _jobs(crew, project, 3)
    assert [drain(job.id) for job in jobs] == ["waiting"] * 3
    assert set(GenerationJob.objects.values_list("wait_reason", flat=True)) == {"key"}
    assert GatewayKey.objects.get(name="leaked").status == "failing"
    assert len(mail.outbox) == 1 and admin_user.email in mail.outbox[0].to
    page = admin_client.get(reverse("console")).content.decode()
    assert "The gateway refused the API key: jobs are waiting." in page

    admin_client.post(reverse("console_key_add"), {"name": "fresh", "secret": SIM_KEY})
    fresh = GatewayKey.objects.get(name="fresh")
    admin_client.post(reverse("console_key_activate", args=[fresh.id]))

    assert set(GenerationJob.objects.values_list("status", flat=True)) == {"queued"}
    assert [drain(job.id) for job in jobs] == ["succeeded"] * 3
    assert GenerationJob.objects.count() == 3  # the same jobs, not resubmitted copies
    assert GatewayCall.objects.filter(key=fresh, outcome="ok").count() == 3


def test_it_fails_over_to_a_verified_standby_key(simulator, active_key, crew, project):
    standby = gateway_key_add(name="standby", secret=SIM_STANDBY_KEY)
    assert gateway_key_verify(key=standby)[0]
    simulator.configure(keys=[SIM_STANDBY_KEY])  # the primary is revoked at the gateway
    (job,) = _jobs(crew, project, 1)
    assert drain(job.id) == "succeeded"
    calls = list(GatewayCall.objects.filter(job=job).order_by("attempt"))
    assert [(c.key_id, c.outcome) for c in calls] == [(active_key.id, "auth"),
                                                      (standby.id, "ok")]
    active_key.refresh_from_db()
    standby.refresh_from_db()
    assert (active_key.status, standby.status) == ("failing", "active")
    assert len(mail.outbox) == 0


def test_it_does_not_fail_over_to_an_unverified_standby(simulator, active_key, crew, project):
    gateway_key_add(name="standby", secret=SIM_STANDBY_KEY)
    simulator.configure(keys=[SIM_STANDBY_KEY])
    (job,) = _jobs(crew, project, 1)
    assert drain(job.id) == "waiting"
    assert GatewayKey.objects.get(name="standby").status == "standby"
