"""A person's data: finding it across the apps, exporting it as a zip, and erasing it.

What belongs to a person is found from the models themselves: every row of every installed app
with a foreign key to them (except the links in NOT_THEIRS), and every row hanging off something
they own (a cameo's media and ledger, a draft's API extension), so an app that lands later is
exported and erased without changes here.

Export: `write_export(user, file)` writes a zip of profile.json, one JSON file per kind of row
(drafts, posts, comments, likes, follows, cameos, ledger, ...) and every file those rows point to
(videos, posters, avatar, cameo media) under media/. Secrets (password hash, API token digests)
are left out.

Erasure: `erase_user(user)` deletes the account, its rows and every file they point to (media,
cameos and their embeddings included; other people's videos made with their cameo are deleted
too, as when they delete a cameo themselves). What other people need is kept only as anonymised
remnants:
- a comment of theirs that others replied to stays as "[deleted]" by the placeholder account
  (MODERATION_GHOST_HANDLE), so the replies keep their thread; other comments go;
- reports they filed stay, without the reporter, so cases keep their counts; cases and audit
  entries about them stay, with their handle replaced;
- remixes other people made of their posts stay, with the link to the erased source cut (the
  remix's own prompt and video are the remixer's).
Like and comment counters on other people's posts are brought down to match. Entries in other
people's cameo ledgers that name them keep the name inside their hashed data: changing it would
break the ledger's chain (cameos.ledger); their foreign keys are cleared.
"""

import json
import zipfile
from typing import IO

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from cameos.actions.controls import delete_cameo
from cameos.models import Cameo, Withdrawal
from feed.actions import delete_comment, delete_post
from feed.models import Comment, Like, Post
from generation.actions import delete_generation
from generation.models import Generation
from moderation.models import Case, ModerationAction

# (app_label, model_name, field): foreign keys to a user that don't make the row theirs.
NOT_THEIRS = {
    ("accounts", "block", "blocked"),  # who blocked them is the blocker's business
    ("feed", "notification", "actor"),  # other people's notifications about them
    ("moderation", "case", "target_owner"),
    ("moderation", "case", "resolved_by"),
    ("moderation", "moderationaction", "moderator"),
    ("moderation", "moderationaction", "affected_user"),
    ("moderation", "usersanction", "created_by"),
    ("moderation", "publicfigure", "account"),
}
SKIPPED_APPS = {"admin", "auth", "contenttypes", "sessions"}
SECRET_FIELDS = {"password", "digest", "key", "secret", "token"}
FRIENDLY_NAMES = {
    "generation.generation": "drafts",
    "feed.post": "posts",
    "feed.comment": "comments",
    "feed.like": "likes",
    "accounts.follow": "follows",
    "feed.notification": "notifications",
    "feed.postview": "views",
    "accounts.invite": "invites",
    "accounts.apitoken": "api_tokens",
    "accounts.block": "blocks",
    "cameos.cameo": "cameos",
    "cameos.cameomedia": "cameo_media",
    "cameos.ledgerentry": "cameo_ledger",
    "cameos.cameouse": "cameo_uses",
    "cameos.approval": "cameo_approvals",
    "cameos.withdrawal": "withdrawn_videos",
    "moderation.report": "reports_filed",
    "moderation.policydecision": "refused_prompts",
    "moderation.usersanction": "sanctions",
    "moderation.moderationnotice": "moderation_notices",
}
PROFILE_FIELDS = ["handle", "email", "display_name", "bio", "birth_date", "date_joined", "last_login"]


def user_links(model: type[models.Model]) -> list[models.ForeignKey]:
    """The foreign keys of `model` that make a row belong to the user they point to."""
    label = (model._meta.app_label, model._meta.model_name)
    return [
        field
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is User and (*label, field.name) not in NOT_THEIRS
    ]


def owner_links(model: type[models.Model]) -> list[str]:
    """Lookups reaching a user through a parent that has an `owner` (a cameo's media and ledger,
    a draft's extension): `cameo__owner`. Parents with an `author` (posts) aren't followed, so
    other people's comments and likes on someone's posts aren't counted as theirs; nor are links
    to the same model (a remix's `source` draft is the remixer's, not the source's owner's)."""
    lookups = []
    for field in model._meta.concrete_fields:
        if not field.is_relation or field.related_model in (User, model, None):
            continue
        owner = next((f for f in field.related_model._meta.concrete_fields if f.name == "owner"), None)
        if owner is not None and owner.is_relation and owner.related_model is User:
            lookups.append(f"{field.name}__owner")
    return lookups


def owned_querysets(user: User) -> list[tuple[type[models.Model], models.QuerySet]]:
    """(model, rows of `user`) for every installed model that can have rows of theirs."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label in SKIPPED_APPS or model is User or model._meta.proxy:
            continue
        lookups = [field.name for field in user_links(model)] + owner_links(model)
        if not lookups:
            continue
        condition = Q()
        for lookup in lookups:
            condition |= Q(**{lookup: user})
        found.append((model, model._default_manager.filter(condition).distinct().order_by("pk")))
    return found


def file_fields(model: type[models.Model]) -> list[models.FileField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


# --- export --------------------------------------------------------------------------------


def export_name(model: type[models.Model]) -> str:
    label = f"{model._meta.app_label}.{model._meta.model_name}"
    return FRIENDLY_NAMES.get(label, label)


def serialise(model: type[models.Model], rows: models.QuerySet) -> tuple[list[dict], list[str]]:
    """Rows as JSON-ready dicts (users by @handle, other rows by their public code where they
    have one) and the storage names of the files they point to. One query."""
    lookups, renames = ["pk"], {"pk": "id"}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in SECRET_FIELDS or isinstance(field, models.BinaryField):
            continue
        if field.is_relation and field.related_model is User:
            lookups.append(f"{field.name}__handle")
            renames[f"{field.name}__handle"] = field.name
        elif field.is_relation and any(f.name == "code" for f in field.related_model._meta.concrete_fields):
            lookups.append(f"{field.name}__code")
            renames[f"{field.name}__code"] = field.name
        else:
            lookups.append(field.attname)
            renames[field.attname] = field.attname
    files = {f.attname for f in file_fields(model)}
    out, names = [], []
    for values in rows.values(*lookups):
        row = {}
        for lookup, value in values.items():
            if lookup in files:
                if value:
                    names.append(value)
                    value = f"media/{value}"
            elif lookup.endswith("__handle") and value is not None:
                value = f"@{value}"
            row[renames[lookup]] = value
        out.append(row)
    return out, names


def write_export(user: User, file: IO[bytes]) -> dict[str, int]:
    """Write `user`'s zip to the binary `file`; returns the number of rows per JSON file.

    Reads every owned row once and copies the files from storage into the zip (stored, not
    recompressed: the media is already compressed). Run it where a long request is acceptable,
    or in a job for large accounts.
    """
    counts: dict[str, int] = {}
    media: list[tuple[str, models.FileField]] = []
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        profile = {name: getattr(user, name) for name in PROFILE_FIELDS}
        profile["teen"] = user.is_teen
        if user.avatar:
            profile["avatar"] = f"media/{user.avatar.name}"
            media.append((user.avatar.name, user.avatar.storage))
        archive.writestr("profile.json", json.dumps(profile, cls=DjangoJSONEncoder, indent=2))
        for model, rows in owned_querysets(user):
            data, names = serialise(model, rows)
            if not data:
                continue
            name = export_name(model)
            counts[name] = len(data)
            archive.writestr(f"{name}.json", json.dumps(data, cls=DjangoJSONEncoder, indent=2))
            storage = file_fields(model)[0].storage if file_fields(model) else None
            media += [(file_name, storage) for file_name in names]
        written = set()
        withheld = withdrawn_folders(user)
        for name, storage in media:
            if name in written or storage is None or not storage.exists(name):
                continue
            if any(folder in name for folder in withheld):
                continue
            written.add(name)
            with storage.open(name, "rb") as source, archive.open(f"media/{name}", "w") as target:
                while chunk := source.read(1024 * 1024):
                    target.write(chunk)
        archive.writestr("README.txt", readme(user, counts, len(written)))
    return counts


def withdrawn_folders(user: User) -> set[str]:
    """Storage folders of the user's videos whose consent ended: they show someone else's likeness,
    so they leave the site with nobody, their author's data export included (the rows stay)."""
    codes = Withdrawal.objects.filter(author=user).values_list("generation_code", flat=True)
    return {f"/{code}/" for code in codes}


def readme(user: User, counts: dict[str, int], files: int) -> str:
    lines = [
        f"Everything {settings.SITE_NAME} holds about @{user.handle}, exported {timezone.now():%Y-%m-%d %H:%M} UTC.",
        "",
        "profile.json: your account. Each other .json file lists one kind of record:",
        *(f"  {name}.json: {count}" for name, count in sorted(counts.items())),
        f"media/: {files} files (videos, posters, avatar, cameo recordings) the records point to.",
        "People are named by @handle; posts, drafts and comments by their public code.",
    ]
    return "\n".join(lines) + "\n"


# --- erasure -------------------------------------------------------------------------------


def ghost_user() -> User:
    """The placeholder account that anonymised remnants are attributed to (inactive, no login)."""
    handle = settings.MODERATION_GHOST_HANDLE
    ghost, created = User.objects.get_or_create(
        handle=handle, defaults={"email": "", "is_active": False, "password": make_password(None)}
    )
    if ghost.is_active or ghost.email:
        raise ImproperlyConfigured(
            f"@{handle} is a real account; set MODERATION_GHOST_HANDLE to a free handle."
        )
    return ghost


def erase_user(user: User) -> dict[str, int]:
    """Erase `user`: rows, files and account, keeping only the remnants the module docstring
    lists. Returns how many of each kind of row were removed or kept as remnants.

    Irreversible. Takes the account's posts and drafts through feed's and generation's own
    delete actions (queued jobs are cancelled, running ones told to stop).
    """
    summary: dict[str, int] = {}
    # Every file first: some go with their rows' cascades (a draft's API extension) unseen.
    files = owned_files(user)
    for model, rows in owned_querysets(user):
        if count := rows.count():
            summary[export_name(model)] = count
    for post in Post.objects.filter(author=user).select_related("generation"):
        delete_post(post)
    for generation in Generation.objects.filter(owner=user):
        delete_generation(generation)
    erase_cameos(user)

    with transaction.atomic():
        ghost = None
        for comment in Comment.objects.filter(author=user).order_by("pk"):
            if Comment.objects.filter(parent=comment).exclude(author=user).exists():
                ghost = ghost or ghost_user()
                Comment.objects.filter(pk=comment.pk).update(author=ghost, body="[deleted]")
                summary["comments kept as [deleted]"] = summary.get("comments kept as [deleted]", 0) + 1
            elif Comment.objects.filter(pk=comment.pk).exists():  # a reply may have gone with its parent
                delete_comment(comment.author, comment)
        liked = list(Like.objects.filter(user=user).values_list("post_id", flat=True))
        Post.objects.filter(pk__in=liked).update(like_count=Greatest(F("like_count") - 1, 0))
        Like.objects.filter(user=user).delete()
        anonymise_moderation_records(user)
        User.objects.filter(pk=user.pk).delete()
        transaction.on_commit(lambda: delete_files(files))
    return summary


def owned_files(user: User) -> list[tuple[str, object]]:
    """(storage name, storage) of every file the person's rows point to, avatar included."""
    files = []
    for model, rows in owned_querysets(user):
        fields = {f.attname: f.storage for f in file_fields(model)}
        if fields:
            for values in rows.values(*fields):
                files += [(name, fields[attname]) for attname, name in values.items() if name]
    if user.avatar:
        files.append((user.avatar.name, user.avatar.storage))
    return files


def erase_cameos(user: User) -> None:
    """Delete the person's cameos through the cameos app (`cameos.actions.controls.delete_cameo`): their
    media and embeddings are erased, and the videos made with them, everyone's, are deleted and
    stopped. Their consent ledger goes with the account."""
    for cameo in Cameo.objects.live().filter(owner=user):
        delete_cameo(cameo, actor=user, keep_videos=False, why="account deleted")


def delete_files(files: list[tuple[str, object]]) -> None:
    """Delete files from storage, except any a remaining draft still uses (demo clips share)."""
    for name, storage in dict(files).items():
        shared = Generation.objects.filter(
            Q(video=name) | Q(poster=name) | Q(sprite=name) | Q(preview=name) | Q(source_image=name)
        ).exists()
        if not shared:
            try:
                storage.delete(name)
            except OSError:
                pass


def anonymise_moderation_records(user: User) -> None:
    """Cases and audit entries about `user` keep their facts but lose the handle."""
    handle = f"@{user.handle}"
    erased = f"@[erased #{user.pk}]"
    for case in Case.objects.filter(target_owner=user):
        Case.objects.filter(pk=case.pk).update(
            target_repr=case.target_repr.replace(handle, erased), snapshot=""
        )
    entries = ModerationAction.objects.filter(Q(affected_user=user) | Q(moderator=user))
    for entry in entries.only("pk", "target_repr", "moderator_repr"):
        # The one change the audit log allows: erasure of a person's name (not via save()).
        ModerationAction.objects.filter(pk=entry.pk).update(
            target_repr=entry.target_repr.replace(handle, erased),
            moderator_repr=entry.moderator_repr.replace(handle, erased),
        )
