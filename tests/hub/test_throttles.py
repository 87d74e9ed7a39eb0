"""One failed-password rule for every way in (page login, /admin/login/, HTTP Basic), and the
request rates of the API, as a person guessing or a runaway producer would meet them."""

from __future__ import annotations

import base64
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from automation_hub.login_throttle import throttled_message

pytestmark = pytest.mark.django_db

ATTACKER, OFFICE = "127.0.0.10", "127.0.0.11"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Each guess hashes a password; the default PBKDF2 cost would make this file slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_it_throttles_a_basic_auth_brute_force_and_still_lets_the_user_in_elsewhere(
    engineer, settings
):
    client = APIClient(REMOTE_ADDR=ATTACKER)
    url = reverse("hand-list")

    answers = [
        client.get(url, HTTP_AUTHORIZATION=basic("engineer", f"guess-{n}")) for n in range(50)
    ]

    limit = settings.LOGIN_FAILURES_PER_USER
    assert [a.status_code for a in answers[:limit]] == [HTTPStatus.UNAUTHORIZED] * limit
    assert {a.status_code for a in answers[limit:]} == {HTTPStatus.TOO_MANY_REQUESTS}
    refused = answers[-1]
    assert refused.json() == {"code": "login_throttled", "detail": throttled_message()}
    assert 0 < int(refused["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    # Refused before the password is checked: from there, even the right one is refused...
    right = client.get(url, HTTP_AUTHORIZATION=basic("engineer", "s3cret-pass!"))
    assert right.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...but only there: the engineer at another address signs in.
    office = APIClient(REMOTE_ADDR=OFFICE)
    assert office.get(url, HTTP_AUTHORIZATION=basic("engineer", "s3cret-pass!")).status_code == 200


def test_it_counts_page_admin_and_basic_failures_under_one_rule_and_message(
    django_user_model, settings
):
    django_user_model.objects.create_superuser("chief", password="chief-pass-1")
    settings.LOGIN_FAILURES_PER_USER = 3
    page, admin_page = Client(REMOTE_ADDR=ATTACKER), Client(REMOTE_ADDR=ATTACKER)

    first = page.post(reverse("login"), {"username": "chief", "password": "no"})
    second = admin_page.post(reverse("admin-login"), {"username": "chief", "password": "no"})
    third = APIClient(REMOTE_ADDR=ATTACKER).get(
        reverse("hand-list"), HTTP_AUTHORIZATION=basic("chief", "no")
    )
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 401)

    on_page = page.post(reverse("login"), {"username": "chief", "password": "chief-pass-1"})
    on_admin = admin_page.post(
        reverse("admin-login"), {"username": "chief", "password": "chief-pass-1"}
    )
    on_basic = APIClient(REMOTE_ADDR=ATTACKER).get(
        reverse("hand-list"), HTTP_AUTHORIZATION=basic("chief", "chief-pass-1")
    )

    message = throttled_message()
    for response in (on_page, on_admin, on_basic):
        assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert int(response["Retry-After"]) > 0
        assert message in response.content.decode()
    assert "_auth_user_id" not in page.session and "_auth_user_id" not in admin_page.session
    # The admin's sign-in still works from another address.
    elsewhere = Client(REMOTE_ADDR=OFFICE).post(
        reverse("admin-login"), {"username": "chief", "password": "chief-pass-1"}
    )
    assert elsewhere.status_code == HTTPStatus.FOUND and elsewhere["Location"] == "/admin/"


def test_it_stops_one_address_spraying_user_names(engineer, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 6
    client = APIClient(REMOTE_ADDR=ATTACKER)
    url = reverse("hand-list")

    codes = [
        client.get(url, HTTP_AUTHORIZATION=basic(f"user-{n}", "x")).status_code for n in range(8)
    ]

    assert codes == [401] * 6 + [429] * 2


def test_it_limits_each_producer_key_to_its_rate_with_retry_after(key_client, settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "feature_table": "3/min"}
    table_1, table_2 = key_client("feature_table"), key_client("feature_table")
    url = reverse("hand-list")

    codes = [table_1.get(url).status_code for _ in range(4)]
    other = table_2.get(url)

    assert codes == [200, 200, 200, 429]
    refused = table_1.get(url)
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other.status_code == HTTPStatus.OK  # each key has its own budget
