"""The console driven in Debian's Chromium (Playwright, executable_path=/usr/bin/chromium; nothing is downloaded).

Against a real `serve --console` process and an incident made by a real agent's event:
each role signs in; an IG officer takes the incident from the inbox to a decision and an
ICO draft (saved, printed, downloaded as JSON); staff report a lost laptop and cannot
open any incident; IT sees the lost device; the auditor reads without being offered a
single step. Every form control on every page visited must have a label.

Set CASEGUARD_SCREENSHOTS=DIR to save the pages as PNGs (docs/screenshots in the README).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_console_http import PASSWORD, Site, build_site

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--lang=en-GB",
]  # fmt: skip
SHOTS = os.environ.get("CASEGUARD_SCREENSHOTS", "")

# Form controls with no label (a <label for>, a wrapping <label>, or aria-label/-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length))
  .filter(el => !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from build_site(tmp_path_factory.mktemp("console-browser"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the environment is broken
        pytest.fail("the Python package `playwright` is missing: pip install playwright (never `playwright install`)")
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install -y chromium (the Debian package `chromium`)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            ignore_https_errors=True, viewport={"width": 1366, "height": 768}, accept_downloads=True,
            locale="en-GB", timezone_id="Europe/London",
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def _shot(page: Any, name: str, full: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)


def _open_step(page: Any, summary: str) -> None:
    """Open the step's <details> (the page opens the step it suggests next itself; a click would close it)."""
    details = page.locator("details", has=page.locator("summary", has_text=summary))
    if details.get_attribute("open") is None:
        page.locator("summary", has_text=summary).click()


def _labelled(page: Any) -> None:
    assert page.evaluate(UNLABELLED) == [], f"unlabelled form controls on {page.url}"


def _sign_in(browser: Any, site: Site, name: str) -> Any:
    browser.clear_cookies()
    page = browser.new_page()
    page.goto(f"{site.url}/login")
    _labelled(page)
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # submit from the keyboard
    assert "/login" not in page.url, page.content()
    return page


def _dashboard_row(page: Any, site: Site, chart: str) -> list[str]:
    """This month's row (UK time) of one dashboard chart's table, as the page shows it."""
    page.goto(f"{site.url}/dashboard")
    _labelled(page)
    month = datetime.now(ZoneInfo("Europe/London")).strftime("%Y-%m")
    row = page.locator(f'table[data-chart="{chart}"] tr', has=page.locator("th", has_text=month))
    return [c.strip() for c in row.locator("th, td").all_text_contents()]


def test_an_ig_officer_takes_the_incident_from_the_inbox_to_a_decision_and_an_ico_draft(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    page = _sign_in(browser, site, "ig.officer")
    assert page.url.endswith("/inbox")
    row = page.locator("tr", has=page.get_by_role("link", name=site.incident_id))
    assert "provisional" in row.inner_text() and "left" in row.inner_text()
    assert "Removable volume" in row.inner_text() and "laptop-1" in row.inner_text()
    _labelled(page)
    _shot(page, "inbox")

    # Keyboard: the first Tab reaches the skip link, and focus is visible.
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent, getComputedStyle(document.activeElement).left]")
    assert focused[0] == "Skip to main content" and focused[1] == "0px"

    with page.expect_navigation():
        page.get_by_role("link", name=site.incident_id).click()
    text = page.locator("main").inner_text()
    for expected in ("Case file copied out", "Removable volume", "exact copy of a known case file", "confidence 100%",
                     "nhs number: 3",
                     "Disk encryption", "Last seen", "Provisional deadline", "Reportable"):  # fmt: skip
        assert expected in text, expected
    assert "fingerprint" not in text and not re.search(r"\bal-[0-9a-f]{6}", text)  # no engineers' codes
    assert re.search(r"(GMT|BST)", text)
    _labelled(page)
    _shot(page, "incident-suspected", full=True)

    page.get_by_label("Why it is a breach").fill("Case file copied to a USB stick: confirmed with the worker.")
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm breach").click()
    assert "Breach confirmed" in page.locator(".flash[role=status]").inner_text()
    assert "72-hour ICO deadline" in page.locator("main").inner_text()

    # The awareness time was a minute early: correct it. The step is audited and the deadline follows.
    recorded = page.locator("#corrected_aware_at").input_value()
    corrected = datetime.strptime(recorded, "%Y-%m-%d %H:%M") + timedelta(minutes=1)
    while datetime.now(ZoneInfo("Europe/London")).replace(tzinfo=None) < corrected:  # not in the future
        time.sleep(1)
    _open_step(page, "Correct the awareness time")
    page.get_by_label("Corrected “aware since” (UK time)").fill(corrected.strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Why the recorded time was wrong").fill("The worker told IG a minute later.")
    page.get_by_label("If aware later than the first signal, why", exact=False).last.fill("Phone call log.")
    with page.expect_navigation():
        page.get_by_role("button", name="Correct the awareness time").click()
    assert "Awareness time corrected" in page.locator(".flash[role=status]").inner_text()
    clock = page.locator("section.clock").inner_text()
    assert "Corrected" in clock and "The worker told IG a minute later." in clock

    with page.expect_navigation():
        page.get_by_role("button", name="Record assessment").click()  # the drafted scores, confirmed by a person
    assert "Assessment recorded" in page.locator(".flash[role=status]").inner_text()

    assert page.get_by_label("Reportable: notify the ICO").is_checked()  # the grid's verdict is the default
    page.get_by_label("Reasons for the decision").fill("Case files about children on an unencrypted stick.")
    with page.expect_navigation():
        page.get_by_role("button", name="Record decision").click()
    assert "Decided: report to the ICO" in page.locator(".flash[role=status]").inner_text()
    page.get_by_label("Assign to").select_option("ig.officer")
    with page.expect_navigation():
        page.get_by_role("button", name="Assign").click()
    _shot(page, "incident-reportable", full=True)

    with page.expect_navigation():
        page.get_by_role("link", name="ICO report draft").click()
    _labelled(page)
    assert page.get_by_label("What has happened?").input_value()  # prefilled from the incident
    page.get_by_label("Approximately how many people could be affected?").fill("3")
    page.get_by_label("Children", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save answers").click()
    assert "Saved 2 answer(s)" in page.locator(".flash[role=status]").inner_text()
    assert page.get_by_label("Approximately how many people could be affected?").input_value() == "3"
    _shot(page, "ico-draft")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    saved = tmp_path / "draft.json"
    download.value.save_as(saved)
    draft = json.loads(saved.read_text())
    assert draft["incident_id"] == site.incident_id and draft["sections"]["about_the_breach"]["approx_people"] == 3
    assert "children" in draft["sections"]["about_the_breach"]["subject_categories"]

    with page.expect_navigation():
        page.get_by_role("button", name="Printable version").click()
    assert "Personal data breach report to the ICO" in page.locator("h1").inner_text()
    page.close()

    shown = site.cli("incidents", "show", site.incident_id)[0]
    assert shown["state"] == "reportable" and shown["assessment"]["assessed_by"] == "ig.officer"
    actions = [e["action"] for e in site.cli("audit", "list", "--incident", site.incident_id)]
    for action in ("incident.confirm", "incident.correct_awareness", "incident.assess", "incident.decide_reportable",
                   "incident.assign",
                   "ico_draft.edit", "ico_draft.export"):  # fmt: skip
        assert action in actions, action
    assert site.cli("audit", "verify")[0]["ok"]

    # The rest of the life cycle: checklist, ICO submission, the families, closure with lessons learned.
    page = _sign_in(browser, site, "ig.officer")
    before = _dashboard_row(page, site, "ico-share")  # month, incidents, reported to the ICO, share
    assert int(before[1]) >= 1 and page.locator("svg.chart").count() == 5
    page.goto(f"{site.url}/incidents/{site.incident_id}")
    told = page.locator("[data-obligation]")
    assert told.count() >= 3 and "UK GDPR Art. 33" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Mark done: Media recovered or confirmed destroyed").click()
    assert "Done: Media recovered" in page.locator(".flash[role=status]").inner_text()
    assert "☑" in page.locator('[data-task="Media recovered or confirmed destroyed"]').inner_text()
    page.get_by_label("ICO case reference").fill("IC-123456-A1B2")
    with page.expect_navigation():
        page.get_by_role("button", name="Record submission").click()
    assert "Report to the ICO recorded" in page.locator(".flash[role=status]").inner_text()
    assert "done" in page.locator('[data-obligation="ico"]').inner_text()
    # The SIRO's picture follows: one more incident reported to the ICO this month, and its CSV agrees.
    after = _dashboard_row(page, site, "ico-share")
    assert (after[0], int(after[1]), int(after[2])) == (before[0], int(before[1]), int(before[2]) + 1)
    with page.expect_download() as download:
        page.locator('a[href="/dashboard/ico-share.csv"]').click()
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("month,incidents,") and ",".join(after[:3]) in "\n".join(rows)
    _shot(page, "dashboard", full=True)
    page.goto(f"{site.url}/incidents/{site.incident_id}")
    with page.expect_navigation():
        page.get_by_role("link", name="Letter to the people affected (draft)").click()
    assert "Who to contact" in page.locator("pre.letter").inner_text()
    page.go_back()
    _open_step(page, "Record a family told")
    page.locator("#family-how").fill("Letter delivered by the social worker")
    with page.expect_navigation():
        page.locator("form[action$='/family-told'] button").click()
    assert "Family 1 was told" in page.locator(".flash[role=status]").inner_text()
    _open_step(page, "Record telling the people affected")
    page.locator("#how").fill("Letters to every family")
    with page.expect_navigation():
        page.locator("form[action$='/inform-subjects'] button").click()
    _open_step(page, "Record an action taken")
    page.get_by_label("Containment, mitigation or prevention step").fill("USB stick recovered and wiped.")
    with page.expect_navigation():
        page.get_by_role("button", name="Record action").click()
    page.get_by_label("Root cause").fill("USB writes were allowed on this laptop.")
    page.get_by_label("Lessons learned").fill("Block writes to removable media for case workers.")
    with page.expect_navigation():
        page.get_by_role("button", name="Close incident").click()
    assert "Incident closed" in page.locator(".flash[role=status]").inner_text()
    page.goto(f"{site.url}/register")
    row = page.locator("tr", has=page.get_by_role("link", name=site.incident_id)).inner_text()
    assert "Block writes to removable media" in row and "IC-123456-A1B2" in row and "3 people" in row
    _shot(page, "register", full=True)
    page.close()
    assert site.cli("incidents", "show", site.incident_id)[0]["state"] == "closed"


def test_staff_report_a_lost_laptop_and_see_no_incident(browser: Any, site: Site) -> None:
    page = _sign_in(browser, site, "staff.member")
    assert page.url.endswith("/report")
    assert page.get_by_role("link", name="Inbox").count() == 0
    _labelled(page)
    _shot(page, "report-form", full=True)
    page.get_by_label("laptop-2").check()
    page.get_by_label("Stolen").check()
    page.get_by_label("When did you last have it?").fill("2026-01-05T17:30")
    page.get_by_label("Where was it lost or taken?").fill("From my car outside the office")
    page.get_by_label("Yes, it was locked or switched off").check()
    page.get_by_label("What was on it, or with it?").fill("Visit notes for this week")
    with page.expect_navigation():
        page.get_by_role("button", name="Report it now").click()
    reference = page.locator(".reference").inner_text()
    assert reference.startswith("INC-")
    assert "What happens next" in page.locator("main").inner_text()
    _shot(page, "report-filed", full=True)

    for path in (f"/incidents/{reference}", f"/incidents/{site.incident_id}", "/inbox", "/register"):
        reply = page.goto(f"{site.url}{path}")
        assert reply is not None and reply.status == 403, path
        assert "Not allowed" in page.locator("h1").inner_text()
    page.close()
    shown = site.cli("incidents", "show", reference)[0]
    assert shown["alert_details"][0]["lost_report"]["was_locked"] is True
    assert shown["clock"]["kind"] == "provisional"  # the incident opened at once, with its clock


def test_it_sees_devices_and_the_auditor_reads_without_steps(browser: Any, site: Site) -> None:
    page = _sign_in(browser, site, "it.admin")
    assert page.url.endswith("/devices")
    assert "laptop-1" in page.locator("table").inner_text()
    _labelled(page)
    _shot(page, "devices")
    assert page.goto(f"{site.url}/incidents/{site.incident_id}").status == 403
    page.close()

    page = _sign_in(browser, site, "auditor")
    page.goto(f"{site.url}/incidents/{site.incident_id}")
    assert "Read only" in page.locator("aside").inner_text()
    assert page.locator("form[action$='/confirm'], form[action$='/decide'], form[action$='/close']").count() == 0
    page.goto(f"{site.url}/audit")
    assert "Audit trail intact" in page.locator("main").inner_text()
    _shot(page, "audit")
    page.goto(f"{site.url}/register")
    assert site.incident_id in page.locator("table").inner_text()
    _shot(page, "register")
    page.close()
