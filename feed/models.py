"""Posts and the social graph around them: likes, comments, follows, views, notifications.

Every decision about who may see a post is `Post.objects.visible_to(user)`; feeds, profiles, the
post page, media, comments, notifications and remix all start from it.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block, Follow
from sora_site.keyset import KeysetQuerySet, make_cursor

COMMENT_MAX_LENGTH = 500
CAPTION_MAX_LENGTH = 300


def new_post_code() -> str:
    # 22 URL-safe characters (128 bits): unguessable, so only-me and followers posts can't be found.
    return secrets.token_urlsafe(16)


def new_comment_code() -> str:
    return secrets.token_urlsafe(16)


class PostQuerySet(KeysetQuerySet):
    def visible_to(self, user) -> "PostQuerySet":
        """Posts `user` may see: the one visibility rule of the site.

        Staff see everything. Everyone else sees posts that aren't taken down (`hidden`), whose
        author isn't blocked by or blocking them, that teens see only when not `mature`, and that
        are public, their own, or followers-only by someone they follow. Anonymous visitors see
        public, non-mature posts. Costs no query of its own: follows and blocks are subqueries.
        """
        if user is None or not user.is_authenticated:
            return self.filter(visibility=Post.Visibility.PUBLIC, hidden=False, mature=False)
        if user.is_staff:
            return self
        follows_author = Follow.objects.filter(follower=user.pk, followee=OuterRef("author"))
        audience = (
            Q(author=user.pk)
            | Q(visibility=Post.Visibility.PUBLIC)
            | Q(visibility=Post.Visibility.FOLLOWERS) & Exists(follows_author)
        )
        blocked = Block.objects.filter(
            Q(blocker=user.pk, blocked=OuterRef("author")) | Q(blocker=OuterRef("author"), blocked=user.pk)
        )
        rows = self.filter(audience, hidden=False).exclude(Exists(blocked))
        if user.is_teen:
            rows = rows.filter(mature=False)
        return rows

    def with_viewer_state(self, user) -> "PostQuerySet":
        """Annotate `liked` (by `user`) so a list of posts renders its like buttons in one query."""
        if user is None or not user.is_authenticated:
            return self.annotate(liked=models.Value(False))
        return self.annotate(liked=Exists(Like.objects.filter(user=user.pk, post=OuterRef("pk"))))

    def for_cards(self) -> "PostQuerySet":
        """What a feed card or grid tile reads, in the same query."""
        return self.select_related("author", "generation")

    def for_feed(self) -> "PostQuerySet":
        """`for_cards` reading only the columns a feed card shows (feed/_card.html).

        A generation row also carries tracebacks, timings, check scores and voice metadata (JSON
        that psycopg would parse for every card); the feeds skip them. A card that starts showing
        another column must add it here, or it costs a query per card (tests/feed/test_queries.py
        notices)."""
        return self.for_cards().only(
            *["code", "author", "generation", "caption", "hide_prompt", "visibility", "created"],
            *["like_count", "comment_count", "remix_count"],
            *["author__handle", "author__avatar", "generation__prompt", "generation__orientation"],
        )


class Post(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        FOLLOWERS = "followers", "Followers"
        ONLY_ME = "only_me", "Only me"

    code = models.CharField(max_length=32, unique=True, default=new_post_code, editable=False)
    # db_index off: feed_post_author_created_idx leads with author.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    generation = models.OneToOneField("generation.Generation", on_delete=models.CASCADE, related_name="post")
    caption = models.CharField(max_length=CAPTION_MAX_LENGTH, blank=True)
    hide_prompt = models.BooleanField(default=False)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    mature = models.BooleanField(default=False, help_text="Set by moderators. Teens never see mature posts.")
    hidden = models.BooleanField(default=False, help_text="Taken down by moderators: only staff see it.")
    created = models.DateTimeField(default=timezone.now)
    # Denormalised counters, kept by feed.actions with F() updates so ranking and cards read no joins.
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    remix_count = models.PositiveIntegerField(default=0)
    # db_index off: feed_post_remixes_idx leads with source_post.
    source_post = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes",
        help_text="The post this one remixes.", db_index=False,
    )  # fmt: skip
    # What the post is about (feed.semantics): caption and visible prompt only, never a hidden
    # prompt; null until the CPU queue's feed.jobs.embed_post has run.
    embedding = models.BinaryField(null=True, editable=False)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            # For You candidates (newest visible posts) and the Following feed's time-ordered scan.
            models.Index(fields=["-created", "-id"], name="feed_post_created_idx"),
            # Profile grids and the Following feed: one author's posts newest first.
            models.Index(fields=["author", "-created", "-id"], name="feed_post_author_created_idx"),
            # For You "popular lately" candidates: most liked posts, filtered to a recent window.
            models.Index(fields=["-like_count", "-created"], name="feed_post_popular_idx"),
            # A post page's remixes, newest first (and SET NULL when a source post goes).
            models.Index(fields=["source_post", "-created"], name="feed_post_remixes_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} by {self.author_id}"

    def get_absolute_url(self) -> str:
        return reverse("feed:post", args=[self.code])

    @property
    def cursor(self) -> str:
        return make_cursor(self.created, self.pk)

    def media_url(self, variant: str) -> str:
        return reverse("feed:media", args=[self.code, variant])

    def embedding_text(self) -> str:
        """The text the post's vector is made from. A hidden prompt stays out: it must never make
        a post rank for, or match a search of, its words."""
        parts = [self.caption]
        if not self.hide_prompt:
            parts.append(self.generation.prompt)
        return ". ".join(p for p in parts if p)

    @property
    def is_remixable(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC

    @property
    def title(self) -> str:
        """One line for cards, page titles and Open Graph."""
        if self.caption:
            return self.caption
        if not self.hide_prompt:
            return self.generation.prompt[:120]
        return f"A video by @{self.author.handle}"


class Like(models.Model):
    # db_index off: feed_like_once and feed_like_user_created_idx lead with user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes", db_index=False
    )
    # db_index off: feed_like_post_idx.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes", db_index=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One like per person per post; also the index for "did I like this?" (user, post).
            models.UniqueConstraint(fields=["user", "post"], name="feed_like_once"),
        ]
        indexes = [
            # Ranking affinity: my recent likes, grouped by the author I liked.
            models.Index(fields=["user", "-created"], name="feed_like_user_created_idx"),
            # Deleting a post deletes its likes (the cascade looks them up by post).
            models.Index(fields=["post"], name="feed_like_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.post_id}"


class CommentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CommentQuerySet":
        """Comments on posts `user` may see, minus those by people blocked either way."""
        rows = self.filter(post__in=Post.objects.visible_to(user))
        if user is not None and user.is_authenticated and not user.is_staff:
            blocked = Block.objects.filter(
                Q(blocker=user.pk, blocked=OuterRef("author"))
                | Q(blocker=OuterRef("author"), blocked=user.pk)
            )
            rows = rows.exclude(Exists(blocked))
        return rows


class Comment(models.Model):
    code = models.CharField(max_length=32, unique=True, default=new_comment_code, editable=False)
    # db_index off: feed_comment_post_idx leads with post.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments", db_index=False)
    # db_index off: feed_comment_author_idx leads with author.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    # Replies are one level deep: a reply's parent is always a top-level comment (see add_comment).
    # db_index off: feed_comment_parent_idx.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies", db_index=False
    )
    body = models.CharField(max_length=COMMENT_MAX_LENGTH)
    created = models.DateTimeField(default=timezone.now)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="feed_comment_body_not_empty"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="feed_comment_not_own_parent"),
        ]
        indexes = [
            # Post page: a post's comments oldest first.
            models.Index(fields=["post", "created"], name="feed_comment_post_idx"),
            # Ranking affinity: my recent comments, grouped by the post's author.
            models.Index(fields=["author", "-created"], name="feed_comment_author_idx"),
            # Post page: the replies of the page's comments (parent IN ...), oldest first.
            models.Index(fields=["parent", "created"], name="feed_comment_parent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.author_id} on {self.post_id}: {self.body[:40]}"

    def get_absolute_url(self) -> str:
        return f"{self.post.get_absolute_url()}#c-{self.code}"


class PostView(models.Model):
    """A post someone has been shown (played in a feed or opened). For You pushes these down."""

    # db_index off: feed_postview_once leads with user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # db_index off: feed_postview_post_idx.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+", db_index=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One row per person and post (the first view); also For You's "seen?" lookup index.
            models.UniqueConstraint(fields=["user", "post"], name="feed_postview_once"),
        ]
        indexes = [
            # Deleting a post deletes its views (the cascade looks them up by post).
            models.Index(fields=["post"], name="feed_postview_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.post_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        LIKE = "like", "Like"
        COMMENT = "comment", "Comment"
        REPLY = "reply", "Reply"
        FOLLOW = "follow", "New follower"
        REMIX = "remix", "Remix"
        GENERATION_SUCCEEDED = "generation_succeeded", "Video ready"
        GENERATION_FAILED = "generation_failed", "Video failed"
        CAMEO_USE = "cameo_use", "Cameo used"
        CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn"

    # db_index off: both named indexes lead with recipient.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    # The other foreign keys keep Django's plain indexes: deleting a user, post, comment or
    # generation deletes the notifications about it, and block_user deletes by actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    generation = models.ForeignKey(
        "generation.Generation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)
    # The sentence itself, for kinds whose rows it names may be gone (a withdrawn, deleted video).
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # Notifications page: mine, newest first.
            models.Index(fields=["recipient", "-created"], name="feed_notif_recipient_idx"),
            # The bell: my unread count on every page, from a small partial index.
            models.Index(fields=["recipient"], condition=Q(read=False), name="feed_notif_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @property
    def text(self) -> str:
        """The sentence shown in the list and pushed to the bell. Reads actor (select_related it)."""
        who = f"@{self.actor.handle}" if self.actor_id else "Someone"
        match self.kind:
            case self.Kind.LIKE:
                return f"{who} liked your video."
            case self.Kind.COMMENT:
                return f"{who} commented on your video."
            case self.Kind.REPLY:
                return f"{who} replied to your comment."
            case self.Kind.FOLLOW:
                return f"{who} started following you."
            case self.Kind.REMIX:
                return f"{who} remixed your video."
            case self.Kind.CAMEO_USE:
                return f"{who} used your cameo."
            case self.Kind.GENERATION_SUCCEEDED:
                return "Your video is ready."
            case self.Kind.GENERATION_FAILED:
                return "Your video could not be made."
        return self.message or "Something happened."

    def target_url(self) -> str:
        if self.kind == self.Kind.CAMEO_USE:
            # The draft is someone else's; the owner sees and controls it from their cameo page.
            return reverse("cameos:list")
        if self.comment_id and self.post_id:
            return reverse("feed:post", args=[self.post.code]) + f"#c-{self.comment.code}"
        if self.post_id:
            return reverse("feed:post", args=[self.post.code])
        if self.generation_id:
            return reverse("generation:detail", args=[self.generation.code])
        if self.actor_id:
            return reverse("feed:profile", args=[self.actor.handle])
        return reverse("feed:notifications")


class FeedSettings(models.Model):
    """How someone wants their For You: a steering line, non-personalised, a scroll limit.

    A row exists only once the person changed something; until then `for_user` gives the
    defaults (teens start non-personalised with a scroll limit)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    steering = models.CharField(max_length=200, blank=True)
    non_personalised = models.BooleanField(default=False)
    # Videos before a "take a break?" card; 0 = no limit.
    scroll_limit = models.PositiveSmallIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"feed settings of {self.user_id}"

    @classmethod
    def defaults_for(cls, user) -> "FeedSettings":
        teen = user.is_authenticated and user.is_teen
        return cls(
            user_id=user.pk,
            non_personalised=teen,
            scroll_limit=settings.FEED_TEEN_SCROLL_LIMIT if teen else 0,
        )

    @classmethod
    def for_user(cls, user) -> "FeedSettings":
        """The person's settings, or the defaults (unsaved). One query; none when anonymous."""
        if not user.is_authenticated:
            return cls(non_personalised=False, scroll_limit=0)
        return cls.objects.filter(user=user.pk).first() or cls.defaults_for(user)


class NotInterested(models.Model):
    """ "Not interested" on a post: it leaves For You, posts like it sink and its author a little."""

    # db_index off: feed_notinterested_once leads with user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # db_index off: feed_notinterested_post_idx.
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+", db_index=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Once per person and post; also ranking's "did I dismiss this?" and the list, by user.
            models.UniqueConstraint(fields=["user", "post"], name="feed_notinterested_once"),
        ]
        indexes = [
            # Deleting a post deletes the marks on it (the cascade looks them up by post).
            models.Index(fields=["post"], name="feed_notinterested_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} not interested in {self.post_id}"
