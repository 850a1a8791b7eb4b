"""What can be reported, and the moderator outcomes on each kind of target.

This is the one place where moderation reaches into the other apps, through their public models
and actions: feed (Post: `hidden`, `mature`, `delete_post`; Comment: `delete_comment`), accounts
(User profiles) and cameos (Cameo; revoking is `cameos.actions.controls.delete_cameo`). A report addresses its target by kind and public code, never by primary key;
cases store the target generically (ContentType + id).
"""

from django.apps import apps
from django.db.models import Model
from django.http import Http404
from django.urls import reverse

from cameos.actions.controls import delete_cameo
from feed import actions as feed_actions
from feed.models import Post
from moderation.models import Case

# kind -> (app label, model name, field that addresses it in URLs)
REPORTABLE = {
    "post": ("feed", "Post", "code"),
    "comment": ("feed", "Comment", "code"),
    "user": ("accounts", "User", "handle"),
    "cameo": ("cameos", "Cameo", "code"),
}

OUTCOMES_BY_KIND = {
    "post": [Case.Outcome.HIDE_POST, Case.Outcome.DELETE_POST, Case.Outcome.MARK_MATURE],
    "comment": [Case.Outcome.DELETE_COMMENT],
    "user": [],
    "cameo": [Case.Outcome.REVOKE_CAMEO],
}
ACCOUNT_OUTCOMES = [Case.Outcome.WARN, Case.Outcome.SUSPEND, Case.Outcome.BAN]


class OutcomeUnavailable(Exception):
    """This outcome doesn't apply to this target (or its app can't do it yet)."""


def model_for(kind: str) -> type[Model] | None:
    """The model of a reportable kind, or None while its app doesn't have it."""
    if kind not in REPORTABLE:
        return None
    app_label, model_name, _ = REPORTABLE[kind]
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def kind_of(target: Model) -> str | None:
    for kind, (app_label, model_name, _) in REPORTABLE.items():
        if target._meta.app_label == app_label and target._meta.object_name == model_name:
            return kind
    return None


def code_of(target: Model) -> str:
    return str(getattr(target, REPORTABLE[kind_of(target)][2]))


def find_reportable(viewer, kind: str, code: str) -> Model:
    """The target `viewer` wants to report, if they may see it; Http404 otherwise (as for a
    missing one: nothing private leaks through the report form)."""
    model = model_for(kind)
    if model is None:
        raise Http404("Nothing to report here.")
    field = REPORTABLE[kind][2]
    if kind == "user":
        rows = model.objects.filter(is_active=True, handle__iexact=code.lstrip("@"))
    elif kind == "cameo":
        # Cameos are addressed by an unguessable code: whoever has it has seen the cameo.
        rows = model.objects.live().filter(**{field: code})
    elif hasattr(model.objects, "visible_to"):
        rows = model.objects.visible_to(viewer).filter(**{field: code})
    else:
        rows = model.objects.filter(**{field: code})
    target = rows.first()
    if target is None:
        raise Http404("Nothing to report here.")
    return target


def owner_of(target: Model):
    """The person a target belongs to: author, owner, or the profile itself."""
    if kind_of(target) == "user":
        return target
    for name in ("author", "owner"):
        if hasattr(target, name):
            return getattr(target, name)
    return None


def owner_id_of(target: Model) -> int | None:
    """The owner's id without a query (for lists of targets)."""
    if kind_of(target) == "user":
        return target.pk
    for name in ("author_id", "owner_id"):
        if hasattr(target, name):
            return getattr(target, name)
    return None


def describe(target: Model) -> str:
    """A line that names the target in the queue and the audit log, still readable later."""
    kind = kind_of(target) or target._meta.model_name
    owner = owner_of(target)
    if kind == "user":
        return f"Profile @{target.handle}"
    by = f" by @{owner.handle}" if owner is not None else ""
    return f"{kind.capitalize()} {code_of(target)}{by}"[:200]


def describe_for_people(target: Model) -> str:
    """What the reporter sees ("@ana's video “Corgi at sunset”"): named by caption and author,
    never by an internal code."""
    kind = kind_of(target)
    owner = owner_of(target)
    whose = f"@{owner.handle}'s" if owner is not None else "a"
    match kind:
        case "user":
            return f"@{target.handle}'s profile"
        case "post":
            return f"{whose} video “{target.title[:60]}”"
        case "comment":
            return f"{whose} comment “{target.body[:60]}”"
        case "cameo":
            return f"{whose} cameo" + (f" “{target.name[:60]}”" if getattr(target, "name", "") else "")
    return describe(target)


def snapshot(target: Model) -> str:
    """The text moderators need to judge the target, kept on the case."""
    match kind_of(target):
        case "post":
            generation = target.generation
            return f"Caption: {target.caption}\nPrompt: {generation.prompt}"
        case "comment":
            return f"Comment: {target.body}"
        case "user":
            return f"Name: {target.display_name}\nBio: {target.bio}"
        case "cameo":
            fields = ("name", "description", "preferences", "restrictions")
            return "\n".join(
                f"{f.capitalize()}: {getattr(target, f)}" for f in fields if getattr(target, f, "")
            )
    return str(target)


def preview(target: Model | None) -> dict:
    """What the admin shows of a target: poster, video and page URLs (staff may load them all)."""
    if target is None:
        return {}
    match kind_of(target):
        case "post":
            return {
                "poster": target.media_url("poster") if target.generation.poster else "",
                "video": target.media_url("video") if feed_actions.post_video_file(target) else "",
                "page": target.get_absolute_url(),
            }
        case "comment":
            return {"page": target.get_absolute_url()}
        case "user":
            return {
                "poster": reverse("feed:avatar", args=[target.handle]) if target.avatar else "",
                "page": target.get_absolute_url(),
            }
        case "cameo":
            page = target.get_absolute_url() if hasattr(target, "get_absolute_url") else ""
            return {"page": page}
    return {}


def outcomes_for(kind: str) -> list[str]:
    return [*OUTCOMES_BY_KIND.get(kind, []), *ACCOUNT_OUTCOMES, Case.Outcome.DISMISS]


# --- outcomes on content (account outcomes live in moderation.actions) -------------------------


def hide_post(post: Post) -> None:
    """Take the post down for everyone but staff."""
    feed_actions.hide_posts(Post.objects.filter(pk=post.pk))


def mark_mature(post: Post) -> None:
    """Teens no longer see the post."""
    feed_actions.mark_posts_mature(Post.objects.filter(pk=post.pk))


def delete_post(post: Post) -> None:
    feed_actions.delete_post(post)


def delete_comment(moderator, comment) -> None:
    feed_actions.delete_comment(moderator, comment)


def revoke_cameo(moderator, cameo, reason: str) -> None:
    """Revoke a cameo through the cameos app: `cameos.actions.controls.delete_cameo` erases its media and
    embeddings, stops queued and running videos using it, deletes the videos already made with it
    (a misused likeness shouldn't stay up anywhere) and records it in the cameo's consent ledger,
    with the moderator as the actor."""
    delete_cameo(cameo, actor=moderator, keep_videos=False, why="revoked by a moderator")


def apply_content_outcome(outcome: str, moderator, target: Model, reason: str) -> None:
    """Carry out a content outcome; account outcomes and dismissal change no content."""
    kind = kind_of(target)
    if outcome not in OUTCOMES_BY_KIND.get(kind, []):
        raise OutcomeUnavailable(f"“{Case.Outcome(outcome).label}” doesn't apply to a {kind}.")
    match outcome:
        case Case.Outcome.HIDE_POST:
            hide_post(target)
        case Case.Outcome.MARK_MATURE:
            mark_mature(target)
        case Case.Outcome.DELETE_POST:
            delete_post(target)
        case Case.Outcome.DELETE_COMMENT:
            delete_comment(moderator, target)
        case Case.Outcome.REVOKE_CAMEO:
            revoke_cameo(moderator, target, reason)
