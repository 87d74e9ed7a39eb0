from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from automation_hub.login_throttle import _keys

pytestmark = pytest.mark.django_db

ADDRESS = "127.0.0.1"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Each failed try hashes a password; the default PBKDF2 cost would make this file slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    # Only this test's keys: the production-mode cache is a Redis database shared with the queue.
    keys = [*_keys(address=ADDRESS, username="engineer"), *_keys(address=ADDRESS, username="x")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_signs_in_and_out_with_csrf_protected_forms(engineer):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    assert page.status_code == HTTPStatus.OK
    token = page.cookies["csrftoken"].value

    refused = client.post(reverse("login"), {"username": "engineer", "password": "s3cret-pass!"})
    assert refused.status_code == HTTPStatus.FORBIDDEN

    response = client.post(
        reverse("login"),
        {"username": "engineer", "password": "s3cret-pass!", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/"
    assert client.get(reverse("monitoring:overview")).status_code == HTTPStatus.OK

    token = client.cookies["csrftoken"].value
    signed_out = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert signed_out["Location"] == reverse("login")
    assert client.get(reverse("monitoring:overview")).status_code == HTTPStatus.FOUND


def test_it_refuses_further_tries_after_five_failures_even_with_the_right_password(engineer):
    client = Client()
    for _ in range(5):
        response = login(client, "engineer", "wrong")
        assert response.status_code == HTTPStatus.OK
        assert "Please enter a correct username and password" in response.content.decode()

    blocked = login(client, "engineer", "s3cret-pass!")

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user name from the same address is not locked out by this one.
    assert login(Client(), "x", "nope").status_code == HTTPStatus.OK


def test_it_clears_the_failures_of_a_user_who_signs_in(engineer):
    client = Client()
    for _ in range(4):
        login(client, "engineer", "wrong")
    assert login(client, "engineer", "s3cret-pass!").status_code == HTTPStatus.FOUND
    client.logout()
    for _ in range(4):
        assert login(client, "engineer", "wrong").status_code == HTTPStatus.OK
