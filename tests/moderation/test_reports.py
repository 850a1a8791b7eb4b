"""Reports → case → moderator decision → notices → audit entry, through the views, the actions
and the admin, with a moderator who is in the Moderators group and not a superuser."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from cameos.models import Cameo
from feed import actions as feed_actions
from feed.models import Comment, Post
from moderation import actions
from moderation.models import Case, ModerationAction, ModerationNotice, Report, UserSanction
from moderation.targets import OutcomeUnavailable

pytestmark = pytest.mark.django_db


def report_url(kind: str, code: str) -> str:
    return reverse("moderation:report", args=[kind, code])


# --- filing reports ------------------------------------------------------------------------


def test_report_a_post_with_a_reason_and_a_note(user_client, other_user, make_post):
    post = make_post(other_user)
    response = user_client.get(report_url("post", post.code))
    assert response.status_code == 200 and "Harassment or bullying" in response.content.decode()
    response = user_client.post(report_url("post", post.code), {"reason": "harassment", "note": "mean"})
    assert response.status_code == 302 and response["Location"] == post.get_absolute_url()
    report = Report.objects.get()
    assert (report.reason, report.note, report.reporter.handle) == ("harassment", "mean", "alice")
    assert report.case.target == post and report.case.target_owner == other_user
    assert "Prompt: a corgi surfing at sunset" in report.case.snapshot


def test_report_form_renders_in_place_for_htmx(user_client, other_user, make_post):
    post = make_post(other_user)
    headers = {"HX-Request": "true"}
    response = user_client.get(report_url("post", post.code), headers=headers)
    assert b"<html" not in response.content and b"report-form" in response.content
    response = user_client.post(report_url("post", post.code), {"reason": "spam"}, headers=headers)
    assert b"Thanks for your report" in response.content


@pytest.mark.parametrize("kind", ["comment", "user", "cameo"])
def test_report_comments_profiles_and_cameos(client, make_user, make_post, kind):
    author, reporter = make_user("author"), make_user("reporter")
    post = make_post(author)
    targets = {
        "comment": lambda: (feed_actions.add_comment(author, post, "rude words"), "code"),
        "user": lambda: (author, "handle"),
        "cameo": lambda: (Cameo.objects.create(owner=author, status="active"), "code"),
    }
    target, field = targets[kind]()
    client.force_login(reporter)
    response = client.post(report_url(kind, getattr(target, field)), {"reason": "cameo_misuse"})
    assert response.status_code == 302
    assert Case.objects.get().target == target


def test_reports_about_one_target_are_grouped_and_counted(make_user, make_post):
    author = make_user("author")
    post = make_post(author)
    for n in range(3):
        actions.file_report(make_user(f"reporter{n}"), post, "sexual", "")
    actions.file_report(make_user("other"), make_post(author), "spam", "")
    assert Case.objects.count() == 2
    assert Case.objects.for_target(post).get().reports.count() == 3


def test_one_report_per_person_per_case(user, other_user, make_post):
    post = make_post(other_user)
    actions.file_report(user, post, "spam")
    with pytest.raises(actions.ReportRefused):
        actions.file_report(user, post, "sexual")


def test_nobody_reports_themselves(user_client, user, make_post):
    post = make_post(user)
    response = user_client.post(report_url("post", post.code), {"reason": "spam"})
    assert response.status_code == 400 and Report.objects.count() == 0


def test_stranger_cannot_report_what_they_cannot_see(user_client, other_user, make_post):
    hidden = make_post(other_user, visibility=Post.Visibility.ONLY_ME)
    assert user_client.get(report_url("post", hidden.code)).status_code == 404
    assert user_client.get(report_url("post", "no-such-code")).status_code == 404
    assert user_client.get(report_url("nonsense", "x")).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, other_user, make_post):
    post = make_post(other_user)
    response = client.post(report_url("post", post.code), {"reason": "spam"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Report.objects.count() == 0


def test_report_button_shows_for_others_things_only(rf, user, other_user, make_post):
    from django.template.loader import render_to_string

    post = make_post(other_user)
    request = rf.get("/")
    request.user = user
    html = render_to_string("moderation/_report_button.html", {"target": post, "request": request})
    assert report_url("post", post.code) in html
    request.user = other_user
    assert "Report" not in render_to_string(
        "moderation/_report_button.html", {"target": post, "request": request}
    )


# --- outcomes ------------------------------------------------------------------------------


@pytest.fixture
def reported_post(make_user, make_post):
    author, reporter = make_user("author"), make_user("reporter")
    post = make_post(author)
    report = actions.file_report(reporter, post, "sexual", "look at this")
    return post, report.case, author, reporter


def test_hide_post_notifies_reporter_and_author_and_is_audited(reported_post, moderator):
    post, case, author, reporter = reported_post
    entry = actions.resolve_case(case, moderator, Case.Outcome.HIDE_POST, "Nudity")
    post.refresh_from_db()
    assert post.hidden and not Post.objects.visible_to(reporter).filter(pk=post.pk).exists()
    case.refresh_from_db()
    assert (case.status, case.outcome, case.resolved_by) == (Case.Status.RESOLVED, "hide_post", moderator)
    assert (entry.moderator, entry.action, entry.reason) == (moderator, "hide_post", "Nudity")
    assert entry.target_repr == f"Post {post.code} by @author" and entry.affected_user == author
    to_reporter = ModerationNotice.objects.get(recipient=reporter).text
    assert "took the post down" in to_reporter
    # Named for people: whose video and its title, never the post's code.
    assert f"report about @author's video “{post.title[:60]}”" in to_reporter and post.code not in to_reporter
    to_author = ModerationNotice.objects.get(recipient=author).text
    assert "taken down" in to_author and "Reason: Nudity" in to_author


def test_notices_are_pushed_after_commit(
    reported_post, moderator, django_capture_on_commit_callbacks, monkeypatch
):
    from moderation import actions as moderation_actions

    events = []
    monkeypatch.setattr(moderation_actions, "publish", lambda user_id, event: events.append((user_id, event)))
    post, case, author, reporter = reported_post
    with django_capture_on_commit_callbacks(execute=True):
        actions.resolve_case(case, moderator, Case.Outcome.MARK_MATURE, "Borderline")
    kinds = {(user_id, event["kind"]) for user_id, event in events}
    assert kinds == {(reporter.pk, "notification"), (author.pk, "notification")}
    assert all(event["unread"] >= 1 for _, event in events)


def test_mark_mature_hides_the_post_from_teens_only(reported_post, moderator, teen, user):
    post, case, *_ = reported_post
    actions.resolve_case(case, moderator, Case.Outcome.MARK_MATURE, "Borderline")
    assert Post.objects.visible_to(user).filter(pk=post.pk).exists()
    assert not Post.objects.visible_to(teen).filter(pk=post.pk).exists()


def test_delete_post_and_suspend_the_author(
    reported_post, moderator, mailoutbox, django_capture_on_commit_callbacks
):
    post, case, author, reporter = reported_post
    with django_capture_on_commit_callbacks(execute=True):
        actions.resolve_case(
            case, moderator, Case.Outcome.DELETE_POST, "Explicit", sanction="suspend", days=3
        )
    assert not Post.objects.filter(pk=post.pk).exists()
    author.refresh_from_db()
    assert not author.is_active
    sanction = UserSanction.objects.get(user=author)
    assert sanction.kind == "suspension" and sanction.created_by == moderator
    text = ModerationNotice.objects.get(recipient=author).text
    assert "removed" in text and "suspended for 3 days" in text
    assert (
        "removed the post and suspended the account" in ModerationNotice.objects.get(recipient=reporter).text
    )
    assert mailoutbox and mailoutbox[0].to == [author.email]
    assert ModerationAction.objects.get().action == "delete_post"


def test_delete_comment(make_user, make_post, moderator):
    author, commenter, reporter = make_user("author"), make_user("commenter"), make_user("reporter")
    post = make_post(author)
    comment = feed_actions.add_comment(commenter, post, "you are awful")
    case = actions.file_report(reporter, comment, "harassment").case
    actions.resolve_case(case, moderator, Case.Outcome.DELETE_COMMENT, "Insult")
    assert not Comment.objects.filter(pk=comment.pk).exists()
    post.refresh_from_db()
    assert post.comment_count == 0
    assert ModerationNotice.objects.filter(recipient=commenter).exists()


@pytest.mark.parametrize("outcome, active", [("warn", True), ("suspend", False), ("ban", False)])
def test_warn_suspend_or_ban_a_reported_profile(make_user, moderator, outcome, active):
    person, reporter = make_user("person"), make_user("reporter")
    case = actions.file_report(reporter, person, "impersonation").case
    actions.resolve_case(case, moderator, outcome, "Impersonating a celebrity")
    person.refresh_from_db()
    assert person.is_active is active
    assert (
        UserSanction.objects.get(user=person).kind
        == {"warn": "warning", "suspend": "suspension", "ban": "ban"}[outcome]
    )
    assert ModerationAction.objects.get().action == outcome


def test_revoke_a_misused_cameo(make_user, moderator):
    owner, reporter = make_user("owner"), make_user("reporter")
    cameo = Cameo.objects.create(
        owner=owner, kind="character", name="Rex", status="active", attested="2026-01-01T00:00Z"
    )
    case = actions.file_report(reporter, cameo, "impersonation").case
    actions.resolve_case(case, moderator, Case.Outcome.REVOKE_CAMEO, "Impersonates a real person")
    cameo.refresh_from_db()
    assert cameo.status == Cameo.Status.DELETED
    assert cameo.ledger.filter(kind="deleted", actor=moderator).exists()
    assert ModerationAction.objects.get().action == "revoke_cameo"


def test_dismiss_tells_the_reporter_but_not_the_reported(reported_post, moderator):
    post, case, author, reporter = reported_post
    actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "Not nudity")
    assert "doesn't break the community rules" in ModerationNotice.objects.get(recipient=reporter).text
    assert not ModerationNotice.objects.filter(recipient=author).exists()
    post.refresh_from_db()
    assert not post.hidden


def test_outcomes_must_fit_the_target_and_have_a_reason(reported_post, moderator):
    _, case, *_ = reported_post
    with pytest.raises(OutcomeUnavailable):
        actions.resolve_case(case, moderator, Case.Outcome.DELETE_COMMENT, "wrong kind")
    with pytest.raises(OutcomeUnavailable):
        actions.resolve_case(case, moderator, Case.Outcome.HIDE_POST, "  ")
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert ModerationAction.objects.count() == 0


def test_a_case_is_decided_once(reported_post, moderator):
    _, case, *_ = reported_post
    actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "fine")
    with pytest.raises(actions.CaseClosed):
        actions.resolve_case(case, moderator, Case.Outcome.HIDE_POST, "changed my mind")


def test_a_new_report_after_a_decision_opens_a_new_case(reported_post, moderator, make_user):
    post, case, *_ = reported_post
    actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "fine")
    actions.file_report(make_user("late"), post, "spam")
    assert Case.objects.for_target(post).open().count() == 1 and Case.objects.count() == 2


def test_moderators_cannot_sanction_staff(make_user, moderator, staff_user):
    case = actions.file_report(make_user("reporter"), staff_user, "harassment").case
    with pytest.raises(OutcomeUnavailable):
        actions.resolve_case(case, moderator, Case.Outcome.BAN, "no")


# --- the audit log -------------------------------------------------------------------------


def test_audit_entries_cannot_be_changed_or_deleted(reported_post, moderator):
    _, case, *_ = reported_post
    entry = actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "fine")
    entry.reason = "rewritten"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


# --- the admin -----------------------------------------------------------------------------


def test_moderators_are_a_group_with_moderation_and_feed_permissions(moderator):
    group = Group.objects.get(name="Moderators")
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {
        "change_case",
        "view_moderationaction",
        "change_policyrule",
        "change_post",
        "change_cameo",
    } <= codenames
    assert not moderator.is_superuser and moderator.has_perm("moderation.change_case")


def test_queue_lists_open_cases_grouped_with_counts(client, moderator, reported_post, make_user, make_post):
    post, case, *_ = reported_post
    actions.file_report(make_user("second"), post, "harassment")
    closed = actions.file_report(make_user("third"), make_post(make_user("x")), "spam").case
    actions.resolve_case(closed, moderator, Case.Outcome.DISMISS, "fine")
    client.force_login(moderator)
    response = client.get(reverse("admin:moderation_case_changelist"))
    assert response.status_code == 200
    cases = list(response.context["cl"].result_list)
    assert cases == [case] and cases[0].report_count == 2
    html = response.content.decode()
    assert "sexual ×1" in html and "harassment ×1" in html
    response = client.get(reverse("admin:moderation_case_changelist") + "?status=all")
    assert len(response.context["cl"].result_list) == 2


def test_case_page_previews_the_video_and_prompt(client, moderator, reported_post):
    post, case, *_ = reported_post
    client.force_login(moderator)
    response = client.get(reverse("admin:moderation_case_change", args=[case.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert post.media_url("video") in html and post.media_url("poster") in html
    assert "Prompt: a corgi surfing at sunset" in html and "look at this" in html
    assert 'name="decision"' in html


def test_decide_from_the_case_page(client, moderator, reported_post):
    post, case, author, reporter = reported_post
    client.force_login(moderator)
    url = reverse("admin:moderation_case_change", args=[case.pk])
    response = client.post(url, {"decision": "hide_post", "sanction": "warn", "days": "", "reason": "Nudity"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.hidden
    assert UserSanction.objects.get(user=author).kind == "warning"
    assert ModerationAction.objects.get().moderator == moderator
    assert ModerationNotice.objects.filter(recipient=reporter).exists()


def test_decide_in_bulk_from_the_queue(client, moderator, reported_post, make_user):
    post, case, author, reporter = reported_post
    client.force_login(moderator)
    url = reverse("admin:moderation_case_changelist")
    data = {"action": "suspend", "_selected_action": [case.pk], "reason": "Repeated nudity", "days": "2"}
    response = client.post(url, data)
    assert response.status_code == 302
    author.refresh_from_db()
    assert not author.is_active
    sanction = UserSanction.objects.get(user=author)
    assert 1 <= (sanction.until - sanction.created).days <= 2


def test_audit_log_is_readable_but_not_editable_in_the_admin(client, moderator, reported_post):
    _, case, *_ = reported_post
    entry = actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "fine")
    client.force_login(moderator)
    assert client.get(reverse("admin:moderation_moderationaction_changelist")).status_code == 200
    page = client.get(reverse("admin:moderation_moderationaction_change", args=[entry.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = client.post(
        reverse("admin:moderation_moderationaction_change", args=[entry.pk]), {"reason": "rewritten"}
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:moderation_moderationaction_add")).status_code == 403
    assert (
        client.post(reverse("admin:moderation_moderationaction_delete", args=[entry.pk])).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.reason == "fine"


def test_rule_changes_in_the_admin_are_audited(client, moderator):
    client.force_login(moderator)
    data = {"category": "hate", "kind": "word", "pattern": "blorf", "severity": "block", "applies_to": "all"}
    data["enabled"] = "on"
    response = client.post(reverse("admin:moderation_policyrule_add"), data)
    assert response.status_code == 302, response.content[:2000]
    assert ModerationAction.objects.get().action == "change_rule"


def test_regular_users_cannot_reach_the_queue(user_client):
    response = user_client.get(reverse("admin:moderation_case_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- notices -------------------------------------------------------------------------------


def test_notices_page_lists_and_marks_read(client, reported_post, moderator):
    _, case, _, reporter = reported_post
    actions.resolve_case(case, moderator, Case.Outcome.DISMISS, "fine")
    client.force_login(reporter)
    response = client.get(reverse("moderation:notices"))
    assert "Thanks for your report" in response.content.decode()
    assert actions.unread_notice_count(reporter.pk) == 0


def test_queue_costs_the_same_queries_for_more_cases(client, moderator, make_user, make_post):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    author = make_user("author")
    client.force_login(moderator)
    url = reverse("admin:moderation_case_changelist")
    client.get(url)  # the first page after signing in reads the moderator into the cache

    def queries_with(cases: int) -> int:
        for n in range(cases):
            post = make_post(author)
            for r in range(2):
                actions.file_report(make_user(f"r{cases}{n}{r}"), post, "spam")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries_with(1) == queries_with(4)


def test_case_page_refuses_a_content_decision_when_the_content_is_gone(client, moderator, reported_post):
    post, case, *_ = reported_post
    feed_actions.delete_post(post)
    client.force_login(moderator)
    url = reverse("admin:moderation_case_change", args=[case.pk])
    response = client.post(url, {"decision": "hide_post", "sanction": "", "days": "", "reason": "x"})
    assert response.status_code == 200 and b"already gone" in response.content
    response = client.post(url, {"decision": "warn", "sanction": "", "days": "", "reason": "x"})
    assert response.status_code == 302 and UserSanction.objects.filter(kind="warning").exists()


def test_htmx_report_errors_come_back_in_the_form(user_client, other_user, make_post):
    post = make_post(other_user)
    response = user_client.post(
        report_url("post", post.code), {"reason": "nonsense"}, headers={"HX-Request": "true"}
    )
    assert (
        response.status_code == 200
        and b"report-form" in response.content
        and b"errorlist" in response.content
    )


def test_a_refused_sanction_leaves_the_content_alone(make_user, make_post, moderator):
    staff_author = make_user("staffauthor", is_staff=True)
    post = make_post(staff_author)
    case = actions.file_report(make_user("reporter"), post, "spam").case
    video = post.generation.video.name
    with pytest.raises(OutcomeUnavailable):
        actions.resolve_case(case, moderator, Case.Outcome.DELETE_POST, "spam", sanction="ban")
    assert Post.objects.filter(pk=post.pk).exists() and post.generation.video.storage.exists(video)
