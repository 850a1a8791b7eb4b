"""Moderation's part in what the apps below it do: they can't import moderation (it builds on
them), so they send signals or keep registries, connected here from ModerationConfig.ready()."""

from accounts.signals import inactive_login, login_attempted
from feed.actions import BellSource, register_bell_source
from generation import hooks
from moderation import actions, policy, quotas, sanctions
from moderation.models import ModerationNotice


def lift_expired_suspension(sender, user, **kwargs) -> None:
    sanctions.lift_if_expired(user)


def explain_inactive_login(sender, user, **kwargs) -> str:
    return sanctions.sanction_message(user)


def unread_notices(user_id: int):
    """The bell counts unread moderation notices beside feed's notifications (one query)."""
    return ModerationNotice.objects.filter(recipient_id=user_id, read=False).order_by().values_list("pk")


def newest_unread_notices(user) -> list:
    return list(ModerationNotice.objects.filter(recipient=user, read=False).order_by("-created", "-id")[:20])


class GenerationChecks:
    """Moderation's checks of a video request and of a finished video (generation.hooks)."""

    def check_request(self, owner, texts: list[str], cast: list) -> None:
        policy.check_generation_request(owner, texts, cast)
        quotas.check_generation_quota(owner)

    def check_output(self, generation, frames, fps, audio, sample_rate):
        # The worker's check loads the output models; the web process never needs them.
        from moderation import output_check

        context = output_check.output_check_context(generation)
        return output_check.check_output(frames, fps, audio, sample_rate, **context)


def connect() -> None:
    login_attempted.connect(lift_expired_suspension, dispatch_uid="moderation.lift_expired_suspension")
    inactive_login.connect(explain_inactive_login, dispatch_uid="moderation.explain_inactive_login")
    register_bell_source(BellSource(unread_notices, newest_unread_notices, actions.mark_notices_read))
    hooks.register_checks(GenerationChecks())
