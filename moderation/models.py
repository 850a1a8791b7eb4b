"""Moderation: the prompt policy's rules and decisions, reports and the cases that group them, the
moderator audit log, sanctions on accounts and the notices that tell people about outcomes."""

import re

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from moderation.normalise import normalise_pattern


class Category(models.TextChoices):
    """What a prompt was refused or flagged for; also the categories of policy rules."""

    MINORS = "minors", "Sexual content involving minors"
    SEXUAL = "sexual", "Sexual content"
    VIOLENCE = "violence", "Graphic violence"
    SELF_HARM = "self_harm", "Self-harm"
    HATE = "hate", "Hate"
    HARASSMENT = "harassment", "Harassment or degrading content"
    PUBLIC_FIGURE = "public_figure", "Real public figure without their cameo"
    CAMEO_RESTRICTION = "cameo_restriction", "The cameo owner's restrictions"
    TEEN = "teen", "Not available to teen accounts"


# Categories a PolicyRule row may have; the others come from PublicFigure rows and cameos.
RULE_CATEGORIES = [
    Category.MINORS, Category.SEXUAL, Category.VIOLENCE, Category.SELF_HARM, Category.HATE, Category.HARASSMENT,
    Category.TEEN,
]  # fmt: skip


class PolicyRuleQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class PolicyRule(models.Model):
    """One word, phrase or regular expression the prompt policy looks for.

    Words and phrases are matched whole-word against the normalised prompt (see
    moderation.normalise), so "ass" doesn't hit "class"; a word may end in `*` to match any ending
    ("decapitat*"). Regular expressions run on the normalised text (lower case, no accents,
    single spaces). Edited by moderators in the admin; the policy reads them through a cache that
    every save invalidates (moderation.policy.invalidate_rules).
    """

    class Kind(models.TextChoices):
        WORD = "word", "Word"
        PHRASE = "phrase", "Phrase"
        REGEX = "regex", "Regular expression"

    class Severity(models.TextChoices):
        BLOCK = "block", "Block"
        REVIEW = "review", "Allow, flag for review (blocks for teens and with a real person's cameo)"

    class AppliesTo(models.TextChoices):
        ALL = "all", "Every prompt"
        REAL_PERSON = "real_person", "Prompts using a real person's cameo"
        TEEN = "teen", "Prompts by teen accounts"

    category = models.CharField(max_length=20, choices=[(c.value, c.label) for c in RULE_CATEGORIES])
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WORD)
    pattern = models.CharField(max_length=1000)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.BLOCK)
    applies_to = models.CharField(max_length=12, choices=AppliesTo.choices, default=AppliesTo.ALL)
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why this rule exists (for moderators).")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = PolicyRuleQuerySet.as_manager()

    class Meta:
        ordering = ["category", "kind", "pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "kind", "pattern", "applies_to"], name="moderation_rule_unique"
            ),
            models.CheckConstraint(
                condition=Q(category__in=[c.value for c in RULE_CATEGORIES]), name="moderation_rule_category"
            ),
            # Sexual content involving minors is always refused: such a rule can't be softened.
            models.CheckConstraint(
                condition=~Q(category=Category.MINORS) | Q(severity="block", applies_to="all", enabled=True),
                name="moderation_rule_minors_always_blocks",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.pattern}"

    def save(self, *args, **kwargs) -> None:
        from moderation.classifiers import invalidate_rules

        super().save(*args, **kwargs)
        invalidate_rules()

    def delete(self, *args, **kwargs):
        from moderation.classifiers import invalidate_rules

        result = super().delete(*args, **kwargs)
        invalidate_rules()
        return result

    def clean(self) -> None:
        if self.kind == self.Kind.REGEX:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValidationError({"pattern": f"Not a valid regular expression: {exc}."}) from None
        elif not normalise_pattern(self.pattern.rstrip("*")):
            raise ValidationError({"pattern": "Write at least one letter or digit."})
        if self.category == Category.MINORS and (
            self.severity != self.Severity.BLOCK or self.applies_to != self.AppliesTo.ALL or not self.enabled
        ):
            raise ValidationError("Rules about minors always block, for every prompt, and stay enabled.")


class PublicFigure(models.Model):
    """A real public figure who may only appear in a video through their own cameo.

    Named in a prompt (by name or alias), the prompt is refused unless a cameo owned by `account`
    (their verified account here, if they have one) is in the request.
    """

    name = models.CharField(max_length=100)
    aliases = models.CharField(max_length=300, blank=True, help_text="Other names, separated by commas.")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Their own account on this site: a cameo of theirs makes the name allowed.",
    )  # fmt: skip
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    # A picture of their face: a new cameo with that face is held for review (one face, one owner).
    reference_image = models.ImageField(upload_to="private/figures/", blank=True)
    # Its dlib embedding, computed by the next cameo check that needs it (dlib stays out of the web).
    face_embedding = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="moderation_figure_name_ci_unique")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        from moderation.classifiers import invalidate_rules

        super().save(*args, **kwargs)
        invalidate_rules()

    def delete(self, *args, **kwargs):
        from moderation.classifiers import invalidate_rules

        result = super().delete(*args, **kwargs)
        invalidate_rules()
        return result

    def names(self) -> list[str]:
        return [n.strip() for n in [self.name, *self.aliases.split(",")] if n.strip()]


class PolicyDecision(models.Model):
    """A prompt the policy refused or flagged for review (allowed prompts aren't logged)."""

    class Source(models.TextChoices):
        GENERATION = "generation", "Generation request"
        CAMEO_PREFERENCES = "cameo_preferences", "Cameo preferences"

    class Outcome(models.TextChoices):
        REFUSED = "refused", "Refused"
        FLAGGED = "flagged", "Allowed, flagged for review"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_decisions", db_index=False
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.GENERATION)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    rule = models.ForeignKey(PolicyRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    matched = models.CharField(max_length=200, blank=True, help_text="What the rule or classifier matched.")
    classifier = models.CharField(max_length=40, blank=True)
    text = models.TextField(help_text="The submitted text (all shots of a storyboard).")
    teen = models.BooleanField(default=False)
    real_person = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        indexes = [
            # moderation_report and the admin list: decisions in a period, newest first.
            models.Index(fields=["-created"], name="mod_decision_created_idx"),
            # A person's decision history in the admin, and erasure of their rows.
            models.Index(fields=["owner", "-created"], name="mod_decision_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.get_category_display()}"


class Reason(models.TextChoices):
    """Why a person reports something."""

    SEXUAL = "sexual", "Sexual content"
    MINOR_SAFETY = "minor_safety", "Involves a minor"
    VIOLENCE = "violence", "Violence or gore"
    SELF_HARM = "self_harm", "Self-harm or suicide"
    HATE = "hate", "Hate speech or symbols"
    HARASSMENT = "harassment", "Harassment or bullying"
    CAMEO_MISUSE = "cameo_misuse", "Misuses my or someone's cameo"
    IMPERSONATION = "impersonation", "Impersonates a real person"
    SPAM = "spam", "Spam or scam"
    OTHER = "other", "Something else"


class CaseQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=Case.Status.OPEN)

    def for_target(self, target):
        return self.filter(target_type=ContentType.objects.get_for_model(target), target_id=target.pk)


class Case(models.Model):
    """The reports about one target (a post, comment, profile or cameo), handled together.

    A target has at most one open case; reports about it join that case until a moderator resolves
    it with an outcome. A later report opens a new case.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Outcome(models.TextChoices):
        HIDE_POST = "hide_post", "Hide the post"
        DELETE_POST = "delete_post", "Delete the post"
        MARK_MATURE = "mark_mature", "Mark the post mature (teens don't see it)"
        DELETE_COMMENT = "delete_comment", "Delete the comment"
        REVOKE_CAMEO = "revoke_cameo", "Revoke the cameo"
        WARN = "warn", "Warn the user"
        SUSPEND = "suspend", "Suspend the user"
        BAN = "ban", "Ban the user"
        DISMISS = "dismiss", "Dismiss: no rule broken"

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    target_repr = models.CharField(max_length=200)
    # The person the reports are about: the post's or comment's author, the profile, the cameo's owner.
    target_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the target showed when the case opened, so the case still reads after a deletion.
    snapshot = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    resolution = models.TextField(blank=True, help_text="The moderator's reason, shown to the affected user.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_reported = models.DateTimeField(default=timezone.now)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-last_reported"]
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id"],
                condition=Q(status="open"),
                name="moderation_case_one_open",
            ),
            models.CheckConstraint(
                condition=Q(status="open", outcome="", resolved__isnull=True)
                | Q(status="resolved", resolved__isnull=False) & ~Q(outcome=""),
                name="moderation_case_resolution_pair",
            ),
        ]
        indexes = [
            # The queue: open cases, most recently reported first.
            models.Index(fields=["status", "-last_reported"], name="mod_case_queue_idx"),
            # Filing a report: the open case of a target.
            models.Index(fields=["target_type", "target_id"], name="mod_case_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.target_repr} ({self.get_status_display().lower()})"

    @property
    def target_kind(self) -> str:
        return self.target_type.model


class Report(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    # Kept, anonymised, when the reporter's account is erased: the case still counts the report.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports_filed",
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(max_length=1000, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # One report per person per case; also the index for "did I already report this?".
            models.UniqueConstraint(fields=["case", "reporter"], name="moderation_report_once"),
        ]
        indexes = [
            # moderation_report: reports filed in a period.
            models.Index(fields=["-created"], name="mod_report_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} about {self.case.target_repr}"


class ModerationAction(models.Model):
    """The audit log: who did what to what, why and when. Rows are written once, never changed.

    `target_repr` and `moderator_repr` keep the entry readable after the rows they name are gone.
    """

    class Action(models.TextChoices):
        HIDE_POST = "hide_post", "Hid a post"
        DELETE_POST = "delete_post", "Deleted a post"
        MARK_MATURE = "mark_mature", "Marked a post mature"
        DELETE_COMMENT = "delete_comment", "Deleted a comment"
        REVOKE_CAMEO = "revoke_cameo", "Revoked a cameo"
        WARN = "warn", "Warned a user"
        SUSPEND = "suspend", "Suspended a user"
        BAN = "ban", "Banned a user"
        LIFT = "lift", "Lifted a suspension or ban"
        DISMISS = "dismiss", "Dismissed reports"
        GRANT_INVITES = "grant_invites", "Granted invites"
        EXPORT_USER = "export_user", "Exported a user's data"
        PURGE_USER = "purge_user", "Purged a user"
        DELETE_ACCOUNT = "delete_account", "Account deleted by its owner"
        CHANGE_RULE = "change_rule", "Changed a policy rule"
        DELETE_RULE = "delete_rule", "Deleted a policy rule"

    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderator_repr = models.CharField(
        max_length=100, help_text="The moderator's handle, or the command used."
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target_repr = models.CharField(max_length=200)
    affected_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    reason = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The audit log list and moderation_report: entries in a period, newest first.
            models.Index(fields=["-created"], name="mod_action_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.moderator_repr}: {self.get_action_display()} {self.target_repr}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Audit log entries can't be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit log entries can't be deleted.")


class SanctionQuerySet(models.QuerySet):
    def in_force(self, now=None):
        now = now or timezone.now()
        return self.filter(lifted__isnull=True).filter(
            Q(kind=UserSanction.Kind.BAN) | Q(kind=UserSanction.Kind.SUSPENSION, until__gt=now)
        )


class UserSanction(models.Model):
    """A warning, a suspension (until a date) or a ban. Suspended and banned accounts are also made
    inactive, which Django's own checks turn into: no login, no session, no API token."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        SUSPENSION = "suspension", "Suspension"
        BAN = "ban", "Ban"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sanctions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted = models.DateTimeField(null=True, blank=True)

    objects = SanctionQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="suspension", until__isnull=False)
                | ~Q(kind="suspension") & Q(until__isnull=True),
                name="moderation_sanction_until_only_for_suspension",
            ),
        ]
        indexes = [
            # Login and the expiry sweep: a user's sanctions still in force.
            models.Index(
                fields=["user", "kind"], condition=Q(lifted__isnull=True), name="mod_sanction_live_idx"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SUSPENSION and self.until:
            return f"Suspension of {self.user} until {self.until:%Y-%m-%d %H:%M}"
        return f"{self.get_kind_display()} of {self.user}"


class ModerationNotice(models.Model):
    """A message to a person about a moderation outcome (their report, their content)."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderation_notices", db_index=False
    )
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices")
    text = models.CharField(max_length=600)
    created = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The notices page: mine, newest first.
            models.Index(fields=["recipient", "-created"], name="mod_notice_recipient_idx"),
        ]

    def __str__(self) -> str:
        return f"Notice for {self.recipient_id}: {self.text[:40]}"
