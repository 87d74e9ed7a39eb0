from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from automation_hub.models import ApiKey

pytestmark = pytest.mark.django_db


def test_it_prints_the_new_key_alone_on_the_last_line_and_stores_only_its_hash(capsys):
    call_command("create_api_key", "feature_table", "--name", "table-1")
    out = capsys.readouterr().out.strip().splitlines()
    raw_key = out[-1]
    assert raw_key.startswith("wsop_")
    key = ApiKey.objects.get(name="table-1")
    assert key.role == "feature_table"
    assert raw_key not in (key.key_hash, key.prefix)
    assert key.key_hash == ApiKey.hash_key(raw_key)


def test_it_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("create_api_key", "janitor")


def test_it_rejects_a_revoked_key_with_401(capsys):
    call_command("create_api_key", "sub")
    raw_key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get(reverse("instruction-list")).status_code == HTTPStatus.OK

    call_command("revoke_api_key", ApiKey.objects.get().prefix)

    response = client.get(reverse("instruction-list"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_it_rejects_a_forged_key_with_the_right_prefix(key_client):
    key_client("sub")
    prefix = ApiKey.objects.get().prefix
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key wsop_{prefix}.forged-secret")
    assert client.get(reverse("instruction-list")).status_code == HTTPStatus.UNAUTHORIZED


def test_it_answers_401_without_credentials(anon_client):
    response = anon_client.get(reverse("hand-list"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"
