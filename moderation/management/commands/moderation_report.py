import json
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from moderation.models import ModerationAction, PolicyDecision, Report


class Command(BaseCommand):
    help = (
        "Counts per category and outcome over a period: prompts refused and flagged by the policy, "
        "reports by reason and what came of them, and moderator actions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="the last N days (default 7)")
        parser.add_argument("--since", help="start date YYYY-MM-DD (instead of --days)")
        parser.add_argument("--until", help="end date YYYY-MM-DD, inclusive (default today)")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print JSON instead of tables"
        )

    def handle(self, *args, days: int, since: str | None, until: str | None, as_json: bool, **options):
        start, end = self.period(days, since, until)
        report = collect(start, end)
        if as_json:
            self.stdout.write(dumps(report))
            return
        self.stdout.write(
            f"Moderation report {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({end.tzname()})"
        )
        self.table("Prompt policy", "category", report["policy"])
        self.table("Reports", "reason", report["reports"])
        self.table("Moderator actions", "action", {k: {"count": v} for k, v in report["actions"].items()})

    def period(self, days: int, since: str | None, until: str | None) -> tuple[datetime, datetime]:
        try:
            end = timezone.now()
            if until:
                end = timezone.make_aware(datetime.combine(datetime.strptime(until, "%Y-%m-%d"), time.max))
            start = end - timedelta(days=days)
            if since:
                start = timezone.make_aware(datetime.strptime(since, "%Y-%m-%d"))
        except ValueError as exc:
            raise CommandError(f"Dates are YYYY-MM-DD ({exc}).") from None
        if start >= end:
            raise CommandError("The period is empty: --since must be before --until.")
        return start, end

    def table(self, title: str, first: str, rows: dict[str, dict[str, int]]) -> None:
        self.stdout.write(f"\n{title}")
        if not rows:
            self.stdout.write("  (none)")
            return
        columns = sorted({column for counts in rows.values() for column in counts})
        width = max(len(first), *(len(name) for name in rows)) + 2
        self.stdout.write(
            "  " + first.ljust(width) + "".join(c.rjust(12) for c in columns) + "total".rjust(8)
        )
        for name, counts in sorted(rows.items()):
            cells = "".join(str(counts.get(c, 0)).rjust(12) for c in columns)
            self.stdout.write("  " + name.ljust(width) + cells + str(sum(counts.values())).rjust(8))


def collect(start: datetime, end: datetime) -> dict:
    """{"policy": {category: {outcome: n}}, "reports": {reason: {outcome or "open": n}},
    "actions": {action: n}} for rows created in [start, end]. Three grouped queries."""
    policy: dict[str, dict[str, int]] = {}
    decisions = PolicyDecision.objects.filter(created__range=(start, end))
    for row in decisions.values("category", "outcome").annotate(n=Count("id")):
        policy.setdefault(row["category"], {})[row["outcome"]] = row["n"]
    reports: dict[str, dict[str, int]] = {}
    filed = Report.objects.filter(created__range=(start, end))
    for row in filed.values("reason", "case__outcome").annotate(n=Count("id")):
        outcome = row["case__outcome"] or "open"
        reports.setdefault(row["reason"], {})[outcome] = row["n"]
    taken = ModerationAction.objects.filter(created__range=(start, end))
    actions = {row["action"]: row["n"] for row in taken.values("action").annotate(n=Count("id"))}
    return {"period": {"start": start.isoformat(), "end": end.isoformat()}, "policy": policy, "reports": reports,
            "actions": actions}  # fmt: skip


def dumps(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True)
