"""Named filters of the cameos models, above all `Cameo.objects.usable_by`, the one consent rule.

They reach the cameos models by name (`apps.get_model`): those models use these querysets.
"""

from typing import TYPE_CHECKING

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q

from accounts.models import Block, Follow

if TYPE_CHECKING:
    from cameos.models import Withdrawal


class CameoQuerySet(models.QuerySet):
    def usable_by(self, user) -> "CameoQuerySet":
        """Cameos `user` may put in a video: the one consent rule of the site.

        Only verified (active) cameos of active accounts. The owner always may. Nobody else may
        when either of the two blocks the other. Otherwise by the owner's permission level, each
        level including the one before: `only_me`: nobody else; `approved`: people on the cameo's
        approval list; `mutuals`: those, plus people who follow the owner and whom the owner
        follows; `everyone`: any signed-in person. Costs no query of its own: approvals, follows
        and blocks are subqueries.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        Approval = apps.get_model("cameos", "Approval")
        Cameo = self.model
        rows = self.filter(status=Cameo.Status.ACTIVE, owner__is_active=True)
        approved = Exists(Approval.objects.filter(cameo=OuterRef("pk"), user=user.pk))
        mutual = Exists(Follow.objects.filter(follower=user.pk, followee=OuterRef("owner"))) & Exists(
            Follow.objects.filter(follower=OuterRef("owner"), followee=user.pk)
        )
        blocked = Exists(
            Block.objects.filter(
                Q(blocker=user.pk, blocked=OuterRef("owner")) | Q(blocker=OuterRef("owner"), blocked=user.pk)
            )
        )
        P = Cameo.Permission
        others = (
            Q(permission=P.EVERYONE)
            | Q(permission__in=[P.APPROVED, P.MUTUALS]) & approved
            | Q(permission=P.MUTUALS) & mutual
        ) & ~blocked
        return rows.filter(Q(owner=user.pk) | others)

    def live(self) -> "CameoQuerySet":
        """Not deleted: what the owner's list shows."""
        return self.exclude(status=self.model.Status.DELETED)


class WithdrawalQuerySet(models.QuerySet):
    def of_draft(self, code: str, viewer) -> "Withdrawal | None":
        """Why draft `code` may no longer be served to `viewer`, or None. Only its author is told
        (anyone else gets the draft's usual 404); moderators are never refused. One query."""
        if not viewer.is_authenticated or viewer.is_staff:
            return None
        return self.filter(generation_code=code, author=viewer.pk).order_by("created").first()

    def of_post(self, code: str, viewer) -> "Withdrawal | None":
        """Why post `code` is gone, or None (moderators are never refused). One query."""
        if viewer.is_authenticated and viewer.is_staff:
            return None
        return self.filter(post_code=code).order_by("created").first()
