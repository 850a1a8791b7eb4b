"""Verb-named moderation operations: reports, case outcomes, sanctions, notices and the audit log.

Who may call: `file_report` any signed-in person (the view checks they can see the target);
everything else moderators (the admin checks `moderation.change_case`) or staff commands
(`moderator=None`, named by `via`). Every moderator action writes one ModerationAction row in the
same transaction as the change; notices are pushed to browsers and mailed only after it commits.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from accounts.models import User
from cameos.actions.withdrawal import enforce_consent_between
from feed.actions import unread_count
from generation.events import publish
from moderation import targets
from moderation.models import Case, ModerationAction, ModerationNotice, Reason, Report, UserSanction
from moderation.targets import OutcomeUnavailable
from sora_site import queue

log = logging.getLogger(__name__)

ACCOUNT_OUTCOMES_ORDERED = [Case.Outcome.WARN, Case.Outcome.SUSPEND, Case.Outcome.BAN]
ACCOUNT_OUTCOMES = set(ACCOUNT_OUTCOMES_ORDERED)
ACTION_FOR_OUTCOME = {
    Case.Outcome.HIDE_POST: ModerationAction.Action.HIDE_POST,
    Case.Outcome.DELETE_POST: ModerationAction.Action.DELETE_POST,
    Case.Outcome.MARK_MATURE: ModerationAction.Action.MARK_MATURE,
    Case.Outcome.DELETE_COMMENT: ModerationAction.Action.DELETE_COMMENT,
    Case.Outcome.REVOKE_CAMEO: ModerationAction.Action.REVOKE_CAMEO,
    Case.Outcome.WARN: ModerationAction.Action.WARN,
    Case.Outcome.SUSPEND: ModerationAction.Action.SUSPEND,
    Case.Outcome.BAN: ModerationAction.Action.BAN,
    Case.Outcome.DISMISS: ModerationAction.Action.DISMISS,
}
# What reporters are told a moderator did.
REPORTER_TEXT = {
    Case.Outcome.HIDE_POST: "took the post down",
    Case.Outcome.DELETE_POST: "removed the post",
    Case.Outcome.MARK_MATURE: "limited who can see the post",
    Case.Outcome.DELETE_COMMENT: "removed the comment",
    Case.Outcome.REVOKE_CAMEO: "revoked the cameo",
    Case.Outcome.WARN: "warned the account",
    Case.Outcome.SUSPEND: "suspended the account",
    Case.Outcome.BAN: "banned the account",
    Case.Outcome.DISMISS: "found that it doesn't break the community rules",
}
# What the affected person is told happened to their content or account.
AFFECTED_TEXT = {
    Case.Outcome.HIDE_POST: "Your {what} was taken down by a moderator.",
    Case.Outcome.DELETE_POST: "Your {what} was removed by a moderator.",
    Case.Outcome.MARK_MATURE: "Your {what} was marked mature by a moderator: teen accounts won't see it.",
    Case.Outcome.DELETE_COMMENT: "Your {what} was removed by a moderator.",
    Case.Outcome.REVOKE_CAMEO: "Your {what} was revoked by a moderator.",
}


class ReportRefused(Exception):
    """A report that can't be filed; `str(exc)` is the message for the person."""


class CaseClosed(Exception):
    """The case was resolved meanwhile (by another moderator)."""


# --- reports -------------------------------------------------------------------------------


def file_report(reporter: User, target: Model, reason: str, note: str = "") -> Report:
    """Report `target`: joins the target's open case, or opens one. Once per person per case.

    The caller has checked that `reporter` may see `target` (targets.find_reportable).
    """
    if reason not in Reason.values:
        raise ReportRefused("Choose a reason from the list.")
    if targets.owner_id_of(target) == reporter.pk:
        raise ReportRefused("You can't report yourself or your own content.")
    with transaction.atomic():
        case = open_case(target)
        try:
            with transaction.atomic():
                report = Report.objects.create(
                    case=case, reporter=reporter, reason=reason, note=note.strip()[:1000]
                )
        except IntegrityError:
            raise ReportRefused("You've already reported this. A moderator will look at it.") from None
        Case.objects.filter(pk=case.pk).update(last_reported=report.created)
        generation_id = getattr(target, "generation_id", None)
        if generation_id is not None and targets.kind_of(target) == "post":
            # A reported post is checked again with today's rules and thresholds.
            transaction.on_commit(lambda: enqueue_output_recheck(generation_id))
    return report


def enqueue_output_recheck(generation_id: int) -> None:
    queue.enqueue_or_log(settings.CPU_QUEUE, "generation.jobs.recheck_output", generation_id)


def open_case(target: Model) -> Case:
    """The target's open case, made if there is none (a racing second report joins the first's)."""
    target_type = ContentType.objects.get_for_model(target)
    case = Case.objects.open().filter(target_type=target_type, target_id=target.pk).first()
    if case is not None:
        return case
    owner = targets.owner_of(target)
    try:
        with transaction.atomic():
            return Case.objects.create(
                target_type=target_type,
                target_id=target.pk,
                target_repr=targets.describe(target),
                target_owner=owner,
                snapshot=targets.snapshot(target),
            )
    except IntegrityError:
        return Case.objects.open().get(target_type=target_type, target_id=target.pk)


# --- case outcomes -------------------------------------------------------------------------


def sanctions_for(outcome: str, sanction: str | None) -> list[str]:
    """The account sanctions a decision carries: its own (warn, suspend, ban) and `sanction`."""
    sanctions = [outcome] if outcome in ACCOUNT_OUTCOMES else []
    if sanction and sanction not in sanctions:
        if sanction not in ACCOUNT_OUTCOMES or outcome == Case.Outcome.DISMISS:
            raise OutcomeUnavailable("A sanction goes with a warning or a content decision, not a dismissal.")
        sanctions.append(sanction)
    return sanctions


def check_outcome_fits(case: Case, target, outcome: str, *, content: bool) -> None:
    """Raise OutcomeUnavailable when a content outcome has no target or doesn't fit its kind."""
    if content and target is None:
        raise OutcomeUnavailable("The reported content is already gone: dismiss, or sanction its owner.")
    if content and outcome not in targets.OUTCOMES_BY_KIND.get(case.target_kind, []):
        raise OutcomeUnavailable(f"“{Case.Outcome(outcome).label}” doesn't apply to a {case.target_kind}.")


def resolve_case(
    case: Case,
    moderator: User | None,
    outcome: str,
    reason: str,
    *,
    sanction: str | None = None,
    days: int | None = None,
) -> ModerationAction:
    """Carry out `outcome` on the case's target, close the case, log it and tell the people.

    `sanction` (warn, suspend or ban) also sanctions the target's owner, for a content outcome
    (delete the post and suspend its author). `days` is the length of a suspension. Raises
    OutcomeUnavailable when the outcome doesn't fit the target, CaseClosed when another moderator
    resolved the case first. Reporters are always told the outcome; the affected person is told
    when something happened to their content or account (not of a dismissal: a report that
    changes nothing isn't news they need).
    """
    reason = (reason or "").strip()
    if not reason:
        raise OutcomeUnavailable("Write the reason for this decision (the affected person sees it).")
    if outcome not in Case.Outcome.values:
        raise OutcomeUnavailable("Unknown outcome.")
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("target_type", "target_owner")
            .get(pk=case.pk)
        )
        if case.status != Case.Status.OPEN:
            raise CaseClosed("This case was already resolved.")
        target = case.target
        affected = case.target_owner
        sanctions = sanctions_for(outcome, sanction)
        # Everything that can refuse is checked before anything changes (a deleted post's files
        # can't be brought back by a rollback).
        content = outcome not in ACCOUNT_OUTCOMES and outcome != Case.Outcome.DISMISS
        check_outcome_fits(case, target, outcome, content=content)
        if sanctions and affected is None:
            raise OutcomeUnavailable("The account this case is about no longer exists.")
        if sanctions:
            check_may_sanction(moderator, affected)
        # Named for people (caption and author) while the target still exists; a deleted one keeps
        # the case's record.
        about = targets.describe_for_people(target) if target is not None else case.target_repr
        if content:
            targets.apply_content_outcome(outcome, moderator, target, reason)
        action = record_action(
            moderator, ACTION_FOR_OUTCOME[outcome], target=target, target_type=case.target_type,
            target_id=case.target_id, target_repr=case.target_repr, affected_user=affected, case=case,
            reason=reason,
        )  # fmt: skip
        for kind in sanctions:
            apply_sanction(kind, affected, moderator, reason, days=days, case=case, notify_user=False)
        Case.objects.filter(pk=case.pk).update(
            status=Case.Status.RESOLVED, outcome=outcome, resolution=reason,
            resolved_by=moderator, resolved=timezone.now(),
        )  # fmt: skip
        notify_outcome(case, outcome, reason, sanctions, days=days, about=about)
    return action


def notify_outcome(
    case: Case, outcome: str, reason: str, sanctions: list[str], *, days: int | None, about: str = ""
) -> None:
    """Tell each reporter what came of their report, and the affected person what happened."""
    reporters = set(case.reports.exclude(reporter=None).values_list("reporter_id", flat=True))
    done = [REPORTER_TEXT[outcome], *(REPORTER_TEXT[s] for s in sanctions if s != outcome)]
    text = (
        f"Thanks for your report about {about or case.target_repr}. "
        f"A moderator reviewed it and {' and '.join(done)}."
    )
    for reporter_id in sorted(reporters):
        notify(reporter_id, text, case=case)
    affected = case.target_owner
    if affected is None or outcome == Case.Outcome.DISMISS and not sanctions:
        return
    lines = []
    if outcome in AFFECTED_TEXT:
        what = case.target_repr.split(" by @")[0].lower()
        lines.append(AFFECTED_TEXT[outcome].format(what=what))
    lines += [sanction_text(kind, days) for kind in sanctions]
    lines.append(f"Reason: {reason}")
    notify(affected.pk, " ".join(lines), case=case, email=bool(sanctions))


def sanction_text(kind: str, days: int | None) -> str:
    match kind:
        case Case.Outcome.WARN | UserSanction.Kind.WARNING:
            return "This is a warning: further breaks of the community rules may get your account suspended."
        case Case.Outcome.SUSPEND | UserSanction.Kind.SUSPENSION:
            days = days or settings.MODERATION_SUSPENSION_DAYS
            return f"Your account is suspended for {days} day{'s' if days != 1 else ''}."
        case Case.Outcome.BAN | UserSanction.Kind.BAN:
            return "Your account is banned."
    return ""


# --- sanctions -----------------------------------------------------------------------------


def apply_sanction(
    kind: str,
    user: User,
    moderator: User | None,
    reason: str,
    *,
    days: int | None = None,
    until: datetime | None = None,
    case: Case | None = None,
    notify_user: bool = True,
    via: str = "",
) -> UserSanction:
    """Warn, suspend (for `days`, or `until`) or ban `user`, and log it.

    Suspending and banning make the account inactive: Django then refuses its logins, its open
    sessions and (ApiToken.authenticate) its API tokens. Staff accounts can only be sanctioned by a
    superuser or a command.
    """
    kinds = {
        Case.Outcome.WARN: UserSanction.Kind.WARNING,
        Case.Outcome.SUSPEND: UserSanction.Kind.SUSPENSION,
        Case.Outcome.BAN: UserSanction.Kind.BAN,
    }
    kind = kinds.get(kind, kind)
    check_may_sanction(moderator, user)
    if kind == UserSanction.Kind.SUSPENSION and until is None:
        until = timezone.now() + timedelta(days=days or settings.MODERATION_SUSPENSION_DAYS)
    if kind != UserSanction.Kind.SUSPENSION:
        until = None
    with transaction.atomic():
        sanction = UserSanction.objects.create(
            user=user, kind=kind, reason=reason, until=until, created_by=moderator
        )
        if kind in (UserSanction.Kind.SUSPENSION, UserSanction.Kind.BAN):
            User.objects.filter(pk=user.pk).update(is_active=False)
            user.is_active = False
        if kind == UserSanction.Kind.BAN:
            # A banned account's likeness may no longer be used: others' videos of it come down.
            enforce_consent_between(user, why="account banned")
        if case is None:
            action = {
                UserSanction.Kind.WARNING: ModerationAction.Action.WARN,
                UserSanction.Kind.SUSPENSION: ModerationAction.Action.SUSPEND,
                UserSanction.Kind.BAN: ModerationAction.Action.BAN,
            }[kind]
            record_action(
                moderator, action, target=user, target_repr=f"Profile @{user.handle}", affected_user=user,
                reason=reason, via=via,
            )  # fmt: skip
        if notify_user:
            if until is not None:
                days = max(1, round((until - timezone.now()).total_seconds() / 86400))
            text = sanction_text(kind, days)
            notify(user.pk, f"{text} Reason: {reason}", email=True)
    return sanction


def check_may_sanction(moderator: User | None, user: User) -> None:
    if user.is_staff and moderator is not None and not moderator.is_superuser:
        raise OutcomeUnavailable("Only a superuser can sanction a staff account.")


def warn_user(user: User, moderator: User | None, reason: str, **kwargs) -> UserSanction:
    return apply_sanction(UserSanction.Kind.WARNING, user, moderator, reason, **kwargs)


def suspend_user(user: User, moderator: User | None, reason: str, **kwargs) -> UserSanction:
    return apply_sanction(UserSanction.Kind.SUSPENSION, user, moderator, reason, **kwargs)


def ban_user(user: User, moderator: User | None, reason: str, **kwargs) -> UserSanction:
    return apply_sanction(UserSanction.Kind.BAN, user, moderator, reason, **kwargs)


@transaction.atomic
def lift_sanctions(user: User, moderator: User | None, reason: str, *, via: str = "") -> int:
    """End every suspension and ban of `user` now and make the account active again."""
    now = timezone.now()
    lifted = UserSanction.objects.in_force(now).filter(user=user).update(lifted=now)
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    record_action(
        moderator, ModerationAction.Action.LIFT, target=user, target_repr=f"Profile @{user.handle}",
        affected_user=user, reason=reason, via=via,
    )  # fmt: skip
    notify(user.pk, f"Your account is active again. {reason}", email=True)
    return lifted


# --- audit log and notices ----------------------------------------------------------------


def record_action(
    moderator: User | None,
    action: str,
    *,
    reason: str,
    target: Model | None = None,
    target_type: ContentType | None = None,
    target_id: int | None = None,
    target_repr: str = "",
    affected_user: User | None = None,
    case: Case | None = None,
    via: str = "",
) -> ModerationAction:
    """Write one audit log entry. `via` names the command when there is no moderator."""
    if target is not None:
        target_type = target_type or ContentType.objects.get_for_model(target)
        target_id = target_id or target.pk
        target_repr = target_repr or str(target)
    moderator_repr = f"@{moderator.handle}" if moderator is not None else (via or "system")
    return ModerationAction.objects.create(
        moderator=moderator, moderator_repr=moderator_repr[:100], action=action, target_type=target_type,
        target_id=target_id, target_repr=target_repr[:200], affected_user=affected_user, case=case,
        reason=reason,
    )  # fmt: skip


def unread_notice_count(user_id: int) -> int:
    return ModerationNotice.objects.filter(recipient_id=user_id, read=False).count()


def notify(
    recipient_id: int, text: str, *, case: Case | None = None, email: bool = False
) -> ModerationNotice:
    """Store a notice and, once the transaction commits, push it to the person's open pages (the
    bell's `notification` event, with the feed's unread count plus unread notices) and, with
    `email`, mail it (suspended and banned people can't sign in to read it)."""
    notice = ModerationNotice.objects.create(recipient_id=recipient_id, case=case, text=text[:600])

    def push() -> None:
        unread = unread_count(recipient_id)  # counts the notices too
        publish(
            recipient_id, {"kind": "notification", "unread": unread, "text": text, "source": "moderation"}
        )
        if email:
            address = User.objects.filter(pk=recipient_id).values_list("email", flat=True).first()
            if address:
                subject = f"[{settings.SITE_NAME}] A moderation decision about your account"
                try:
                    send_mail(subject, text, None, [address])
                except Exception:  # noqa: BLE001 - the notice is stored; mail is best effort
                    log.warning("could not mail moderation notice %s", notice.pk, exc_info=True)

    transaction.on_commit(push)
    return notice


def mark_notices_read(user: User) -> int:
    return ModerationNotice.objects.filter(recipient=user, read=False).update(read=True)


# --- accounts: erasure and export ----------------------------------------------------------


def purge_user(user: User, moderator: User | None, reason: str, *, via: str = "") -> dict[str, int]:
    """Erase `user` and all their data (moderation.userdata.erase_user) and log who did it.

    The audit entry names the account by number only: the erasure removes the handle too.
    """
    from moderation.userdata import erase_user

    pk = user.pk
    summary = erase_user(user)
    record_action(
        moderator, ModerationAction.Action.PURGE_USER, target_repr=f"Account #{pk}", reason=reason, via=via
    )
    return summary


def delete_own_account(user: User) -> dict[str, int]:
    """The person's own "delete my account": the same erasure, logged as theirs."""
    from moderation.userdata import erase_user

    pk = user.pk
    summary = erase_user(user)
    record_action(
        None, ModerationAction.Action.DELETE_ACCOUNT, target_repr=f"Account #{pk}",
        reason="Deleted by its owner.", via="the account owner",
    )  # fmt: skip
    return summary
