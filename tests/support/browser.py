"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

:func:`ensure_chromium` installs both packages with apt-get when they are missing (the test
set-up runs as root; no browser is ever downloaded from elsewhere). Screenshots go to
``test-artifacts/`` (``BUCKETSTREAM_TEST_ARTIFACTS`` overrides it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = ("chromium", "chromium-driver")


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_chromium() -> tuple[str, str]:
    """Paths of chromium and chromedriver, installing the Debian packages if needed."""
    browser, driver = _binaries()
    if browser is None or driver is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", *PACKAGES], check=True, env=env, timeout=900
        )
        browser, driver = _binaries()
    assert browser is not None and driver is not None, "chromium and chromedriver are needed"
    return browser, driver


def artifacts_dir() -> Path:
    """Where tests save screenshots."""
    path = Path(os.environ.get("BUCKETSTREAM_TEST_ARTIFACTS", REPOSITORY / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """A headless Chromium, 1400 × 900, for the whole session."""
    binary, driver_path = ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,900",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
