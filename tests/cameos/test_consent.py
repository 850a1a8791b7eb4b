"""The consent matrix: every permission level × who asks × every path a cameo is used through.

Paths: the Create form (picking the cameo), the API (`POST /v1/videos` with an @mention, through
the real `openai` package), remix (continuing a public post that shows the cameo) and the
worker's re-check right before generating. Levels include the ones before them: approved people
also qualify at "mutuals"; blocked people never qualify, even when approved and mutual.
"""

import openai
import pytest
from django.urls import reverse

from accounts.models import ApiToken
from cameos.actions.consent import check_consent_before_generating
from cameos.models import Cameo, CameoUse, LedgerEntry
from generation.errors import ConsentRefused
from generation.models import Generation
from tests.api.conftest import DjangoTestTransport, openai_client
from tests.conftest import approve, block, follow, generation_with, make_cameo, mutuals, post_of

P = Cameo.Permission
PERSONAS = ["self", "approved", "mutual", "follower", "stranger", "blocked"]
ALLOWED = {
    P.ONLY_ME: {"self"},
    P.APPROVED: {"self", "approved"},
    P.MUTUALS: {"self", "approved", "mutual"},
    P.EVERYONE: {"self", "approved", "mutual", "follower", "stranger"},
}
PATHS = ["web", "api", "remix", "worker"]
CASES = [(level, persona, path) for level in ALLOWED for persona in PERSONAS for path in PATHS]


@pytest.fixture
def people(make_user):
    ada = make_user("ada")
    people = {
        "self": ada,
        "approved": make_user("appr"),
        "mutual": make_user("mutu"),
        "follower": make_user("fan"),
        "stranger": make_user("stranger"),
        "blocked": make_user("blk"),
    }
    mutuals(ada, people["mutual"])
    follow(people["follower"], ada)
    # Everything that could qualify them, and a block that must override it all.
    mutuals(ada, people["blocked"])
    block(ada, people["blocked"])
    return people


def setup_cameo(people, level):
    cameo = make_cameo(people["self"], permission=level)
    approve(cameo, people["approved"])
    approve(cameo, people["blocked"])
    return cameo


def use_on_web(client, user, cameo) -> bool:
    client.force_login(user)
    before = Generation.objects.count()
    response = client.post(
        reverse("generation:create"),
        {
            "prompt": "waving at the camera, birdsong",
            "seconds": "1",
            "orientation": "portrait",
            "cameos": [cameo.code],
            "shots-TOTAL_FORMS": "0",
            "shots-INITIAL_FORMS": "0",
        },
    )
    if response.status_code == 302:
        return True
    assert response.status_code == 400
    assert "isn't available to you" in " ".join(response.context["form"].non_field_errors())
    assert Generation.objects.count() == before
    return False


def use_through_api(client, user, cameo) -> bool:
    api = openai_client(ApiToken.issue(user, "test")[1], transport=DjangoTestTransport())
    before = Generation.objects.count()
    try:
        api.videos.create(prompt=f"@{cameo.owner.handle} waving at the camera", seconds="1")
    except openai.BadRequestError as exc:
        assert exc.body["code"] == "cameo_consent" and "isn't available to you" in exc.body["message"]
        assert Generation.objects.count() == before
        return False
    return True


def use_by_remix(client, user, cameo) -> bool:
    source = generation_with(cameo.owner, [cameo], status=Generation.Status.SUCCEEDED)
    post = post_of(source)
    client.force_login(user)
    before = Generation.objects.count()
    response = client.post(
        reverse("generation:create") + f"?remix={post.code}",
        {
            "prompt": "and then it starts to rain",
            "seconds": "1",
            "orientation": "portrait",
            "remix": post.code,
            "shots-TOTAL_FORMS": "0",
            "shots-INITIAL_FORMS": "0",
        },
    )
    if response.status_code == 302:
        remix = Generation.objects.latest("created")
        assert remix.source_id == source.pk
        assert CameoUse.objects.filter(generation=remix, cameo=cameo, inherited=True).exists()
        return True
    # A blocked person can't even see the post (404); everyone else is told why (400).
    assert response.status_code in (400, 404)
    assert Generation.objects.count() == before
    return False


def use_in_worker(client, user, cameo) -> bool:
    generation = generation_with(user, [cameo])
    try:
        check_consent_before_generating(Generation.objects.select_related("owner").get(pk=generation.pk))
    except ConsentRefused as exc:
        assert "isn't available to you" in str(exc)
        assert CameoUse.objects.get(generation=generation).status == CameoUse.Status.STOPPED
        return False
    return True


USE = {"web": use_on_web, "api": use_through_api, "remix": use_by_remix, "worker": use_in_worker}


@pytest.mark.parametrize("level, persona, path", CASES)
def test_consent_matrix(client, people, level, persona, path):
    cameo = setup_cameo(people, level)
    user = people[persona]

    allowed = USE[path](client, user, cameo)

    assert allowed == (persona in ALLOWED[level])
    assert cameo.may_be_used_by(user) == allowed
    refusals = LedgerEntry.objects.filter(cameo=cameo, kind=LedgerEntry.Kind.BLOCKED)
    if allowed:
        assert not refusals.exists()
        assert LedgerEntry.objects.filter(cameo=cameo, kind=LedgerEntry.Kind.USED, actor=user).exists()
    elif not (path == "remix" and persona == "blocked"):
        assert refusals.filter(actor=user).exists()


def test_blocking_works_both_ways(make_user):
    ada, bob = make_user("ada"), make_user("bob")
    cameo = make_cameo(ada, permission=P.EVERYONE)
    block(bob, ada)

    assert not cameo.may_be_used_by(bob)
    assert cameo.may_be_used_by(ada)


def test_nobody_may_use_a_cameo_that_isnt_verified(make_user):
    ada = make_user("ada")
    cameo = make_cameo(ada, permission=P.EVERYONE)
    Cameo.objects.filter(pk=cameo.pk).update(status=Cameo.Status.CHECKING)

    assert not cameo.may_be_used_by(ada)
    assert not Cameo.objects.usable_by(make_user("bob")).exists()


def test_anonymous_and_inactive_users_may_use_nothing(make_user):
    from django.contrib.auth.models import AnonymousUser

    cameo = make_cameo(make_user("ada"), permission=P.EVERYONE)

    assert not cameo.may_be_used_by(AnonymousUser())
    assert not cameo.may_be_used_by(make_user("gone", is_active=False))
