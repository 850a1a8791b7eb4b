"""The invite race on PostgreSQL: many signups, one code, exactly one account."""

import threading

import pytest
from django.db import connection, connections

from accounts.actions import InviteUnavailable, create_account, issue_invites
from accounts.models import Invite, User

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the concurrency guarantee is tested on PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_one_code_redeemed_once_under_concurrent_signups():
    code = issue_invites(None, 1)[0].code
    threads = 12
    barrier = threading.Barrier(threads)
    results: list[str] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            create_account(
                handle=f"racer{i}", email=f"racer{i}@example.com", password="pw-long-123", invite_code=code
            )
            results.append("ok")
        except InviteUnavailable:
            results.append("refused")
        finally:
            connections.close_all()

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert results.count("ok") == 1
    assert results.count("refused") == threads - 1
    assert User.objects.filter(handle__startswith="racer").count() == 1
    invite = Invite.objects.get(code=code)
    assert invite.used_by.handle.startswith("racer")
