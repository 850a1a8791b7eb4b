"""Teen protections: no mature posts in their feeds, no cameo open to everyone, stricter prompts."""

import pytest

from cameos.actions.controls import update_cameo_settings
from cameos.errors import CameoRefused
from cameos.models import Cameo
from feed.models import Post
from generation.errors import PolicyRefused
from moderation import actions, policy
from moderation.models import Case

pytestmark = pytest.mark.django_db


def test_a_post_marked_mature_leaves_teen_feeds(teen, user, make_user, make_post, moderator):
    post = make_post(make_user("author"))
    case = actions.file_report(user, post, "sexual").case
    assert Post.objects.visible_to(teen).filter(pk=post.pk).exists()
    actions.resolve_case(case, moderator, Case.Outcome.MARK_MATURE, "Suggestive")
    assert not Post.objects.visible_to(teen).filter(pk=post.pk).exists()
    assert Post.objects.visible_to(user).filter(pk=post.pk).exists()


def test_teen_home_feed_skips_mature_posts(client, teen, make_user, make_post):
    author = make_user("author")
    make_post(author, caption="for everyone")
    make_post(author, caption="grown-ups only", mature=True)
    client.force_login(teen)
    html = client.get("/").content.decode()
    assert "for everyone" in html and "grown-ups only" not in html


def test_teens_cameo_cannot_be_open_to_everyone(teen):
    cameo = Cameo.objects.create(owner=teen, status="active")
    with pytest.raises(CameoRefused):
        update_cameo_settings(cameo, permission="everyone", preferences="", restrictions="", actor=teen)
    with pytest.raises(PolicyRefused):
        policy.check_cameo_audience(teen, "everyone")
    update_cameo_settings(cameo, permission="approved", preferences="", restrictions="", actor=teen)


def test_teens_get_the_stricter_prompt_policy(teen, user):
    for prompt in ["a sexy dance", "drinking vodka at a party", "a bloody sword fight"]:
        policy.check_generation_request(user, [prompt], [])
        with pytest.raises(PolicyRefused):
            policy.check_generation_request(teen, [prompt], [])
