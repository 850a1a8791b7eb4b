"""Verb-named operations on posts and the social graph, shared by the web views, the API and jobs.

Each raises a `FeedRefused` subclass whose message can be shown to the person as is, and writes
nothing when it refuses. Counters on Post are kept with F() updates in the same transaction as
the row they count. Notifications are written in that transaction and pushed to the recipient's
browsers only once it commits.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.http import Http404

from accounts.models import Block, User
from cameos.actions.consent import check_post_allowed
from cameos.actions.withdrawal import enforce_consent_between
from feed import bell
from feed.models import (
    COMMENT_MAX_LENGTH,
    Comment,
    FeedSettings,
    Follow,
    Like,
    Notification,
    NotInterested,
    Post,
    PostView,
)
from generation.errors import ConsentRefused
from generation.events import publish
from generation.models import Generation
from provenance.actions import ExportFailed, ensure_export, exported_file
from sora_site import queue

log = logging.getLogger(__name__)


class FeedRefused(Exception):
    """An action the site won't do; `str(exc)` is the message for the person."""


class PostRefused(FeedRefused):
    pass


class FollowRefused(FeedRefused):
    pass


class CommentRefused(FeedRefused):
    pass


# --- posts ----------------------------------------------------------------------------------


def publish_post(
    generation: Generation,
    *,
    caption: str = "",
    hide_prompt: bool = False,
    visibility: str = Post.Visibility.PUBLIC,
) -> Post:
    """Post a finished draft. One post per generation; only its owner's succeeded drafts.

    A draft made with `/create/?remix=<code>` stores the source's generation; the new post then
    links to that generation's post (`source_post`), whose remix count goes up and whose author
    is notified.
    """
    if generation.status != Generation.Status.SUCCEEDED or not generation.video:
        raise PostRefused("Only finished videos can be posted.")
    if not generation.is_shareable:
        raise PostRefused(
            "This video can't be posted: "
            + (generation.check_reason or "it hasn't passed the content check.")
        )
    if visibility not in Post.Visibility.values:
        raise PostRefused("Choose who can see this post.")

    try:
        check_post_allowed(generation)  # a cameo in it may have been revoked since it was made
    except ConsentRefused as exc:
        raise PostRefused(str(exc)) from exc

    source_post = None
    if generation.source_id:
        source_post = Post.objects.filter(generation_id=generation.source_id).first()
    try:
        with transaction.atomic():
            post = Post.objects.create(
                author_id=generation.owner_id,
                generation=generation,
                caption=caption.strip(),
                hide_prompt=hide_prompt,
                visibility=visibility,
                source_post=source_post,
            )
            # Posting publishes the watermarked, signed rendition, whose manifest names the
            # post's public URL; if it can't be made, the post isn't either.
            public_url = ""
            if visibility == Post.Visibility.PUBLIC:
                public_url = settings.SITE_URL + post.get_absolute_url()
            ensure_export(generation, public_url=public_url)
            if source_post is not None:
                Post.objects.filter(pk=source_post.pk).update(remix_count=F("remix_count") + 1)
                notify(source_post.author_id, Notification.Kind.REMIX, actor=generation.owner, post=post)
    except IntegrityError:
        raise PostRefused("This video is already posted.") from None
    except ExportFailed as exc:
        raise PostRefused(str(exc)) from exc
    transaction.on_commit(lambda: enqueue_embedding(post.pk))
    return post


def enqueue_embedding(post_id: int) -> None:
    """Queue feed.jobs.embed_post. A Redis failure only costs steering and search this post's
    vector (it still shows everywhere else), so it is logged, not raised; `manage.py
    embed_posts` fills in any that are missing."""
    queue.enqueue_or_log(settings.CPU_QUEUE, "feed.jobs.embed_post", post_id, result_ttl=0)


def post_video_file(post: Post):
    """The file that plays for viewers: the watermarked, signed export rendition made when the
    post was published. The unmarked draft never leaves the site; a post without an export (made
    before provenance existed) gets one now."""
    return ensure_export(post.generation).file


# --- who sees a post: the one place posts are taken down, restored or marked mature ------------


def hide_posts(posts: QuerySet[Post]) -> int:
    """Take these posts down for everyone but staff (`visible_to` reads `hidden`): a moderator's
    outcome, the admin's action, a re-check that no longer passes."""
    return posts.update(hidden=True)


def restore_posts(posts: QuerySet[Post]) -> int:
    return posts.update(hidden=False)


def mark_posts_mature(posts: QuerySet[Post]) -> int:
    """Teens no longer see these posts (`visible_to` reads `mature`)."""
    return posts.update(mature=True)


@transaction.atomic
def unpost(post: Post) -> None:
    """Take a post down; the draft (and its files) stays in the owner's drafts."""
    if post.source_post_id:
        Post.objects.filter(pk=post.source_post_id).update(remix_count=Greatest(F("remix_count") - 1, 0))
    post.delete()


def delete_post(post: Post) -> None:
    """Delete a post, its draft and their files from storage.

    A file name still used by another generation (seed_demo shares a few clips) is kept.
    """
    generation = post.generation
    fields = [exported_file(generation), generation.video, generation.poster, generation.sprite]
    fields += [generation.preview, generation.source_image]
    with transaction.atomic():
        unpost(post)
        generation.delete()
    doomed = {f.name: f.storage for f in fields if f}

    def delete_files() -> None:
        # Only once committed: a caller's rolled-back transaction must find the files still there.
        for name, storage in doomed.items():
            shared = Generation.objects.filter(
                Q(video=name) | Q(poster=name) | Q(sprite=name) | Q(preview=name)
            ).exists()
            if not shared:
                storage.delete(name)

    transaction.on_commit(delete_files)


def remix_source(user: User, post_code: str) -> Generation:
    """The generation a remix continues from: the post's, when `user` may see it and it's public.

    Raises Http404 otherwise (a private post must not be told apart from a missing one). The
    returned instance is for reading only: when the post hides its prompt, its `prompt` is blanked
    in memory so forms pre-filled from it don't reveal it.
    """
    post = (
        Post.objects.visible_to(user)
        .filter(code=post_code, visibility=Post.Visibility.PUBLIC)
        .select_related("generation")
        .first()
    )
    if post is None or not post.generation.is_shareable:
        raise Http404("No such video to remix.")
    generation = post.generation
    if post.hide_prompt:
        generation.prompt = ""
    return generation


def record_view(user: User, post: Post) -> None:
    """Remember that `user` was shown `post` (first time only), so For You pushes it down."""
    if user.is_authenticated:
        PostView.objects.bulk_create([PostView(user=user, post=post)], ignore_conflicts=True)


# --- likes and comments ---------------------------------------------------------------------


def toggle_like(user: User, post: Post, like: bool | None = None) -> tuple[bool, int]:
    """Like or unlike; returns (liked, live like count).

    `like=None` flips the current state; True/False set it, so a repeated request (double click,
    retry) changes nothing. The unique constraint makes a racing second like a no-op.
    """
    if not Post.objects.visible_to(user).filter(pk=post.pk).exists():
        raise Http404("No such post.")
    with transaction.atomic():
        exists = Like.objects.filter(user=user, post=post).exists()
        want = (not exists) if like is None else like
        if want and not exists:
            try:
                with transaction.atomic():
                    Like.objects.create(user=user, post=post)
            except IntegrityError:
                pass  # a concurrent request liked it first
            else:
                Post.objects.filter(pk=post.pk).update(like_count=F("like_count") + 1)
                already = Notification.objects.filter(
                    recipient=post.author_id, kind=Notification.Kind.LIKE, actor=user, post=post
                ).exists()
                if not already:
                    notify(post.author_id, Notification.Kind.LIKE, actor=user, post=post)
        elif not want and exists:
            deleted, _ = Like.objects.filter(user=user, post=post).delete()
            if deleted:
                Post.objects.filter(pk=post.pk).update(like_count=Greatest(F("like_count") - 1, 0))
        count = Post.objects.filter(pk=post.pk).values_list("like_count", flat=True).get()
    post.like_count = count
    return want, count


def clean_comment_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise CommentRefused("Write something first.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise CommentRefused(f"Comments are at most {COMMENT_MAX_LENGTH} characters ({len(body)} given).")
    return body


def add_comment(author: User, post: Post, body: str, *, parent: Comment | None = None) -> Comment:
    """Comment on a post, or reply to a comment (replies stay one level deep: a reply to a reply
    joins its thread). Refused when the post isn't visible to `author` (which covers blocks
    either way) or the parent comment isn't on this post and visible."""
    body = clean_comment_body(body)
    if not Post.objects.visible_to(author).filter(pk=post.pk).exists():
        raise CommentRefused("You can't comment on this post.")
    if parent is not None:
        if parent.post_id != post.pk or not Comment.objects.visible_to(author).filter(pk=parent.pk).exists():
            raise CommentRefused("That comment is gone.")
        if parent.parent_id:
            parent = Comment.objects.select_related("author").get(pk=parent.parent_id)
    with transaction.atomic():
        comment = Comment.objects.create(post=post, author=author, body=body, parent=parent)
        Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") + 1)
        notify(post.author_id, Notification.Kind.COMMENT, actor=author, post=post, comment=comment)
        if parent is not None and parent.author_id != post.author_id:
            notify(parent.author_id, Notification.Kind.REPLY, actor=author, post=post, comment=comment)
    return comment


def can_delete_comment(user: User, comment: Comment) -> bool:
    return user.is_authenticated and (
        user.is_staff or user.pk == comment.author_id or user.pk == comment.post.author_id
    )


@transaction.atomic
def delete_comment(user: User, comment: Comment) -> None:
    """Delete a comment and its replies. Its author, the post's author and staff may."""
    if not can_delete_comment(user, comment):
        raise CommentRefused("You can't delete this comment.")
    removed = 1 + Comment.objects.filter(parent=comment).count()
    comment.delete()
    Post.objects.filter(pk=comment.post_id).update(comment_count=Greatest(F("comment_count") - removed, 0))


# --- follows and blocks ---------------------------------------------------------------------


def follow(follower: User, followee: User) -> bool:
    """Follow someone; True if this is new. Refused for yourself and across a block."""
    if follower.pk == followee.pk:
        raise FollowRefused("You can't follow yourself.")
    if Block.between(follower.pk, followee.pk):
        raise FollowRefused("You can't follow this account.")
    try:
        with transaction.atomic():
            Follow.objects.create(follower=follower, followee=followee)
            notify(followee.pk, Notification.Kind.FOLLOW, actor=follower)
    except IntegrityError:
        return False
    return True


@transaction.atomic
def unfollow(follower: User, followee: User) -> bool:
    """Stop following; cameos shared with "mutuals" stop being usable between the two."""
    removed = Follow.objects.filter(follower=follower, followee=followee).delete()[0] > 0
    if removed:
        enforce_consent_between(follower, followee, why="no longer mutuals")
    return removed


@transaction.atomic
def block_user(blocker: User, blocked: User) -> bool:
    """Block someone: follows both ways end and notifications between the two go.

    From then on neither sees the other's posts or comments (visible_to), and `blocked` can't
    follow or comment on `blocker`'s posts.
    """
    if blocker.pk == blocked.pk:
        raise FollowRefused("You can't block yourself.")
    _, created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    Follow.objects.filter(
        Q(follower=blocker, followee=blocked) | Q(follower=blocked, followee=blocker)
    ).delete()
    Notification.objects.filter(
        Q(recipient=blocker, actor=blocked) | Q(recipient=blocked, actor=blocker)
    ).delete()
    # Blocked users never qualify for a cameo: stop their queued jobs and posts that use one.
    enforce_consent_between(blocker, blocked, why="blocked")
    return created


def unblock(blocker: User, blocked: User) -> bool:
    return Block.objects.filter(blocker=blocker, blocked=blocked).delete()[0] > 0


# --- notifications --------------------------------------------------------------------------


@dataclass(frozen=True)
class BellSource:
    """Another app's items behind the bell (moderation's notices), registered by that app: feed
    sits below it and can't import it."""

    unread_pks: Callable[[int], QuerySet]  # values_list("pk") of a user's unread rows, for the count
    newest_unread: Callable[[User], list]  # the notifications page's newest unread items
    mark_read: Callable[[User], object]


BELL_SOURCES: list[BellSource] = []


def register_bell_source(source: BellSource) -> None:
    if source not in BELL_SOURCES:
        BELL_SOURCES.append(source)


def unread_count(user_id: int) -> int:
    """Unread items behind the bell: feed notifications plus the other apps', in one query."""
    mine = Notification.objects.filter(recipient_id=user_id, read=False).order_by().values_list("pk")
    others = [source.unread_pks(user_id) for source in BELL_SOURCES]
    return mine.union(*others, all=True).count() if others else mine.count()


def take_other_unread(user: User) -> list:
    """The other apps' newest unread items for the notifications page (the bell counts them, so
    the page it opens shows them first); they are marked read as they are shown."""
    items = []
    for source in BELL_SOURCES:
        newest = list(source.newest_unread(user))
        if newest:
            source.mark_read(user)
        items += newest
    return items


def notify(
    recipient_id: int,
    kind: str,
    *,
    actor: User | None = None,
    post: Post | None = None,
    comment: Comment | None = None,
    generation: Generation | None = None,
    message: str = "",
) -> Notification | None:
    """Store a notification and, once the transaction commits, push the new unread count.

    Nothing is stored for your own doings or between people who block each other.
    """
    if actor is not None and (actor.pk == recipient_id or Block.between(actor.pk, recipient_id)):
        return None
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        kind=kind,
        actor=actor,
        post=post,
        comment=comment,
        generation=generation,
        message=message[:300],
    )
    text = notification.text

    def push() -> None:
        publish(recipient_id, {"kind": "notification", "unread": unread_count(recipient_id), "text": text})

    transaction.on_commit(push)
    transaction.on_commit(lambda: bell.forget(recipient_id))
    return notification


def mark_all_read(user: User) -> int:
    """Mark every notification of `user` read and tell their other open pages."""
    changed = Notification.objects.filter(recipient=user, read=False).update(read=True)
    if changed:
        transaction.on_commit(lambda: publish(user.pk, {"kind": "notification", "unread": 0, "text": ""}))
    return changed


def notify_generation_finished(generation: Generation) -> None:
    """Tell the owner their video is ready or failed (cancelled ones they did themselves)."""
    kinds = {
        Generation.Status.SUCCEEDED: Notification.Kind.GENERATION_SUCCEEDED,
        Generation.Status.FAILED: Notification.Kind.GENERATION_FAILED,
    }
    if generation.status in kinds:
        notify(generation.owner_id, kinds[generation.status], generation=generation)


# --- steering the feed ----------------------------------------------------------------------


def save_feed_settings(user: User, **fields) -> FeedSettings:
    """Store the person's feed settings (steering, non_personalised, scroll_limit); the next
    For You page is ranked with them."""
    from feed import ranking

    current = FeedSettings.for_user(user)
    for name, value in fields.items():
        setattr(current, name, value)
    current.save()
    ranking.forget(user)
    return current


def mark_not_interested(user: User, post: Post, interested: bool = False) -> None:
    """ "Not interested" (or its undo with `interested=True`). Repeating either is a no-op."""
    from feed import ranking

    if interested:
        NotInterested.objects.filter(user=user, post=post).delete()
    else:
        NotInterested.objects.bulk_create([NotInterested(user=user, post=post)], ignore_conflicts=True)
    ranking.forget(user)


def reset_not_interested(user: User) -> int:
    """Forget every "not interested" of `user`; returns how many there were."""
    from feed import ranking

    count, _ = NotInterested.objects.filter(user=user).delete()
    ranking.forget(user)
    return count
