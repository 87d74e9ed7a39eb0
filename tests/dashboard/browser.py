"""Headless Debian chromium, driven by Playwright, against a real daphne on the test database."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_missing() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} not installed (apt-get install -y chromium)"
    if shutil.which("chromium") is None:
        return "chromium not on PATH"
    return None


def launch(playwright):
    require_service("chromium", chromium_missing())
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base_url: str, username: str = "engineer", password: str = "s3cret-pass!"):  # noqa: S107
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/overview/")
    page.wait_for_selector("#live-indicator.live-live")
