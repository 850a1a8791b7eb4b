import pytest
from django.urls import reverse

from generation.models import Generation
from tests.conftest import queued_generation

CREATE = "/create/"


def form_data(**overrides) -> dict:
    data = {
        "prompt": "a lighthouse in a storm, thunder and waves",
        "seconds": "1",
        "orientation": "portrait",
        "seed": "",
        "shots-TOTAL_FORMS": "0",
        "shots-INITIAL_FORMS": "0",
        "shots-MIN_NUM_FORMS": "0",
        "shots-MAX_NUM_FORMS": "6",
    }
    data.update(overrides)
    return data


def storyboard(n: int, seconds: str = "1") -> dict:
    data = {"use_storyboard": "on", "prompt": "", "shots-TOTAL_FORMS": str(n)}
    for i in range(n):
        data[f"shots-{i}-prompt"] = f"shot number {i}"
        data[f"shots-{i}-seconds"] = seconds
        data[f"shots-{i}-ORDER"] = str(n - i)  # reversed on purpose
    return data


@pytest.mark.django_db
def test_valid_prompt_queues_one_job_after_commit(
    user_client, user, rq_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(CREATE, form_data(seed="42"))
    generation = Generation.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == generation.get_absolute_url()
    assert generation.seed == 42 and generation.status == "queued"
    assert rq_queue.count == 1
    assert rq_queue.jobs[0].args == (generation.pk,)


@pytest.mark.django_db
def test_blank_seed_gets_a_random_stored_seed(user_client, user, rq_queue):
    user_client.post(CREATE, form_data())
    assert Generation.objects.get(owner=user).seed >= 0


@pytest.mark.django_db
def test_storyboard_keeps_the_order_the_person_chose(user_client, user, rq_queue):
    user_client.post(CREATE, form_data(**storyboard(3)))
    generation = Generation.objects.get(owner=user)
    assert [s["prompt"] for s in generation.storyboard] == ["shot number 2", "shot number 1", "shot number 0"]
    assert generation.seconds == 3 and generation.shots == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, message",
    [
        (form_data(prompt=""), "Describe the video"),
        (form_data(prompt="x" * 1001), "at most 1000"),
        (form_data(seconds="7"), "not one of the available choices"),
        (form_data(seed="-1"), "greater than or equal to 0"),
        (form_data(seed="abc"), "whole number"),
        (form_data(orientation="diagonal"), "not one of the available choices"),
        (form_data(**storyboard(1)), "at least 2 shots"),
        (form_data(**storyboard(7)), "at most 6"),
        (form_data(**storyboard(2, seconds="9")), "not one of the available choices"),
    ],
)
def test_invalid_forms_queue_nothing(user_client, rq_queue, data, message):
    response = user_client.post(CREATE, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Generation.objects.count() == 0
    assert rq_queue.count == 0


@pytest.mark.django_db
def test_active_job_limit_per_user(user_client, user, rq_queue, settings):
    settings.GENERATION_MAX_ACTIVE_PER_USER = 2
    for _ in range(2):
        assert user_client.post(CREATE, form_data()).status_code == 302
    response = user_client.post(CREATE, form_data())
    assert response.status_code == 400
    assert "in progress" in response.content.decode()
    assert Generation.objects.count() == 2


@pytest.mark.django_db
def test_redis_down_at_submit_gives_a_clear_message_and_no_row(user_client, monkeypatch):
    """Redis dies between the availability check and the enqueue: the committed row is taken back."""
    from redis import Redis
    from rq import Queue

    from tests.live import free_port

    dead = Queue("gpu", connection=Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5))
    monkeypatch.setattr("generation.queue.gpu_queue", lambda: dead)
    response = user_client.post(CREATE, form_data())
    assert response.status_code == 400
    assert "unavailable" in response.content.decode()
    assert Generation.objects.count() == 0


@pytest.mark.django_db
def test_job_page_and_media_are_only_for_the_owner_and_staff(client, user, other_user, staff_user, tmp_path):
    from django.core.files.base import ContentFile

    generation = queued_generation(user, status="succeeded")
    generation.poster.save("poster.jpg", ContentFile(b"\xff\xd8jpeg"), save=True)
    page = generation.get_absolute_url()
    poster = reverse("generation:media", args=[generation.code, "poster"])

    assert client.get(page).status_code == 302  # anonymous: log in first
    client.force_login(other_user)
    assert client.get(page).status_code == 404
    assert client.get(poster).status_code == 404
    client.force_login(staff_user)
    assert client.get(poster).status_code == 200
    client.force_login(user)
    assert client.get(page).status_code == 200
    response = client.get(poster)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\xff\xd8jpeg"


@pytest.mark.django_db
def test_media_supports_range_requests(user_client, user):
    from django.core.files.base import ContentFile

    generation = queued_generation(user, status="succeeded")
    generation.video.save("video.mp4", ContentFile(bytes(range(256)) * 4), save=True)
    url = reverse("generation:media", args=[generation.code, "video"])
    response = user_client.get(url, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 10-19/1024"
    assert b"".join(response.streaming_content) == bytes(range(10, 20))
    assert user_client.get(url, HTTP_RANGE="bytes=5000-").status_code == 416


@pytest.mark.django_db
def test_cancel_retry_and_delete(user_client, user, other_user, rq_queue):
    generation = queued_generation(user)
    assert user_client.post(reverse("generation:cancel", args=[generation.code])).status_code == 302
    generation.refresh_from_db()
    assert generation.status == "cancelled"

    response = user_client.post(reverse("generation:retry", args=[generation.code]))
    retried = Generation.objects.exclude(pk=generation.pk).get()
    assert response["Location"] == retried.get_absolute_url()
    assert (retried.prompt, retried.seed, retried.status) == (generation.prompt, generation.seed, "queued")

    user_client.force_login(other_user)
    assert user_client.post(reverse("generation:delete", args=[generation.code])).status_code == 404
    user_client.force_login(user)
    user_client.post(reverse("generation:delete", args=[generation.code]))
    assert not Generation.objects.filter(pk=generation.pk).exists()


@pytest.mark.django_db
def test_drafts_page_runs_a_fixed_number_of_queries(client, make_user, django_assert_num_queries):
    owner = make_user("drafter")
    client.force_login(owner)
    queued_generation(owner)
    queued_generation(owner, status="succeeded")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(reverse("generation:drafts"))  # the first page after signing in reads the user
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("generation:drafts"))
    # (notification count,) drafts, queue positions; the session and user come from the cache
    assert len(small.captured_queries) <= 3
    for _ in range(8):
        queued_generation(owner)
        queued_generation(owner, status="running")
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(reverse("generation:drafts"))
    assert response.content.decode().count("data-generation=") == 18


@pytest.mark.django_db
def test_drafts_show_only_my_generations(user_client, user, other_user):
    mine = queued_generation(user)
    theirs = queued_generation(other_user)
    body = user_client.get(reverse("generation:drafts")).content.decode()
    assert mine.code in body and theirs.code not in body


@pytest.mark.django_db
def test_download_gives_the_signed_export_and_never_the_draft(client, user, other_user, tmp_path):
    import numpy as np
    from django.core.files import File

    from generation import media
    from provenance.c2pa_manifest import read_manifest

    generation = queued_generation(user, status="succeeded", check_status="passed")
    frames = np.zeros((24, 320, 192, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 255, 24, dtype=np.uint8)[:, None, None]
    media.write_mp4(tmp_path / "v.mp4", frames, 24, np.zeros((2, 24000), np.float32), 24000)
    with open(tmp_path / "v.mp4", "rb") as fh:
        generation.video.save("video.mp4", File(fh), save=True)
    url = reverse("provenance:download", args=[generation.code])

    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data != generation.video.read()
    assert read_manifest(data)["present"]

    # A video the output check blocked never leaves the site, not even for its owner.
    generation.check_status = "blocked"
    generation.save()
    generation.export.delete()
    response = client.get(url, follow=True)
    assert "content check" in response.content.decode()


@pytest.mark.django_db
def test_the_video_page_says_how_a_storyboard_was_rendered(user_client, user):
    shots = [{"prompt": "a door opens", "seconds": 1}, {"prompt": "a cat walks in", "seconds": 1}]
    generation = queued_generation(user, storyboard=shots, seconds=2, storyboard_mode="one_pass")
    page = user_client.get(generation.get_absolute_url()).content.decode()
    assert 'data-storyboard-mode="one_pass"' in page and "Rendered in one pass" in page
