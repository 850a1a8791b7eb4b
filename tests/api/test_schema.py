"""Schemathesis fuzzes every operation of /v1/openapi.json, authenticated: no answer may be a 5xx."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.models import ApiToken

# Loaded at collection from the app itself (no server, no database: the schema needs neither).
# The lazy `from_fixture` loader doesn't work with this pytest release.
schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def bearer(transactional_db, user, rq_queue, make_generation) -> dict:
    # A finished and a queued video, so not every id is unknown; jobs the fuzzer manages to queue
    # land on this run's test queue, which rq_queue empties afterwards.
    make_generation(user, status="succeeded")
    make_generation(user, status="queued")
    return {"Authorization": "Bearer " + ApiToken.issue(user, "fuzz")[1]}


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_api_fail(case, bearer):
    case.call_and_validate(headers=bearer, checks=[not_a_server_error])
