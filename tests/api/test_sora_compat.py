"""What a program written for the closed Sora API needs besides the video endpoints: characters in
requests, every size and length the `openai` package offers, model discovery, `expires_at`, and
429s that the package's own retry understands."""

import time
from datetime import timedelta
from typing import get_args

import openai
import pytest
from django.utils import timezone
from openai.types import VideoSeconds, VideoSize

from api.actions import delete_expired_videos
from cameos.models import Cameo, CameoUse
from generation.engine.capabilities import get_capabilities
from generation.models import Generation
from tests.api.conftest import DjangoTestTransport, openai_client
from tests.conftest import approve, make_cameo, post_of

ORIENTATION = {
    "720x1280": "portrait",
    "1024x1792": "portrait",
    "1280x720": "landscape",
    "1792x1024": "landscape",
}


def code_of(video_id: str) -> str:
    return video_id.removeprefix("video_")


# --- characters ----------------------------------------------------------------------------


def test_characters_put_my_character_and_a_cameo_i_may_use_in_the_video(api, user, other_user):
    rex = make_cameo(user, kind=Cameo.Kind.CHARACTER, name="Rex")
    friend = make_cameo(other_user, permission=Cameo.Permission.APPROVED)
    approve(friend, user)
    video = api.videos.create(
        prompt="Rex and a friend fly a kite",
        seconds="1",
        extra_body={"characters": [f"char_{rex.code}", f"char_{friend.code}"]},
    )
    generation = Generation.objects.get(code=code_of(video.id))
    assert set(CameoUse.objects.filter(generation=generation).values_list("cameo_id", flat=True)) == {
        rex.pk,
        friend.pk,
    }


def test_characters_may_be_sent_as_objects_with_an_id(api, user):
    rex = make_cameo(user, kind=Cameo.Kind.CHARACTER, name="Rex")
    video = api.videos.create(
        prompt="Rex runs", seconds="1", extra_body={"characters": [{"id": f"char_{rex.code}"}]}
    )
    assert CameoUse.objects.get(generation__code=code_of(video.id)).cameo == rex


def test_a_cameo_i_may_not_use_is_refused_as_on_the_site(api, other_user):
    theirs = make_cameo(other_user, permission=Cameo.Permission.ONLY_ME)
    for ids in ([f"char_{theirs.code}"], ["char_NoSuchCameo"]):
        with pytest.raises(openai.BadRequestError) as caught:
            api.videos.create(prompt="us together", seconds="1", extra_body={"characters": ids})
        assert caught.value.code == "cameo_consent"
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    "ids, param",
    [
        (["char_a", "char_b", "char_c"], "characters"),
        (["char_bad id!"], "characters"),
        (["char_"], "characters"),
    ],
)
def test_more_than_two_or_malformed_characters_are_a_bad_request(api, ids, param):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt="a crowd", seconds="1", extra_body={"characters": ids})
    assert caught.value.param == param
    assert not Generation.objects.exists()


# --- sizes and lengths ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["tiny", "ltx2"])
def test_every_size_and_length_the_package_offers_is_made_or_refused_naming_the_allowed_ones(
    api, settings, profile
):
    settings.SORA_VIDEO_PROFILE = profile
    caps = get_capabilities(profile)
    for size in get_args(VideoSize):
        for seconds in get_args(VideoSeconds):
            if int(seconds) in caps.durations:
                video = api.videos.create(prompt="waves", size=size, seconds=seconds)
                generation = Generation.objects.get(code=code_of(video.id))
                assert (generation.orientation, generation.seconds) == (ORIENTATION[size], int(seconds))
                width, height = caps.output_sizes[ORIENTATION[size]]
                assert video.size == f"{width}x{height}"  # what is actually delivered
                generation.delete()
            else:
                with pytest.raises(openai.BadRequestError) as caught:
                    api.videos.create(prompt="waves", size=size, seconds=seconds)
                assert caught.value.param == "seconds"
                assert ", ".join(str(s) for s in caps.durations) in caught.value.message
    assert profile == "tiny" or not Generation.objects.exists()


# --- models --------------------------------------------------------------------------------


def test_models_are_listed_and_each_one_is_accepted(api, settings):
    settings.GENERATION_MAX_ACTIVE_PER_USER = 20
    models = api.models.list().data
    names = [m.id for m in models]
    assert {"sora-2", "sora-2-pro", settings.SORA_VIDEO_PROFILE} <= set(names)
    assert all(m.object == "model" and m.owned_by == "sorasite" for m in models)
    assert api.models.retrieve("sora-2-pro").id == "sora-2-pro"
    for name in names:
        api.videos.create(prompt="waves", model=name, seconds="1")
    assert Generation.objects.count() == len(names)
    with pytest.raises(openai.NotFoundError) as caught:
        api.models.retrieve("gpt-image-1")
    assert caught.value.code == "model_not_found"


def test_models_need_a_token(client):
    assert client.get("/v1/models").status_code == 401


# --- expires_at and retention --------------------------------------------------------------


def test_expires_at_is_set_only_under_a_retention_setting(api, user, make_generation, settings):
    done = make_generation(user, status="succeeded")
    assert api.videos.retrieve("video_" + done.code).expires_at is None
    settings.VIDEO_RETENTION_DAYS = 7
    expected = int((done.finished + timedelta(days=7)).timestamp())
    assert api.videos.retrieve("video_" + done.code).expires_at == expected
    assert [v.expires_at for v in api.videos.list()] == [expected]
    assert (
        api.videos.retrieve("video_" + make_generation(user, status="queued").code).expires_at is None
    )  # still queued
    post_of(done)
    assert api.videos.retrieve("video_" + done.code).expires_at is None  # posted videos stay


def test_the_sweeper_deletes_expired_unposted_videos_with_their_files(user, make_generation, settings):
    old = timezone.now() - timedelta(days=8)
    expired = make_generation(user, status="succeeded")
    Generation.objects.filter(pk=expired.pk).update(finished=old)
    posted = make_generation(user, status="succeeded")
    Generation.objects.filter(pk=posted.pk).update(finished=old)
    post_of(posted)
    young = make_generation(user, status="failed")
    assert delete_expired_videos() == 0  # no retention setting: nothing goes
    settings.VIDEO_RETENTION_DAYS = 7
    assert delete_expired_videos() == 1
    assert set(Generation.objects.values_list("pk", flat=True)) == {posted.pk, young.pk}
    assert not expired.video.storage.exists(expired.video.name)


# --- rate limits ---------------------------------------------------------------------------


class RecordingTransport(DjangoTestTransport):
    def __init__(self):
        super().__init__()
        self.log = []

    def handle_request(self, request):
        sent = time.monotonic()
        response = super().handle_request(request)
        self.log.append((sent, time.monotonic(), response.status_code, response.headers))
        return response


def test_a_429_tells_the_package_how_long_to_wait_and_its_retry_waits_that_long(user, make_token, settings):
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_RATES = {**settings.RATE_LIMIT_RATES, "api": "2/3s/user"}
    token = make_token(user)

    strict = openai_client(token, transport=DjangoTestTransport())
    # Start at the beginning of a window so the third call is refused and the wait is ~3 s.
    time.sleep(3 - time.time() % 3)
    strict.videos.list()
    strict.videos.list()
    with pytest.raises(openai.RateLimitError) as caught:
        strict.videos.list()
    headers = caught.value.response.headers
    assert caught.value.code == "rate_limit_exceeded"
    assert headers["x-ratelimit-limit-requests"] == "2" and headers["x-ratelimit-remaining-requests"] == "0"
    retry_after = int(headers["retry-after"])
    assert 1 <= retry_after <= 3 and headers["x-ratelimit-reset-requests"] == f"{retry_after}s"

    transport = RecordingTransport()
    patient = openai_client(token, transport=transport).with_options(max_retries=2)
    patient.videos.list()  # refused once (same window), then retried by the package after Retry-After
    (_, refused_at, status, headers), (sent_again, _, ok, _) = transport.log
    assert (status, ok) == (429, 200)
    waited = sent_again - refused_at
    assert int(headers["retry-after"]) - 0.1 <= waited <= int(headers["retry-after"]) + 1.0


def test_quota_429s_say_when_a_slot_frees(user, make_token, make_generation, settings):
    token = make_token(user)
    for _ in range(settings.GENERATION_MAX_ACTIVE_PER_USER):
        make_generation(user, status="queued")
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client(token, transport=DjangoTestTransport()).videos.create(prompt="one more", seconds="1")
    headers = caught.value.response.headers
    assert headers["retry-after"] == "10"
    assert headers["x-ratelimit-limit-requests"] == str(settings.GENERATION_MAX_ACTIVE_PER_USER)

    # The daily quota frees a slot 24 h after the oldest counted video: longer than the package
    # waits, so its retry gives up at once instead of hammering the server.
    Generation.objects.filter(owner=user).update(status="succeeded")
    settings.QUOTA_DAILY_GENERATIONS = settings.GENERATION_MAX_ACTIVE_PER_USER
    transport = RecordingTransport()
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client(token, transport=transport).with_options(max_retries=2).videos.create(
            prompt="again", seconds="1"
        )
    assert len(transport.log) == 1
    retry_after = int(caught.value.response.headers["retry-after"])
    assert 23 * 3600 < retry_after <= 24 * 3600
    assert caught.value.response.headers["x-ratelimit-reset-requests"] in (
        "24h0m0s",
        f"23h{(retry_after % 3600) // 60}m{retry_after % 60}s",
    )
