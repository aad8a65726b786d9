import secrets
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import GatewayKey, Membership, Team, User
from accounts.services import membership_set
from prompts.gateway.simulator import DEFAULT_LOG_TOKEN
from prompts.models import GatewayModel, HouseStyle, ModelPrice, Project
from prompts.models.pricing import EXAMPLE_PRICE_NOTE
from prompts.models.workspace import DEMO_PROJECT_DESCRIPTION
from prompts.pipeline.keys import (
    SIMULATOR_DEMO_KEY,
    gateway_key_add,
    gateway_key_bootstrap,
    gateway_key_is_demo,
)
from prompts.usage.reconciliation.source import log_source, log_source_set
from prompts.workspace.services.styles import StyleRules, style_create
from prompts.workspace.services.templates import template_create

DEMO_TEAM = "Demo Studio"
DEMO_PROJECT = "Demo"
LOGINS_FILE = settings.VAR_DIR / "demo-logins.txt"
USERS = [("admin", None), ("manager", Membership.Role.MANAGER), ("member", Membership.Role.MEMBER)]


class Command(BaseCommand):
    help = (
        'Create the demo team "Demo Studio" with users admin, manager and member. Safe to re-run.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", help="set this password for all three demo users")

    def handle(self, *args, password=None, **options):
        remembered = self._remembered_passwords()
        logins = {}
        with transaction.atomic():
            team, _ = Team.objects.get_or_create(name=DEMO_TEAM)
            for username, role in USERS:
                user, created = User.objects.get_or_create(username=username)
                chosen = password or (None if not created else secrets.token_urlsafe(9))
                if chosen is None and username not in remembered:
                    chosen = secrets.token_urlsafe(9)  # exists, but its password was never shown
                if chosen is not None:
                    user.set_password(chosen)
                if username == "admin":
                    user.is_staff = user.is_superuser = True
                user.save()
                membership_set(team=team, user=user, role=role or Membership.Role.MANAGER)
                logins[username] = chosen or remembered[username]
            project, _ = Project.objects.get_or_create(
                team=team,
                name=DEMO_PROJECT,
                defaults={"description": DEMO_PROJECT_DESCRIPTION},
            )
            GatewayModel.objects.get_or_create(name=settings.GATEWAY_MODEL)
            if not ModelPrice.objects.filter(model=settings.GATEWAY_MODEL).exists():
                ModelPrice.objects.create(
                    model=settings.GATEWAY_MODEL,
                    input_per_mtok=Decimal("2.000000"),
                    output_per_mtok=Decimal("8.000000"),
                    effective_from=timezone.now().replace(
                        month=1, day=1, hour=0, minute=0, second=0, microsecond=0
                    ),
                    is_example=True,
                    note=EXAMPLE_PRICE_NOTE,
                )
            self._studio(team)
        self._gateway_key()
        self._usage_log()
        self._remember(logins)
        self.stdout.write(self.style.SUCCESS(f'Demo team "{team.name}", project "{project.name}".'))
        self.stdout.write(f"Open {settings.SITE_URL}/ and log in as:")
        for username, _role in USERS:
            self.stdout.write(f"  {username:8} / {logins[username]}")

    def _studio(self, team: Team) -> None:
        """A house style and a template that uses it, so the studio has something to show;
        left alone once the team has a style. The project keeps no default style: plain
        briefs stay as the model writes them."""
        if HouseStyle.objects.filter(team=team).exists():
            return
        manager = User.objects.get(username="manager")
        style = style_create(team=team, user=manager, name="Demo catalogue", rules=StyleRules(
            negative_terms="watermark, logo, text, extra fingers",
            style_words="soft window light, clean background", width=832, height=1216,
            sampler="DPM++ 2M Karras", steps=28, checkpoint="sd_xl_base_1.0.safetensors"))
        template_create(team=team, user=manager, name="Product shot",
                        body="Studio photo of {product} on {surface}, {angle}",
                        task_type="balanced", style=style)

    def _gateway_key(self) -> None:
        """GATEWAY_API_KEY when it is set; the simulator's demo key only when the bundled
        simulator is the gateway (it is worthless anywhere else)."""
        if imported := gateway_key_bootstrap():
            self.stdout.write(f"Gateway key from GATEWAY_API_KEY: {imported.name} ({imported.masked}).")
        active = GatewayKey.objects.filter(status=GatewayKey.Status.ACTIVE).first()
        simulated = settings.GATEWAY_BASE_URL == settings.GATEWAY_SIMULATOR_URL
        if active is None and simulated and not GatewayKey.objects.filter(name="simulator").exists():
            gateway_key_add(name="simulator", secret=SIMULATOR_DEMO_KEY, activate=True)
        elif not simulated and (active is None or gateway_key_is_demo(active)):
            self.stdout.write(self.style.WARNING(
                f"No key for the gateway at {settings.GATEWAY_BASE_URL}: set GATEWAY_API_KEY, "
                "or add one in the admin console (Gateway keys). No job can succeed until then."))

    def _usage_log(self) -> None:
        """The bundled simulator keeps the gateway's usage log too: with it as the gateway,
        reconciliation reads its log at once (`gateway_reconcile --pull`, the nightly run)."""
        simulated = settings.GATEWAY_BASE_URL == settings.GATEWAY_SIMULATOR_URL
        if simulated and not log_source().configured:
            log_source_set(url="", token=DEFAULT_LOG_TOKEN, user_id="", actor=None)

    def _remembered_passwords(self) -> dict[str, str]:
        if not LOGINS_FILE.exists():
            return {}
        pairs = (line.split(" ", 1) for line in LOGINS_FILE.read_text().splitlines() if " " in line)
        return {name: pw for name, pw in pairs}

    def _remember(self, logins: dict[str, str]) -> None:
        LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
        LOGINS_FILE.write_text("".join(f"{name} {pw}\n" for name, pw in logins.items()))
        LOGINS_FILE.chmod(0o600)
