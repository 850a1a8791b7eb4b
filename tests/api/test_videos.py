"""The video endpoints through the real `openai` package, on the test client (no worker runs)."""

import io

import openai
import pytest
from django.conf import settings
from PIL import Image

from api.models import Extension
from generation.actions import ConsentRefused, GenerationRefused, PolicyRefused, QuotaExceeded
from generation.engine.capabilities import get_capabilities
from generation.models import Generation
from provenance.c2pa_manifest import read_manifest
from provenance.models import Export

CAPS = get_capabilities("tiny")


def by_id(video_id: str) -> dict:
    """How to pass `video={"id": ...}` to edit/extend: this `openai` release's extract_files
    rejects a dict at `video` client-side, so the reference goes in extra_body (sent as video[id])."""
    return {"video": openai.omit, "extra_body": {"video": {"id": video_id}}}


def code_of(video_id: str) -> str:
    assert video_id.startswith("video_")
    return video_id.removeprefix("video_")


# --- create --------------------------------------------------------------------------------


def test_create_queues_a_generation_and_returns_a_video_object(api, user):
    video = api.videos.create(prompt="  a cat surfing at dawn  ", seconds="2", size="1280x720")
    generation = Generation.objects.get(code=code_of(video.id))
    assert generation.owner == user and generation.prompt == "a cat surfing at dawn"
    assert generation.seconds == 2 and generation.orientation == "landscape"
    assert video.object == "video" and video.status == "queued" and video.progress == 0
    assert video.seconds == "2" and video.size == "320x192"  # what the tiny model delivers
    assert video.prompt == "a cat surfing at dawn" and video.remixed_from_video_id is None
    assert video.created_at == int(generation.created.timestamp()) and video.completed_at is None
    assert video.model and "/" not in video.model  # never the server's model path
    assert video.error is None


@pytest.mark.parametrize(
    "size, orientation",
    [("720x1280", "portrait"), ("1024x1792", "portrait"), ("1280x720", "landscape"),
     ("1792x1024", "landscape"), ("192x320", "portrait"), ("320x192", "landscape")],
)  # fmt: skip
def test_every_package_size_and_the_models_own_map_onto_an_orientation(api, size, orientation):
    video = api.videos.create(prompt="waves", size=size, seconds="1")
    assert Generation.objects.get(code=code_of(video.id)).orientation == orientation


def test_defaults_are_a_four_second_portrait_video(api):
    video = api.videos.create(prompt="waves")
    generation = Generation.objects.get(code=code_of(video.id))
    assert (generation.seconds, generation.orientation) == (4, "portrait")


def test_seconds_the_model_cant_make_are_refused_naming_the_allowed_ones(api):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt="waves", seconds="12")
    assert caught.value.param == "seconds" and caught.value.code == "invalid_value"
    assert "1, 2, 4" in caught.value.message
    assert not Generation.objects.exists()


def test_unknown_sizes_and_models_are_refused_naming_the_allowed_ones(api):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt="waves", size="640x480")
    assert (
        caught.value.param == "size"
        and "720x1280" in caught.value.message
        and "192x320" in caught.value.message
    )
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt="waves", model="dall-e-2")
    assert caught.value.param == "model" and "sora-2" in caught.value.message


def test_sora_model_names_are_accepted(api):
    api.videos.create(prompt="waves", model="sora-2-pro", seconds="1")
    assert Generation.objects.count() == 1


@pytest.mark.parametrize("prompt", ["   ", "x" * 1001, "nul \x00 byte"])
def test_bad_prompts_are_refused(api, prompt):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt=prompt, seconds="1")
    assert caught.value.param == "prompt"


def test_an_uploaded_input_reference_becomes_the_source_image(api):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 96), "orange").save(buffer, format="JPEG")
    video = api.videos.create(
        prompt="the orange card falls",
        seconds="1",
        input_reference=("card.jpg", buffer.getvalue(), "image/jpeg"),
    )
    generation = Generation.objects.get(code=code_of(video.id))
    with generation.source_image.open("rb") as fh, Image.open(fh) as image:
        assert image.format == "PNG" and image.size == (64, 96)


def test_an_input_reference_that_isnt_an_image_is_refused(api):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create(prompt="x", seconds="1", input_reference=("a.png", b"not an image", "image/png"))
    assert caught.value.param == "input_reference"


def test_too_many_active_videos_is_a_rate_limit_error(api, user, make_generation):
    for _ in range(settings.GENERATION_MAX_ACTIVE_PER_USER):
        make_generation(user, status="queued")
    with pytest.raises(openai.RateLimitError) as caught:
        api.videos.create(prompt="one more", seconds="1")
    assert caught.value.code == "rate_limit_exceeded" and "in progress" in caught.value.message
    assert caught.value.type == "requests"


def test_an_unreachable_queue_is_a_503_and_stores_nothing(api, settings):
    queues = {name: dict(config) for name, config in settings.RQ_QUEUES.items()}
    queues[settings.GENERATION_QUEUE]["URL"] = "redis://127.0.0.1:9/0"
    settings.RQ_QUEUES = queues
    with pytest.raises(openai.InternalServerError) as caught:
        api.videos.create(prompt="waves", seconds="1")
    assert caught.value.status_code == 503 and caught.value.code == "service_unavailable"
    assert not Generation.objects.exists()


def test_the_sites_refusals_map_onto_status_codes():
    from api.errors import ApiError
    from api.videos.inputs import site_rules

    for exc, status, code in [
        (GenerationRefused("no"), 400, "refused"),
        (PolicyRefused("Not that.", category="violence"), 400, "moderation_blocked"),
        (ConsentRefused("@ada's cameo isn't yours to use."), 400, "cameo_consent"),
        (QuotaExceeded("slow down"), 429, "rate_limit_exceeded"),
    ]:
        with pytest.raises(ApiError) as caught, site_rules():
            raise exc
        assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, str(exc))


# --- read, list, delete --------------------------------------------------------------------


def test_retrieve_reports_status_progress_and_failure(api, user, make_generation):
    running = make_generation(user, status="running", stage="generating", step=2, total_steps=4)
    raw = api.videos.with_raw_response.retrieve("video_" + running.code)
    assert raw.parse().status == "in_progress" and raw.headers["openai-poll-after-ms"] == "1000"
    assert 0 < api.videos.retrieve("video_" + running.code).progress < 100
    failed = make_generation(user, status="failed", error="The GPU ran out of memory.")
    video = api.videos.retrieve("video_" + failed.code)
    assert video.status == "failed" and video.completed_at is not None
    assert (video.error.code, video.error.message) == ("generation_failed", "The GPU ran out of memory.")
    cancelled = make_generation(user, status="cancelled")
    assert api.videos.retrieve("video_" + cancelled.code).error.code == "cancelled"


def test_completed_videos_report_one_hundred_percent(api, user, make_generation):
    done = make_generation(user, status="succeeded", seconds=1, shade=60)
    video = api.videos.retrieve("video_" + done.code)
    assert (video.status, video.progress, video.size) == ("completed", 100, "192x320")


def test_others_videos_are_not_found_never_forbidden(api, other_user, make_generation):
    theirs = make_generation(other_user, status="succeeded")
    for call in (
        lambda: api.videos.retrieve("video_" + theirs.code),
        lambda: api.videos.delete("video_" + theirs.code),
        lambda: api.videos.download_content("video_" + theirs.code),
        lambda: api.videos.remix("video_" + theirs.code, prompt="mine now"),
        lambda: api.videos.extend(**by_id("video_" + theirs.code), prompt="more", seconds="1"),
        lambda: api.videos.edit(**by_id("video_" + theirs.code), prompt="other"),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.code == "not_found"
    assert Generation.objects.filter(owner=other_user).count() == 1


def test_staff_too_see_only_their_own_videos(make_api, staff_user, other_user, make_generation):
    theirs = make_generation(other_user, status="queued")
    api = make_api(staff_user)
    with pytest.raises(openai.NotFoundError):
        api.videos.retrieve("video_" + theirs.code)
    assert api.videos.list().data == []


@pytest.mark.parametrize("bad_id", ["nope", "video_", "video_../../x", "video_" + "a" * 40, "video_ab\n"])
def test_malformed_ids_are_not_found(api, bad_id):
    with pytest.raises(openai.NotFoundError):
        api.videos.retrieve(bad_id)


def test_list_pages_through_my_videos_newest_first(api, user, other_user, make_generation):
    mine = [make_generation(user, status="queued") for _ in range(5)]
    make_generation(other_user, status="queued")
    first = api.videos.list(limit=2)
    assert [v.id for v in first.data] == ["video_" + g.code for g in reversed(mine[-2:])]
    assert first.has_more and first.last_id == first.data[-1].id
    everything = [video.id for video in api.videos.list(limit=2)]  # the package follows last_id
    assert everything == ["video_" + g.code for g in reversed(mine)]
    oldest_first = [video.id for video in api.videos.list(limit=3, order="asc")]
    assert oldest_first == ["video_" + g.code for g in mine]
    last = api.videos.list(limit=2, after="video_" + mine[1].code)
    assert [v.id for v in last.data] == ["video_" + mine[0].code] and not last.has_more


def test_list_takes_a_fixed_number_of_queries(api, user, make_generation, django_assert_num_queries):
    source = make_generation(user, status="succeeded")
    for _ in range(4):
        make_generation(user, source=source, status="queued")
    api.videos.list()  # the token's last_used is touched on the first call only
    with django_assert_num_queries(2):  # the token, the page (sources and extensions joined)
        api.videos.list(limit=10)
    with django_assert_num_queries(3):  # plus the cursor
        api.videos.list(limit=10, after="video_" + source.code)


def test_listing_after_an_unknown_id_or_with_bad_limits_is_a_bad_request(
    api, user, other_user, make_generation
):
    theirs = make_generation(other_user, status="queued")
    for kwargs in ({"after": "video_" + theirs.code}, {"after": "bogus"}, {"limit": 0}, {"limit": 101}):
        with pytest.raises(openai.BadRequestError):
            api.videos.list(**kwargs)


def test_delete_removes_the_video_and_its_files(api, user, make_generation):
    done = make_generation(user, status="succeeded")
    path = done.video.path
    deleted = api.videos.delete("video_" + done.code)
    assert (deleted.id, deleted.object, deleted.deleted) == ("video_" + done.code, "video.deleted", True)
    assert not Generation.objects.filter(pk=done.pk).exists()
    import os

    assert not os.path.exists(path)
    with pytest.raises(openai.NotFoundError):
        api.videos.retrieve("video_" + done.code)


# --- content -------------------------------------------------------------------------------


def test_content_streams_each_variant_of_a_completed_video(api, user, make_generation):
    done = make_generation(user, status="succeeded")
    video = api.videos.download_content("video_" + done.code)
    assert video.response.headers["content-type"] == "video/mp4"
    # What leaves the site is the signed, watermarked export, never the unmarked draft.
    assert video.content != done.video.read()
    assert video.content == Export.objects.get(generation=done).file.read()
    assert read_manifest(video.content)["present"]
    # The thumbnail is WebP, as OpenAI's was; the sprite sheet stays a JPEG.
    for variant, kind, fmt in (("thumbnail", "image/webp", "WEBP"), ("spritesheet", "image/jpeg", "JPEG")):
        image = api.videos.download_content("video_" + done.code, variant=variant)
        assert image.response.headers["content-type"] == kind
        picture = Image.open(io.BytesIO(image.content))
        assert picture.format == fmt
        assert picture.size == Image.open(done.poster if variant == "thumbnail" else done.sprite).size


def test_content_answers_range_requests(api, user, make_generation):
    done = make_generation(user, status="succeeded")
    part = api.videos.with_raw_response.download_content(
        "video_" + done.code, extra_headers={"Range": "bytes=0-99"}
    )
    assert part.status_code == 206 and len(part.content) == 100


def test_content_before_completion_is_a_bad_request(api, user, make_generation):
    queued = make_generation(user, status="queued")
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.download_content("video_" + queued.code)
    assert caught.value.code == "video_not_ready"


def test_an_unknown_variant_is_a_bad_request(api, user, make_generation):
    done = make_generation(user, status="succeeded")
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.download_content("video_" + done.code, variant="poster")
    assert caught.value.param == "variant"


# --- remix, edit, extend -------------------------------------------------------------------


def test_remix_starts_from_my_completed_video_with_its_length_and_orientation(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=2, orientation="landscape")
    video = api.videos.remix("video_" + source.code, prompt="now at night")
    remix = Generation.objects.get(code=code_of(video.id))
    assert (remix.source, remix.prompt, remix.seconds, remix.orientation) == (
        source,
        "now at night",
        2,
        "landscape",
    )
    assert video.remixed_from_video_id == "video_" + source.code and video.status == "queued"


def test_unfinished_videos_cant_be_remixed_edited_or_extended(api, user, make_generation):
    queued = make_generation(user, status="queued")
    for call in (
        lambda: api.videos.remix("video_" + queued.code, prompt="x"),
        lambda: api.videos.edit(**by_id("video_" + queued.code), prompt="x"),
        lambda: api.videos.extend(**by_id("video_" + queued.code), prompt="x", seconds="1"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            call()
        assert caught.value.code == "video_not_ready"


def test_edit_regenerates_from_the_video_with_a_new_prompt(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=2)
    video = api.videos.edit(**by_id("video_" + source.code), prompt="make it snow")
    edit = Generation.objects.get(code=code_of(video.id))
    assert (edit.source, edit.prompt, edit.seconds) == (source, "make it snow", 2)


def test_uploading_a_video_to_edit_or_extend_is_refused(api):
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.edit(video=("clip.mp4", b"\x00" * 100, "video/mp4"), prompt="x")
    assert caught.value.param == "video"


def test_extend_generates_the_new_segment_and_reports_the_total(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=2, orientation="landscape")
    video = api.videos.extend(**by_id("video_" + source.code), prompt="and then it rains", seconds="1")
    extension = Generation.objects.get(code=code_of(video.id))
    assert (extension.source, extension.seconds, extension.orientation) == (source, 1, "landscape")
    assert extension.api_extension.source_seconds == 2
    assert video.seconds == "3" and video.remixed_from_video_id == "video_" + source.code
    assert api.videos.retrieve(video.id).seconds == "3"


def test_extensions_may_not_pass_the_models_longest_video(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=4)
    longest = make_generation(user, status="succeeded", seconds=4)
    Extension.objects.create(generation=longest, source_seconds=CAPS.max_total_seconds - 4)
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.extend(**by_id("video_" + longest.code), prompt="more", seconds="1")
    assert caught.value.param == "seconds" and str(CAPS.max_total_seconds) in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.extend(**by_id("video_" + source.code), prompt="more", seconds="3")
    assert "1, 2, 4" in caught.value.message


def test_an_extension_delivers_the_source_and_the_segment_stitched(api, user, make_generation):
    from generation import media

    source = make_generation(user, status="succeeded", seconds=2, shade=30)
    segment = make_generation(user, status="succeeded", seconds=1, source=source, shade=220)
    Extension.objects.create(generation=segment, source_seconds=2)
    content = api.videos.download_content("video_" + segment.code).content
    extension = Extension.objects.get(generation=segment)
    assert extension.video and Export.objects.get(generation=segment).file.read() == content
    frames, _ = media.read_frames(extension.video.path)
    assert len(frames) == 49 + 25
    assert frames[10, 5, 5, 0] < 60 and frames[-10, 5, 5, 0] > 180  # source first, then the segment
    info = media.probe(extension.video.path)
    assert abs(info.video_seconds - info.audio_seconds) < 0.05
    # Made once: the second download reuses the stitched file.
    assert api.videos.download_content("video_" + segment.code).content == content
    export_file = Export.objects.get(generation=segment).file
    api.videos.delete("video_" + segment.code)
    assert not extension.video.storage.exists(extension.video.name)
    assert not export_file.storage.exists(export_file.name)


# --- characters, errors, docs --------------------------------------------------------------


def test_characters_are_character_cameos_of_their_owner(api, make_api, other_user, tmp_path):
    import numpy as np

    from cameos.models import Cameo
    from generation import media
    from tests.conftest import frames_for

    frames = frames_for(2, "landscape", 90)
    media.write_mp4(tmp_path / "rex.mp4", frames, 24, np.zeros((2, 48000), np.float32), 24000)
    created = api.videos.create_character(
        name="Rex", video=("rex.mp4", (tmp_path / "rex.mp4").read_bytes(), "video/mp4")
    )
    assert created.id.startswith("char_") and created.name == "Rex"
    cameo = Cameo.objects.get(code=created.id.removeprefix("char_"))
    assert cameo.kind == Cameo.Kind.CHARACTER and cameo.owner.handle == "alice"
    assert api.videos.get_character(created.id).name == "Rex"

    with pytest.raises(openai.NotFoundError):
        make_api(other_user).videos.get_character(created.id)
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.create_character(name="Junk", video=("rex.mp4", b"\x00" * 10, "video/mp4"))
    assert caught.value.code == "invalid_character"
    assert not Cameo.objects.filter(name="Junk").exists()


def test_errors_have_the_openai_shape(client, user, make_token):
    response = client.get("/v1/videos/video_nope", headers={"Authorization": "Bearer " + make_token(user)})
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    for path in ("/v1/nothing/here", "/v1/", "/v1"):
        unknown = client.get(path)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    wrong_method = client.put("/v1/videos")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert set(wrong_method["Allow"].split(", ")) == {"GET", "POST"}


def test_the_schema_and_docs_are_served(client):
    schema = client.get("/v1/openapi.json").json()
    assert "/v1/videos" in schema["paths"] and "/v1/videos/{video_id}/content" in schema["paths"]
    docs = client.get("/v1/docs")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content and b"cdn" not in docs.content
    assert client.get("/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/v1/docs/assets/settings.py").status_code == 404


def test_a_storyboard_says_how_it_was_rendered(api, user, make_generation):
    one_pass = make_generation(user, status="succeeded", storyboard_mode="one_pass")
    single = make_generation(user, status="succeeded")
    assert api.videos.retrieve("video_" + one_pass.code).storyboard_mode == "one_pass"
    assert api.videos.retrieve("video_" + single.code).storyboard_mode is None


def test_an_edit_with_a_range_is_a_retake_of_that_range(api, user, make_generation):
    source = make_generation(user, status="succeeded", seconds=2, duration=2.0)
    reference = by_id("video_" + source.code)
    reference["extra_body"].update(start_seconds="0.5", end_seconds="1.5")
    video = api.videos.edit(**reference, prompt="the kite turns red")
    retake = Generation.objects.get(code=code_of(video.id))
    assert (retake.source, retake.retake_start, retake.retake_end, retake.seconds) == (source, 0.5, 1.5, 2)
    assert video.seconds == "2"

    for bounds, param in (
        ({"start_seconds": "0.5"}, "end_seconds"),
        ({"start_seconds": "x", "end_seconds": "1"}, "start_seconds"),
    ):
        reference = by_id("video_" + source.code)
        reference["extra_body"].update(bounds)
        with pytest.raises(openai.BadRequestError) as caught:
            api.videos.edit(**reference, prompt="x")
        assert caught.value.param == param
    reference = by_id("video_" + source.code)
    reference["extra_body"].update(start_seconds="1", end_seconds="5")
    with pytest.raises(openai.BadRequestError) as caught:
        api.videos.edit(**reference, prompt="x")
    assert "inside the video" in caught.value.message
    assert Generation.objects.filter(source=source).count() == 1
