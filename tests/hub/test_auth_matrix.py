"""Who may call what, for every route of the URL conf: anonymous, a wrong key, each producer
key, a signed-in user and staff. The routes are read from the URL conf itself, so a new route
without an entry in ROUTES fails `test_it_has_an_entry_for_every_route`.

"ok" means the caller got past authentication and permission (whatever the view then says
about the empty input); "401" / "403" are the API's refusals; "login" / "admin-login" are the
pages' redirects to sign in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from automation_hub.journal import event_record
from automation_hub.services import api_key_create
from hands.models import Hand, Tournament
from monitoring.models import SyncRun
from rendering.models import RenderInstruction, RenderOutput

pytestmark = pytest.mark.django_db

ROLES = ("feature_table", "sub", "ae", "metrics")
CALLERS = ("anonymous", "wrong_key", *ROLES, "user", "staff")
Spec = dict[str, str]


def api(*roles: str, people: bool = True) -> Spec:
    """An API view for people (unless `people=False`) and the keys of `roles`."""
    spec = {"anonymous": "401", "wrong_key": "401"}
    spec.update({role: "ok" if role in roles else "403" for role in ROLES})
    spec.update(user="ok" if people else "403", staff="ok" if people else "403")
    return spec


def public(*, authenticates: bool) -> Spec:
    """Anyone; a view that authenticates still refuses a wrong key (401)."""
    spec = dict.fromkeys(CALLERS, "ok")
    if authenticates:
        spec["wrong_key"] = "401"
    return spec


PAGE = {**dict.fromkeys(CALLERS, "login"), "user": "ok", "staff": "ok"}
STAFF_PAGE = {**dict.fromkeys(CALLERS, "admin-login"), "staff": "ok"}
OPEN_PAGE = dict.fromkeys(CALLERS, "ok")
SIGN_OUT = dict.fromkeys(CALLERS, "login")  # anyone may sign out; all land on the sign-in page
PEOPLE = api()

# route (as written in the URL conf) → {method: who gets what}
ROUTES: dict[str, dict[str, Spec]] = {
    "admin/login/": {"GET": OPEN_PAGE},
    "admin/": {"GET": STAFF_PAGE},  # the whole admin site (index and every model's pages)
    "api/health": {"GET": public(authenticates=False)},
    "api/health/ready": {"GET": public(authenticates=True)},
    "api/hands": {"GET": api("feature_table", "sub"), "POST": api("feature_table")},
    "api/hands/<id:pk>": {"GET": api("feature_table", "sub")},
    "api/tournaments": {"GET": api("feature_table")},
    "api/tournaments/<id:pk>": {"GET": api("feature_table")},
    "api/instructions": {"GET": api("sub"), "POST": api("sub")},
    "api/instructions/import": {"POST": api("sub")},
    "api/instructions/<id:pk>": {"GET": api("sub")},
    "api/actions/retry": {"POST": PEOPLE},
    "api/actions/edit-retry": {"POST": PEOPLE},
    "api/actions/cancel": {"POST": PEOPLE},
    "api/actions/change-priority": {"POST": PEOPLE},
    "api/actions/bulk-retry": {"POST": PEOPLE},
    "api/render/claim": {"POST": api("ae", people=False)},
    "api/render/<id:pk>/heartbeat": {"POST": api("ae", people=False)},
    "api/render/<id:pk>/complete": {"POST": api("ae", people=False)},
    "api/render/<id:pk>/fail": {"POST": api("ae", people=False)},
    "api/schema/": {"GET": PEOPLE},
    "api/docs/": {"GET": PEOPLE},
    "api/dashboard": {"GET": PEOPLE},
    "api/metrics/throughput": {"GET": PEOPLE},
    "api/metrics/latency": {"GET": PEOPLE},
    "api/metrics/error-rate": {"GET": PEOPLE},
    "api/metrics/queue-depth": {"GET": PEOPLE},
    "api/data-flow": {"GET": PEOPLE},
    "api/events": {"GET": PEOPLE},
    "api/events/<id:pk>": {"GET": PEOPLE},
    "api/events/<id:pk>/resolve": {"POST": PEOPLE},
    "api/orchestrator/status": {"GET": PEOPLE},
    "api/orchestrator/sync": {"POST": PEOPLE},
    "api/orchestrator/sync/<id:pk>": {"GET": PEOPLE},
    "metrics": {"GET": api("metrics")},
    "": {"GET": PAGE},
    "login/": {"GET": OPEN_PAGE},
    "logout/": {"POST": SIGN_OUT},
    "overview/": {"GET": PAGE},
    "overview/summary": {"GET": PAGE},
    "overview/series.json": {"GET": PAGE},
    "events/": {"GET": PAGE},
    "instructions/": {"GET": PAGE},
    "instructions/<id:pk>/": {"GET": PAGE},
    "hands/<id:pk>/": {"GET": PAGE},
    "outputs/": {"GET": PAGE},
    "outputs/<id:pk>/preview": {"GET": PAGE},
    "hands/": {"GET": PAGE},
}


def url_conf_routes() -> Iterator[tuple[str, URLPattern | URLResolver]]:
    """(route, pattern) for every route; the admin site counts as one (`admin/`)."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern | URLResolver]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if getattr(pattern, "app_name", None) == "admin":
                    yield route, pattern
                else:
                    yield from walk(pattern.url_patterns, route)
            else:
                yield route, pattern

    yield from walk(get_resolver().url_patterns, "")


def test_it_has_an_entry_for_every_route():
    routes = {route for route, _ in url_conf_routes()}
    assert routes - ROUTES.keys() == set(), "routes without an auth-matrix entry"
    assert ROUTES.keys() - routes == set(), "entries for routes that no longer exist"


@pytest.fixture
def objects(db) -> dict[str, int]:
    tournament = Tournament.objects.create(code="WSOP-1", name="Main Event")
    hand = Hand.objects.create(
        table_id="FT-1", hand_number=1, hand_rank="flush", pot_size=1, tournament=tournament
    )
    instruction = RenderInstruction.objects.create(template_name="x", hand=hand)
    output = RenderOutput.objects.create(instruction=instruction, output_path="x.png")
    event = event_record(type="alert", code="seeded", message="m", source="monitor")
    run = SyncRun.objects.create(type="full")
    return {
        "api/hands/<id:pk>": hand.pk,
        "hands/<id:pk>/": hand.pk,
        "api/tournaments/<id:pk>": tournament.pk,
        "api/events/<id:pk>": event.pk,
        "api/events/<id:pk>/resolve": event.pk,
        "api/orchestrator/sync/<id:pk>": run.pk,
        "outputs/<id:pk>/preview": output.pk,
        "default": instruction.pk,
    }


@pytest.fixture
def clients(django_user_model) -> dict[str, Callable[[], Client]]:
    user = django_user_model.objects.create_user("td", password="unused-pass-1")
    staff = django_user_model.objects.create_superuser("admin", password="unused-pass-2")
    keys = {role: api_key_create(role=role, name=f"matrix-{role}")[1] for role in ROLES}

    def signed_in(who) -> Callable[[], Client]:
        def make() -> Client:
            client = Client()
            client.force_login(who)
            return client

        return make

    def with_key(raw: str) -> Callable[[], Client]:
        return lambda: Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    return {
        "anonymous": Client,
        "wrong_key": with_key("wsop_000000000000.not-a-key"),
        **{role: with_key(raw) for role, raw in keys.items()},
        "user": signed_in(user),
        "staff": signed_in(staff),
    }


def concrete_urls(route: str, pattern: URLPattern | URLResolver, ids: dict[str, int]) -> list[str]:
    if isinstance(pattern, URLResolver):  # the admin: its index and every model's list
        return ["/admin/"] + [
            reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
            for m in admin.site._registry
        ]
    path = "/" + route
    if "<id:pk>" in route:
        path = path.replace("<id:pk>", str(ids.get(route, ids["default"])))
    return [path]


def outcome(response) -> str:
    if response.status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        return str(response.status_code)
    if response.status_code == HTTPStatus.FOUND:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return "admin-login"
        if location.startswith(reverse("login")):
            return "login"
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code != HTTPStatus.TOO_MANY_REQUESTS
    return "ok"


def test_it_answers_every_route_and_caller_as_the_matrix_says(objects, clients):
    seen: dict[tuple[str, str, str, str], str] = {}
    expected: dict[tuple[str, str, str, str], str] = {}
    for route, pattern in url_conf_routes():
        for method, spec in ROUTES[route].items():
            for url in concrete_urls(route, pattern, objects):
                for caller in CALLERS:
                    client = clients[caller]()
                    if method == "GET":
                        response = client.get(url)
                    else:
                        response = client.post(url, {}, content_type="application/json")
                    seen[(route, method, url, caller)] = outcome(response)
                    expected[(route, method, url, caller)] = spec[caller]
    wrong = {k: (seen[k], expected[k]) for k in seen if seen[k] != expected[k]}
    assert wrong == {}, "route, method, url, caller → (got, expected)"
