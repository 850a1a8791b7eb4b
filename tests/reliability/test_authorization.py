"""The authorization matrix: every URL of the site, tried as owner, permitted other, stranger,
blocked and anonymous.

`MATRIX` is one row per (route, object); each row says what each of the five visitors gets.
Every named route of the site's apps must have a row (`test_every_route_has_a_matrix_row`), so
a new URL without one fails the suite. Private things answer 404 to everyone but their owner,
exactly as a code that doesn't exist would; anonymous visitors are sent to log in (pages) or get
a 401 (API); state-changing requests change nothing unless allowed (each row's `effect`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import ApiToken, Block
from api.models import WebhookDelivery, WebhookEndpoint
from cameos.models import Approval, Cameo, CameoUse, Challenge
from feed import actions as feed_actions
from feed.models import Comment, FeedSettings, Follow, Like, NotInterested, Post
from generation.models import Generation
from moderation.models import Report
from tests.reliability.conftest import ROLES, World, body_text

pytestmark = pytest.mark.django_db

APPS = ("accounts", "feed", "cameos", "generation", "moderation", "provenance", "api", "sora_site")

# What a visitor gets.
OK = "ok"  # the page, file or redirect the action leads to (and the action's effect)
REFUSED = "refused"  # an answer that explains a refusal (2xx/3xx), with no effect
BAD = "400"  # a 400 that says what is wrong, with no effect
NOT_FOUND = "404"  # as if the thing didn't exist
LOGIN = "login"  # sent to the login page
UNAUTHORIZED = "401"  # the API's answer without a token


def expect(default: str, anonymous: str = LOGIN, **roles: str) -> dict[str, str]:
    table = dict.fromkeys(ROLES, default)
    table["anonymous"] = anonymous
    table.update(roles)
    return table


def owner_only(anonymous: str = LOGIN) -> dict[str, str]:
    return expect(NOT_FOUND, anonymous, owner=OK)


def signed_in(**roles) -> dict[str, str]:
    return expect(OK, LOGIN, **roles)


def public(**roles) -> dict[str, str]:
    return expect(OK, OK, **roles)


def api_owner_only() -> dict[str, str]:
    return expect(NOT_FOUND, UNAUTHORIZED, owner=OK)


def post_audience(visibility: str, anonymous_ok: str = OK, anonymous_no: str = NOT_FOUND) -> dict:
    """The feed's one visibility rule: owner all, friend (a follower) public+followers, stranger
    and anonymous public, blocked nothing."""
    sees = {
        "owner": True,
        "friend": visibility in ("public", "followers"),
        "stranger": visibility == "public",
        "blocked": False,
        "anonymous": visibility == "public",
    }
    table = {role: OK if sees[role] else NOT_FOUND for role in ROLES}
    table["anonymous"] = anonymous_ok if sees["anonymous"] else anonymous_no
    return table


def none(world: World) -> list:
    return []


@dataclass(frozen=True)
class Row:
    route: str
    method: str
    args: Callable[[World], list]
    expected: dict[str, str]
    label: str = ""
    data: Callable[[World], dict] | None = None
    # True once the request has taken effect; checked against the outcome (OK: must, else: mustn't).
    effect: Callable[[World, object], bool] | None = None
    # Builds what the page would list (the owner's secrets) before the request.
    setup: Callable[[World], object] | None = None
    api: bool = False
    content_type: str = ""
    # Text of the owner's that only the owner (and whoever the row lets see it) may read.
    hidden_from: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.route}[{self.label}]" if self.label else self.route


def give_avatar(person) -> None:
    from io import BytesIO

    from django.core.files.base import ContentFile
    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (160, 160), "teal").save(png, "PNG")
    person.avatar.save("avatar.png", ContentFile(png.getvalue()), save=True)


def cameo_code(permission=Cameo.Permission.APPROVED):
    return lambda w: [w.cameo(permission).code]


def post_code(visibility):
    return lambda w: [w.post(visibility).code]


def video_id(attr="draft"):
    return lambda w: [f"video_{getattr(w, attr).code}"]


NOT_OWNER = ("friend", "stranger", "blocked", "anonymous")
P = Cameo.Permission
V = Post.Visibility


def generation_rows() -> list[Row]:
    rows = [
        Row("generation:create", "get", none, signed_in()),
        Row(
            "generation:create",
            "post",
            none,
            signed_in(),
            label="new",
            data=lambda w: {
                "prompt": "a kite over hills",
                "seconds": "1",
                "orientation": "portrait",
                "shots-TOTAL_FORMS": "0",
                "shots-INITIAL_FORMS": "0",
            },
            effect=lambda w, u: Generation.objects.filter(owner=u, prompt="a kite over hills").exists(),
        ),
        Row("generation:drafts", "get", none, signed_in(), setup=lambda w: w.draft, hidden_from=NOT_OWNER),
        Row("generation:detail", "get", lambda w: [w.draft.code], owner_only()),
        Row(
            "generation:cancel",
            "post",
            lambda w: [w.queued.code],
            owner_only(),
            effect=lambda w, u: Generation.objects.get(pk=w.queued.pk).status != "queued",
        ),
        Row(
            "generation:retry",
            "post",
            lambda w: [w.failed.code],
            owner_only(),
            effect=lambda w, u: Generation.objects.filter(owner=w.owner, status="queued").exists(),
        ),
        Row(
            "generation:retake",
            "post",
            lambda w: [w.draft.code],
            owner_only(),
            data=lambda w: {"prompt": "now it snows", "start": "0.25", "end": "0.75"},
            effect=lambda w, u: Generation.objects.filter(source=w.draft, retake_start=0.25).exists(),
        ),
        Row(
            "generation:delete",
            "post",
            lambda w: [w.draft.code],
            owner_only(),
            effect=lambda w, u: not Generation.objects.filter(pk=w.draft.pk).exists(),
        ),
        Row("provenance:download", "get", lambda w: [w.draft.code], owner_only()),
    ]
    for variant in ("video", "poster", "sprite", "preview", "source"):
        rows.append(
            Row(
                "generation:media", "get", lambda w, v=variant: [w.draft.code, v], owner_only(), label=variant
            )
        )
    return rows


def feed_rows() -> list[Row]:
    rows = [
        Row("feed:home", "get", none, public(), setup=lambda w: w.post("only_me"), hidden_from=NOT_OWNER),
        Row(
            "feed:following",
            "get",
            none,
            signed_in(),
            setup=lambda w: w.post("only_me"),
            hidden_from=NOT_OWNER,
        ),
        Row(
            "feed:notifications",
            "get",
            none,
            signed_in(),
            setup=lambda w: w.notification,
            # The friend wrote the comment, so only they and the owner know its words.
            hidden_from=("stranger", "blocked", "anonymous"),
        ),
        Row("feed:healthz", "get", none, public()),
        Row(
            "feed:steer",
            "post",
            none,
            signed_in(),
            data=lambda w: {"steering": "more cooking"},
            effect=lambda w, u: FeedSettings.objects.filter(user=u, steering="more cooking").exists(),
        ),
        Row(
            "feed:feed_settings",
            "get",
            none,
            signed_in(),
            # The owner's steering line is theirs alone to read.
            setup=lambda w: feed_actions.save_feed_settings(w.owner, steering=f"more {w.SECRET}"),
            hidden_from=NOT_OWNER,
        ),
        Row(
            "feed:feed_settings",
            "post",
            none,
            signed_in(),
            label="save",
            data=lambda w: {"steering": "", "non_personalised": "on", "scroll_limit": "20"},
            effect=lambda w, u: FeedSettings.objects.filter(user=u, scroll_limit=20).exists(),
        ),
        Row(
            "feed:search",
            "get",
            none,
            public(),
            data=lambda w: {"q": "only_me caption"},
            setup=lambda w: w.post("only_me"),
            hidden_from=NOT_OWNER,
        ),
        Row(
            "feed:publish",
            "post",
            lambda w: [w.draft.code],
            owner_only(),
            data=lambda w: {"visibility": "public", "caption": "hi"},
            effect=lambda w, u: Post.objects.filter(generation=w.draft).exists(),
        ),
        Row(
            "feed:avatar",
            "get",
            lambda w: [w.owner.handle],
            public(),
            setup=lambda w: give_avatar(w.owner),
        ),
        Row(
            "feed:profile",
            "get",
            lambda w: [w.owner.handle],
            public(),
            setup=lambda w: w.post("only_me"),
            hidden_from=NOT_OWNER,
        ),
        Row("feed:followers", "get", lambda w: [w.owner.handle], public()),
        Row("feed:following_list", "get", lambda w: [w.owner.handle], public()),
        Row(
            "feed:follow",
            "post",
            lambda w: [w.owner.handle],
            signed_in(owner=REFUSED, blocked=REFUSED),
            data=lambda w: {"follow": "1"},
            # The world's blocked user followed the owner before the block; start them from scratch.
            setup=lambda w: Follow.objects.filter(follower=w.blocked).delete(),
            effect=lambda w, u: Follow.objects.filter(follower=u, followee=w.owner).exists(),
        ),
        Row(
            "feed:block",
            "post",
            lambda w: [w.owner.handle],
            signed_in(owner=REFUSED),
            data=lambda w: {"block": "1"},
            effect=lambda w, u: Block.objects.filter(blocker=u, blocked=w.owner).exists(),
        ),
        Row(
            "feed:unpost",
            "post",
            post_code("public"),
            expect(NOT_FOUND, owner=OK),
            effect=lambda w, u: not Post.objects.filter(pk=w.post("public").pk).exists(),
        ),
        Row(
            "feed:delete",
            "post",
            post_code("public"),
            expect(NOT_FOUND, owner=OK),
            effect=lambda w, u: not Post.objects.filter(pk=w.post("public").pk).exists(),
        ),
        Row(
            "feed:delete_comment",
            "post",
            lambda w: [w.comment.post.code, w.comment.code],
            expect(NOT_FOUND, owner=OK),
            effect=lambda w, u: not Comment.objects.filter(pk=w.comment.pk).exists(),
        ),
    ]
    for visibility in V.values:
        others = () if visibility == "public" else ("stranger", "blocked", "anonymous")
        if visibility == "only_me":
            others = NOT_OWNER
        rows += [
            Row(
                "feed:post",
                "get",
                post_code(visibility),
                post_audience(visibility),
                label=visibility,
                hidden_from=others,
            ),
            Row(
                "feed:media",
                "get",
                lambda w, v=visibility: [w.post(v).code, "poster"],
                post_audience(visibility),
                label=f"{visibility}-poster",
            ),
            Row(
                "feed:seen",
                "post",
                post_code(visibility),
                post_audience(visibility, anonymous_ok=OK, anonymous_no=OK),
                label=visibility,
            ),
            Row(
                "feed:like",
                "post",
                post_code(visibility),
                post_audience(visibility, anonymous_ok=LOGIN, anonymous_no=LOGIN),
                label=visibility,
                data=lambda w: {"like": "1"},
                effect=lambda w, u, v=visibility: Like.objects.filter(post=w.post(v), user=u).exists(),
            ),
            Row(
                "feed:not_interested",
                "post",
                post_code(visibility),
                post_audience(visibility, anonymous_ok=LOGIN, anonymous_no=LOGIN),
                label=visibility,
                effect=lambda w, u, v=visibility: NotInterested.objects.filter(
                    post=w.post(v), user=u
                ).exists(),
            ),
            Row(
                "feed:comment",
                "post",
                post_code(visibility),
                post_audience(visibility, anonymous_ok=LOGIN, anonymous_no=LOGIN),
                label=visibility,
                data=lambda w: {"body": "nice one"},
                effect=lambda w, u, v=visibility: Comment.objects.filter(post=w.post(v), author=u).exists(),
            ),
        ]
    rows.append(
        Row(
            "feed:media",
            "get",
            lambda w: [w.post("followers").code, "video"],
            post_audience("followers"),
            label="followers-video",
        )
    )
    rows.append(
        Row(
            "feed:media",
            "get",
            lambda w: [w.post("public").code, "sprite"],
            post_audience("public"),
            label="public-sprite",
        )
    )
    return rows


def cameo_rows() -> list[Row]:
    rows = [
        Row("cameos:list", "get", none, signed_in(), setup=lambda w: w.cameo(), hidden_from=NOT_OWNER),
        Row("cameos:record", "get", none, signed_in()),
        Row(
            "cameos:challenge",
            "post",
            none,
            signed_in(),
            effect=lambda w, u: Challenge.objects.filter(owner=u).exists(),
        ),
        Row(
            "cameos:upload",
            "post",
            none,
            expect(BAD, owner=OK),
            label="owner's challenge",
            setup=lambda w: w.__dict__.setdefault(
                "challenge", Challenge.objects.create(owner=w.owner, digits="4719", turns=["left", "right"])
            ),
            data=lambda w: {"challenge": w.challenge.nonce, "recording": w.recording_upload()},
            effect=lambda w, u: Cameo.objects.filter(owner=u, kind="person").exists(),
        ),
        Row("cameos:character", "get", none, signed_in()),
        Row(
            "cameos:character",
            "post",
            none,
            signed_in(owner=BAD, friend=BAD, stranger=BAD, blocked=BAD),
            label="no files",
            data=lambda w: {"name": "Rex", "attest": "on"},
            effect=lambda w, u: Cameo.objects.filter(owner=u, kind="character").exists(),
        ),
        Row("cameos:use_poster", "get", lambda w: [w.use.code], owner_only()),
        # The picker's thumbnail: whoever may use the cameo (the approved friend), nobody else.
        Row("cameos:face", "get", cameo_code(), expect(NOT_FOUND, owner=OK, friend=OK)),
        Row(
            "cameos:remove_use",
            "post",
            lambda w: [w.use.code],
            owner_only(),
            effect=lambda w, u: not Generation.objects.filter(pk=w.use.generation_id).exists(),
        ),
        Row(
            "cameos:block",
            "post",
            lambda w: [w.use.code],
            owner_only(),
            effect=lambda w, u: Block.objects.filter(blocker=w.owner, blocked=w.friend).exists(),
        ),
        Row("cameos:status", "get", cameo_code(), owner_only()),
        Row(
            "cameos:settings",
            "post",
            cameo_code(),
            owner_only(),
            data=lambda w: {"permission": "mutuals", "preferences": "", "restrictions": ""},
            effect=lambda w, u: Cameo.objects.get(pk=w.cameo().pk).permission == "mutuals",
        ),
        Row(
            "cameos:approve",
            "post",
            cameo_code(),
            owner_only(),
            data=lambda w: {"handle": w.stranger.handle},
            effect=lambda w, u: Approval.objects.filter(cameo=w.cameo(), user=w.stranger).exists(),
        ),
        Row(
            "cameos:unapprove",
            "post",
            lambda w: [w.cameo().code, w.friend.handle],
            owner_only(),
            effect=lambda w, u: not Approval.objects.filter(cameo=w.cameo(), user=w.friend).exists(),
        ),
        Row("cameos:delete", "get", cameo_code(), owner_only()),
        Row(
            "cameos:delete",
            "post",
            cameo_code(),
            owner_only(),
            label="confirm",
            data=lambda w: {"keep_videos": "on"},
            effect=lambda w, u: Cameo.objects.get(pk=w.cameo().pk).status == Cameo.Status.DELETED,
        ),
        Row(
            "cameos:voice",
            "post",
            cameo_code(),
            expect(NOT_FOUND, owner=BAD),
            label="no file",
            effect=lambda w, u: w.cameo().media.filter(role="voice").exists(),
        ),
        # The owner's switch answers with a redirect either way (refused without a voice sample).
        Row("cameos:voice_use", "post", cameo_code(), owner_only(), data=lambda w: {"use": "on"}),
        Row("cameos:ledger", "get", cameo_code(), owner_only()),
        Row("cameos:media", "get", lambda w: [w.cameo().code, "reference", 0], owner_only()),
        Row(
            "cameos:media", "get", lambda w: [w.cameo().code, "recording", 0], owner_only(), label="recording"
        ),
    ]
    # The cameo's own pages are its owner's at every permission level; the level only decides
    # who may put it in a video (the Create form), where a block beats approval and mutuality.
    uses = {
        P.ONLY_ME: expect(BAD, owner=OK),
        P.APPROVED: expect(BAD, owner=OK, friend=OK),
        P.MUTUALS: expect(BAD, owner=OK, friend=OK),
        P.EVERYONE: expect(OK, blocked=BAD),
    }
    for level, table in uses.items():
        rows += [
            Row("cameos:detail", "get", cameo_code(level), owner_only(), label=level),
            Row(
                "generation:create",
                "post",
                none,
                table,
                label=f"with {level} cameo",
                data=lambda w, lv=level: {
                    "prompt": "waving at the camera",
                    "seconds": "1",
                    "orientation": "portrait",
                    "cameos": [w.cameo(lv).code],
                    "shots-TOTAL_FORMS": "0",
                    "shots-INITIAL_FORMS": "0",
                },
                # A refused attempt is kept as a REFUSED use (the owner sees it), with no video.
                effect=lambda w, u: (
                    CameoUse.objects.filter(user=u, status=CameoUse.Status.USED).exists()
                    and Generation.objects.filter(owner=u, prompt="waving at the camera").exists()
                ),
            ),
        ]
    return rows


def moderation_rows() -> list[Row]:
    report = {"reason": "spam", "note": "please look"}
    made = lambda w, u: Report.objects.filter(reporter=u).exists()  # noqa: E731
    rows = [
        Row("moderation:notices", "get", none, signed_in()),
        Row("moderation:my_data", "get", none, signed_in()),
        Row(
            "moderation:download_my_data",
            "post",
            none,
            signed_in(),
            setup=lambda w: (w.draft, w.post("only_me"), w.token),
            hidden_from=NOT_OWNER,
        ),
        Row("moderation:delete_account", "get", none, signed_in()),
        Row(
            "moderation:delete_account",
            "post",
            none,
            signed_in(owner=BAD, friend=BAD, stranger=BAD, blocked=BAD),
            label="wrong password",
            data=lambda w: {"password": "nope", "handle": w.owner.handle},
            effect=lambda w, u: not type(w.owner).objects.filter(pk=w.owner.pk).exists(),
        ),
        Row(
            "moderation:report",
            "post",
            lambda w: ["user", w.owner.handle],
            signed_in(owner=BAD),
            label="user",
            data=lambda w: report,
            effect=made,
        ),
        Row(
            "moderation:report",
            "post",
            lambda w: ["comment", w.comment.code],
            signed_in(owner=BAD, blocked=NOT_FOUND),
            label="comment",
            data=lambda w: report,
            effect=made,
        ),
        Row(
            "moderation:report",
            "post",
            lambda w: ["cameo", w.cameo().code],
            signed_in(owner=BAD),
            label="cameo",
            data=lambda w: report,
            effect=made,
        ),
        Row(
            "moderation:report",
            "get",
            lambda w: ["nonsense", "x"],
            signed_in(owner=NOT_FOUND, friend=NOT_FOUND, stranger=NOT_FOUND, blocked=NOT_FOUND),
            label="unknown kind",
        ),
    ]
    for visibility in V.values:
        table = post_audience(visibility, anonymous_ok=LOGIN, anonymous_no=LOGIN)
        table["owner"] = BAD  # "You can't report yourself or your own content."
        rows.append(
            Row(
                "moderation:report",
                "post",
                lambda w, v=visibility: ["post", w.post(v).code],
                table,
                label=f"{visibility} post",
                data=lambda w: report,
                effect=made,
            )
        )
    return rows


def account_rows() -> list[Row]:
    return [
        Row("accounts:invite", "get", lambda w: [w.invite.code], public()),
        Row("accounts:invites", "get", none, signed_in(), setup=lambda w: w.invite, hidden_from=NOT_OWNER),
        Row("accounts:edit_profile", "get", none, signed_in()),
        Row(
            "accounts:edit_profile",
            "post",
            none,
            signed_in(),
            label="save",
            data=lambda w: {"display_name": "New Name", "bio": ""},
            effect=lambda w, u: (
                type(w.owner).objects.filter(pk=getattr(u, "pk", None), display_name="New Name").exists()
            ),
        ),
        Row("provenance:verify", "get", none, public()),
        Row(
            "api:tokens",
            "get",
            none,
            signed_in(),
            setup=lambda w: (w.token, webhook(w)),
            hidden_from=NOT_OWNER,
        ),
        Row(
            "api:tokens",
            "post",
            none,
            signed_in(),
            label="create",
            data=lambda w: {"name": "script"},
            effect=lambda w, u: ApiToken.objects.filter(owner=u, name="script").exists(),
        ),
        Row(
            "api:revoke_token",
            "post",
            lambda w: [w.token.pk],
            owner_only(),
            effect=lambda w, u: ApiToken.objects.get(pk=w.token.pk).revoked is not None,
        ),
        Row("api:docs_asset", "get", lambda w: ["swagger-ui.css"], public()),
        Row(
            "api:add_webhook",
            "post",
            none,
            signed_in(),
            data=lambda w: {"url": "http://127.0.0.1:9/mine", "event_types": ["video.completed"]},
            effect=lambda w, u: WebhookEndpoint.objects.filter(
                owner=u, url="http://127.0.0.1:9/mine"
            ).exists(),
        ),
        Row(
            "api:remove_webhook",
            "post",
            lambda w: [webhook(w).pk],
            owner_only(),
            effect=lambda w, u: not WebhookEndpoint.objects.filter(owner=w.owner).exists(),
        ),
        Row(
            "api:test_webhook",
            "post",
            lambda w: [webhook(w).pk],
            owner_only(),
            effect=lambda w, u: WebhookDelivery.objects.filter(endpoint=webhook(w)).exists(),
        ),
    ]


def webhook(world: World) -> WebhookEndpoint:
    """The owner's webhook endpoint (its URL carries the secret word: only the owner may see it)."""
    endpoint = WebhookEndpoint.objects.filter(owner=world.owner).first()
    return endpoint or WebhookEndpoint.objects.create(
        owner=world.owner, url=f"http://127.0.0.1:9/{world.SECRET}", event_types=["video.completed"]
    )


def api_rows() -> list[Row]:
    made = lambda w, u: Generation.objects.filter(owner=u, prompt="a new take").exists()  # noqa: E731
    return [
        Row("api:v1:list_models", "get", none, expect(OK, UNAUTHORIZED), api=True),
        Row("api:v1:retrieve_model", "get", lambda w: ["sora-2"], expect(OK, UNAUTHORIZED), api=True),
        Row("api:v1:openapi-json", "get", none, public(), api=True),
        Row("api:v1:openapi-view", "get", none, public(), api=True),
        # Shadowed on purpose by a JSON 404 (ninja's root view answers with an HTML page).
        Row("api:v1:api-root", "get", none, expect(NOT_FOUND, NOT_FOUND), api=True),
        Row(
            "api:v1:create",
            "post",
            none,
            expect(OK, UNAUTHORIZED),
            api=True,
            data=lambda w: {"prompt": "a new take", "seconds": "1"},
            effect=made,
        ),
        Row(
            "api:v1:list_videos",
            "get",
            none,
            expect(OK, UNAUTHORIZED),
            api=True,
            setup=lambda w: w.draft,
            hidden_from=NOT_OWNER,
        ),
        Row("api:v1:retrieve", "get", video_id(), api_owner_only(), api=True),
        Row(
            "api:v1:delete",
            "delete",
            video_id(),
            api_owner_only(),
            api=True,
            effect=lambda w, u: not Generation.objects.filter(pk=w.draft.pk).exists(),
        ),
        Row("api:v1:download_content", "get", video_id(), api_owner_only(), api=True),
        Row(
            "api:v1:remix",
            "post",
            video_id(),
            api_owner_only(),
            api=True,
            content_type="application/json",
            data=lambda w: {"prompt": "a new take"},
            effect=made,
        ),
        Row(
            "api:v1:edit",
            "post",
            none,
            api_owner_only(),
            api=True,
            data=lambda w: {"prompt": "a new take", "video[id]": f"video_{w.draft.code}"},
            effect=made,
        ),
        Row(
            "api:v1:extend",
            "post",
            none,
            api_owner_only(),
            api=True,
            data=lambda w: {"prompt": "a new take", "seconds": "1", "video[id]": f"video_{w.draft.code}"},
            effect=made,
        ),
        Row(
            "api:v1:create_character",
            "post",
            none,
            expect(BAD, UNAUTHORIZED),
            api=True,
            data=lambda w: {"name": "Rex"},
            effect=lambda w, u: Cameo.objects.filter(owner=u).exists(),
        ),
        Row(
            "api:v1:get_character", "get", lambda w: [f"char_{w.character.code}"], api_owner_only(), api=True
        ),
    ]


def ops_rows() -> list[Row]:
    # Staff only (tests/fleet/test_metrics.py tries staff and the metrics token).
    return [
        Row("sora_site:metrics", "get", none, expect(UNAUTHORIZED, UNAUTHORIZED)),
        Row("sora_site:workers", "get", none, expect(LOGIN, LOGIN)),
    ]


MATRIX: list[Row] = (
    generation_rows() + feed_rows() + cameo_rows() + moderation_rows() + account_rows() + api_rows()
) + ops_rows()
CELLS = [
    pytest.param(row, role, id=f"{row.method.upper()} {row.id} as {role}") for row in MATRIX for role in ROLES
]


def named_routes() -> set[str]:
    """Every named URL pattern of the site's apps, namespaces included, found by walking the resolver."""

    def walk(patterns, namespaces):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = [*namespaces, pattern.namespace] if pattern.namespace else namespaces
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield ":".join([*namespaces, pattern.name])

    return {name for name in walk(get_resolver().url_patterns, []) if name.split(":")[0] in APPS}


def test_every_route_has_a_matrix_row():
    routes = named_routes()
    assert len(routes) > 60  # the walk found the site, not an empty resolver
    covered = {row.route for row in MATRIX}
    assert routes - covered == set(), "routes without a row in MATRIX"
    assert covered - routes == set(), "rows for routes that don't exist"


def send(world: World, row: Row, role: str):
    args = row.args(world)
    data = row.data(world) if row.data else {}
    url = reverse(row.route, args=args)
    if row.api:
        from django.test import Client

        client = Client()
        token = world.token_of(role)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if row.content_type:
            return client.generic(
                row.method.upper(), url, json.dumps(data), content_type=row.content_type, headers=headers
            )
        return getattr(client, row.method)(url, data, headers=headers)
    client = world.client(role)
    if row.method == "get":
        return client.get(url, data)
    if row.method == "post":
        return client.post(url, data)
    return client.generic(row.method.upper(), url)


@pytest.mark.parametrize("row, role", CELLS)
def test_matrix(world, row, role):
    if row.setup:
        row.setup(world)
    user = world.user(role)
    response = send(world, row, role)
    expected = row.expected[role]
    status = response.status_code
    location = response.get("Location", "")

    if expected in (OK, REFUSED):
        assert 200 <= status < 400, f"{status} {location}"
        assert "/accounts/login/" not in location
    elif expected == LOGIN:
        assert status == 302 and "/accounts/login/" in location, status
    else:
        assert status == int(expected), f"{status} {location}"

    body = body_text(response) if status != 302 else ""
    if status == 404 and not row.api:
        assert world.SECRET not in body
    if role in row.hidden_from:
        assert world.SECRET not in body, "another person's private text is on the page"
    if row.effect is not None:
        took_effect = row.effect(world, user)
        assert took_effect == (expected == OK), "no effect" if expected == OK else "changed without the right"


# --- no existence leaks ---------------------------------------------------------------------


PRIVATE_URLS = [
    ("generation:detail", lambda w: [w.draft.code]),
    ("generation:media", lambda w: [w.draft.code, "video"]),
    ("cameos:detail", lambda w: [w.cameo().code]),
    ("cameos:media", lambda w: [w.cameo().code, "reference", 0]),
    ("cameos:use_poster", lambda w: [w.use.code]),
    ("feed:post", lambda w: [w.post("only_me").code]),
    ("feed:media", lambda w: [w.post("only_me").code, "poster"]),
]


@pytest.mark.parametrize("role", NOT_OWNER)
@pytest.mark.parametrize("route, args", PRIVATE_URLS, ids=[name for name, _ in PRIVATE_URLS])
def test_a_private_thing_answers_like_one_that_does_not_exist(world, role, route, args):
    """Same status and same body as a made-up code: nobody learns that the thing exists."""
    real = args(world)
    made_up = ["NoSuchCode123", *real[1:]]
    client = world.client(role)
    answer, control = client.get(reverse(route, args=real)), client.get(reverse(route, args=made_up))
    assert answer.status_code == control.status_code
    assert answer.get("Location", "").split("?")[0] == control.get("Location", "").split("?")[0]
    if answer.status_code == 404:
        assert answer.content == control.content


@pytest.mark.parametrize("role", ["friend", "stranger", "blocked", "anonymous"])
def test_api_answers_another_persons_video_like_a_missing_one(world, role):
    from django.test import Client

    token = world.token_of(role)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    real = Client().get(f"/v1/videos/video_{world.draft.code}", headers=headers)
    made_up = Client().get("/v1/videos/video_NoSuchCode123", headers=headers)
    assert real.status_code == made_up.status_code == (401 if token is None else 404)
    assert real.json()["error"]["code"] == made_up.json()["error"]["code"]


# --- the WebSocket ---------------------------------------------------------------------------


def session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(user) -> WebsocketCommunicator:
    from sora_site.asgi import application

    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


async def drain(communicator, timeout=0.3) -> list[dict]:
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(json.loads(await communicator.receive_from()))
    return events


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
async def test_websocket_events_reach_only_the_owner(make_user, role):
    """Events about the owner's job (published as the worker publishes them) reach the owner's
    socket and nobody else's; asking to `watch` the owner's job gets "No such video."."""
    from generation.events import publish

    owner, friend, stranger, blocked = [
        await sync_to_async(make_user)(n) for n in ("owner", "friend", "stranger", "blocked")
    ]
    await sync_to_async(Follow.objects.create)(follower=friend, followee=owner)
    await sync_to_async(Block.objects.create)(blocker=owner, blocked=blocked)
    generation = await sync_to_async(Generation.objects.create)(
        owner=owner, prompt="Zanzibar", seconds=1, orientation="portrait", seed=1
    )
    user = {"owner": owner, "friend": friend, "stranger": stranger, "blocked": blocked, "anonymous": None}[
        role
    ]
    socket = await connect(user)
    connected, code = await socket.connect()
    if role == "anonymous":
        assert not connected and code == 4401
        return
    assert connected
    await sync_to_async(publish)(owner.pk, await sync_to_async(generation.event)())
    events = await drain(socket)
    await socket.send_to(text_data=json.dumps({"type": "watch", "code": generation.code}))
    reply = json.loads(await socket.receive_from())
    await socket.disconnect()
    if role == "owner":
        assert [e["code"] for e in events] == [generation.code]
        assert reply["code"] == generation.code
    else:
        assert events == []
        assert reply == {"kind": "error", "error": "No such video."}
