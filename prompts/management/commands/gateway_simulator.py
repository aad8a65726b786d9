import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from prompts.gateway.simulator import (
    DEFAULT_LOG_TOKEN,
    MODERATION_STYLES,
    SimulatorConfig,
    start_simulator,
)


class Command(BaseCommand):
    help = "Run the bundled OpenAI-compatible gateway simulator in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument(
            "--keys", default="", help="comma-separated accepted keys; empty accepts any key"
        )
        parser.add_argument("--rpm", type=int, default=0, help="requests per minute; 0 is no limit")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--fault-rate", type=float, default=0.0, help="0 to 1")
        parser.add_argument("--moderation-style", choices=MODERATION_STYLES, default="http400")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--insufficient-quota", action="store_true", help="answer every chat request with 402"
        )
        parser.add_argument(
            "--log-token",
            default=DEFAULT_LOG_TOKEN,
            help="access token for the usage log, GET /api/log/self",
        )
        parser.add_argument(
            "--log-file",
            default="",
            help="keep the usage log in this JSONL file as well: loaded at start, appended "
            "to, so a restarted simulator still serves what it billed before",
        )

    def handle(self, *args, **options):
        try:
            config = SimulatorConfig(
                keys=[key.strip() for key in options["keys"].split(",") if key.strip()],
                rpm=options["rpm"],
                latency_ms=options["latency_ms"],
                fault_rate=options["fault_rate"],
                moderation_style=options["moderation_style"],
                seed=options["seed"],
                insufficient_quota=options["insufficient_quota"],
                log_token=options["log_token"],
                log_file=options["log_file"],
            )
            simulator = start_simulator(config, host=options["host"], port=options["port"])
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc

        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        self.stdout.write(f"Gateway simulator listening on {simulator.base_url}", ending="\n")
        self.stdout.flush()
        stopping.wait()
        simulator.stop()
        self.stdout.write("Gateway simulator stopped.")
