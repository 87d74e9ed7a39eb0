"""Browser fixtures: the hub served by daphne, headless chromium, a signed-in page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import sync_playwright

from tests.conftest import redis_unreachable, require_service
from tests.dashboard.browser import launch, sign_in
from tests.dashboard.processes import HubServer


@pytest.fixture
def hub(engineer):
    if settings.HUB_MODE == "production":
        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    server = HubServer().start()
    yield server
    server.stop()


@pytest.fixture
def browser(hub, monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of a browser test
    # are plain blocking set-up and checks, not code running inside that loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
        # While Playwright's loop runs, Django keys connections by that context: the ones the
        # test opened meanwhile must be closed here, or PostgreSQL cannot drop the test database.
        connections.close_all()


@pytest.fixture
def page(browser, hub):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    sign_in(page, hub.url)
    yield page
    context.close()
