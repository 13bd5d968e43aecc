"""The status page in real headless Chromium: rows go live, thumbnails load, keys stay text."""

from __future__ import annotations

import io
import os
import shutil
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import REPOSITORY, artifacts_dir, browser
from tests.support.live import HOLDS, served
from tests.support.service import config, notify_queue, workflows
from trigger_service.api.auth import RequestAuth

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

__all__ = ["browser"]  # the fixture, imported for pytest

TOKEN = "page-token"
XSS_KEY = "incoming/<img src=x onerror=alert(1)>.jpg"


def _jpeg(width: int = 900, height: int = 600) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 30):
        for y in range(0, height, 30):
            image.paste((x % 255, y % 255, (x + y) % 255), (x, y, x + 30, y + 30))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


#: The rows as plain data, read in one script (rows are re-rendered as events arrive).
ROWS_SCRIPT = """
return [...document.querySelectorAll('#rows tr')].map((row) => ({
  id: row.dataset.id,
  status: row.dataset.status,
  objects: row.querySelector('td.objects').textContent,
  status_text: row.querySelector('td.status-cell').textContent,
  bars: row.querySelectorAll('.step .bar').length,
  retried: row.querySelector('td.status-cell').textContent.includes('attempt 2'),
  output_thumbnail: (() => {
    const img = row.querySelector('img.thumb-output');
    return img && img.complete ? img.naturalWidth : 0;
  })(),
}));
"""


FILTER_SCRIPT = """
const select = document.getElementById('filter-status');
select.value = arguments[0];
select.dispatchEvent(new Event('change'));
"""
VISIBLE_ROWS_SCRIPT = """
return [...document.querySelectorAll('#rows tr')].filter((row) => !row.hidden)
  .map((row) => ({status: row.dataset.status}));
"""


def _row(driver: Chrome, key: str, status: str | None = None) -> dict[str, Any] | None:
    for row in driver.execute_script(ROWS_SCRIPT):
        if key in row["objects"] and (status is None or row["status"] == status):
            return dict(row)
    return None


def _wait_row(
    driver: Chrome, key: str, status: str, *, within: float = 30, until: str | None = None
) -> dict[str, Any]:
    """The row of ``key`` once it has ``status`` (and ``until`` is a truthy field of it)."""

    def ready(d: Chrome) -> dict[str, Any] | None:
        row = _row(d, key, status)
        return row if row is not None and (until is None or row[until]) else None

    found = WebDriverWait(driver, within, poll_frequency=0.1).until(
        ready, f"no {status} row for {key}"
    )
    assert isinstance(found, dict)
    return found


@pytest.mark.timeout(900)  # the first use may apt-get install chromium
def test_rows_go_live_thumbnails_load_and_keys_stay_text(
    browser: Chrome, s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    gate = uuid.uuid4().hex
    HOLDS[gate] = threading.Event()
    queue = notify_queue(s3, sqs, bucket)
    flows = workflows(
        bucket,
        photos={
            "trigger": {"prefix": "incoming/", "suffix": [".jpg"]},
            "steps": [
                {"tests.support.live:hold": {"name": gate, "delay": 0.05}},
                {"compress": {"max_width": 320, "max_height": 320, "format": "jpeg"}},
            ],
            "output": {"bucket": bucket, "key": "processed/{stem}.{ext}"},
        },
    )
    cfg = config(moto_endpoint, flows, queue_urls=(queue.url,), auth=RequestAuth(token=TOKEN))
    with served(cfg) as (url, _):
        browser.get(f"{url}/")  # the login form: the token never goes into the address
        browser.find_element(By.ID, "credential").send_keys(TOKEN)
        browser.find_element(By.ID, "login-submit").click()
        WebDriverWait(browser, 20).until(
            lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "live"
        )
        assert browser.current_url == f"{url}/", "logged in, the page is at / with no token"
        s3.put_object(Bucket=bucket, Key="incoming/cat.jpg", Body=_jpeg())

        running = _wait_row(browser, "incoming/cat.jpg", "running", until="bars")
        assert running["bars"] >= 3  # read, hold, decode, compress, encode, write
        browser.save_screenshot(str(artifacts_dir() / "status-page-running.png"))
        HOLDS[gate].set()

        done = _wait_row(browser, "incoming/cat.jpg", "succeeded", until="output_thumbnail")
        assert "processed/cat.jpg" in done["objects"]
        assert 0 < done["output_thumbnail"] <= 256

        s3.put_object(Bucket=bucket, Key=XSS_KEY, Body=b"this is not a picture")
        failed = _wait_row(browser, XSS_KEY, "failed")
        assert (
            "InvalidImage" in failed["status_text"] or "UnsupportedFormat" in failed["status_text"]
        )
        assert XSS_KEY in failed["objects"]
        assert browser.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == []
        try:
            alert = browser.switch_to.alert
        except NoAlertPresentException:
            alert = None
        assert alert is None, "a key became markup"
        shot = artifacts_dir() / "status-page.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("BUCKETSTREAM_UPDATE_DOCS"):  # the README's picture
            shutil.copyfile(shot, REPOSITORY / "docs" / "status-page.png")

        # the status filter reloads the listing: only the failed execution is left
        browser.execute_script(FILTER_SCRIPT, "failed")
        WebDriverWait(browser, 20).until(
            lambda d: [row["status"] for row in d.execute_script(VISIBLE_ROWS_SCRIPT)] == ["failed"]
        )
        browser.execute_script(FILTER_SCRIPT, "")
        WebDriverWait(browser, 20).until(lambda d: len(d.execute_script(VISIBLE_ROWS_SCRIPT)) == 2)

        browser.execute_script(
            "document.querySelector(`#rows tr[data-id='${arguments[0]}'] button.retry`).click()",
            failed["id"],
        )
        _wait_row(browser, XSS_KEY, "failed", until="retried")
        assert browser.find_element(By.ID, "notice").is_displayed() is False
