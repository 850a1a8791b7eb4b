import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from api.actions import delete_expired_videos
from api.webhooks import retry_due_deliveries
from generation.jobs import requeue_lost_generations, sweep_stuck_generations


class Command(BaseCommand):
    help = (
        "Fail generations whose worker died mid-job (no heartbeat) and re-enqueue queued ones that "
        "Redis lost, retry webhook deliveries and delete expired videos. --loop keeps sweeping."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="sweep forever")
        parser.add_argument("--interval", type=float, default=15.0, help="seconds between sweeps with --loop")

    def handle(self, *args, loop: bool, interval: float, **options):
        while True:
            failed = sweep_stuck_generations()
            requeued = requeue_lost_generations()
            # The API's share of the sweep: webhook retries and expired videos (VIDEO_RETENTION_DAYS).
            retried = retry_due_deliveries()
            expired = delete_expired_videos()
            if retried or expired or options["verbosity"] > 1:
                self.stdout.write(
                    f"enqueued {retried} webhook deliveries, deleted {expired} expired video(s)"
                )
            if failed or requeued or options["verbosity"] > 1:
                self.stdout.write(f"failed {failed} stuck generation(s), re-enqueued {requeued} lost one(s)")
            if not loop:
                return
            close_old_connections()
            time.sleep(interval)
