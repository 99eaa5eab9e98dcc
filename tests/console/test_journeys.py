"""The console's journeys in a real Chromium at phone width, against the whole running flow.

One person signs in, imports from the fake Monica through the wizard and watches it finish
without reloading, opens the duplicates (scans again and sees the list refresh itself,
dismisses one in place), merges a pair in two clicks and sees the loser gone,
then resets the account and watches the reset complete. Every step is screenshotted into
test-artifacts/console/, and no page may log a console error or overflow 375 px.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from kith_common.testing.fake_monica import FakeMonicaServer
from kith_common.testing.inprocess import InProcessStack
from kith_gateway.testing import make_account, make_operator

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
WIDTH = 375
WIDEST = """Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > innerWidth)
  .slice(0, 5).map(e => e.tagName + ' ' + e.className + ' ' + e.getBoundingClientRect().right)"""


def _open(browser: Any) -> tuple[Any, Page, list[str]]:
    context = browser.new_context(viewport={"width": WIDTH, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
    return context, page, problems


def _snap(page: Page, name: str) -> None:
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fits(page: Page) -> None:
    """Usable at 375 px: nothing makes the page itself scroll sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(WIDEST)
    assert width <= WIDTH, f"{page.url} is {width}px wide: {wide}"


def test_sign_in_import_merge_and_reset(
    browser: Any, stack: InProcessStack, monica: FakeMonicaServer
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account = stack.call(make_account(stack.sessions))
    context, page, problems = _open(browser)
    base = stack.base_url

    page.goto(f"{base}/console/login")
    page.get_by_label("API token").fill("kith_not_a_token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#token-error")).to_have_text("That token is not valid.")
    _snap(page, "01-sign-in-error")
    page.get_by_label("API token").fill(account.tokens["admin"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/console/imports")
    _snap(page, "02-signed-in")

    # The wizard: URL and key → the connection check → options → start.
    page.get_by_role("link", name="New import").click()
    page.get_by_label("Monica URL").fill(monica.url)
    page.get_by_label("API key", exact=True).fill("wrong-key")
    page.get_by_role("button", name="Check connection").click()
    expect(page.locator("#api_url-error")).to_be_visible()
    _snap(page, "03-wizard-check-failed")
    page.get_by_label("Monica URL").fill(monica.url)
    page.get_by_label("API key", exact=True).fill("test-token")
    page.get_by_role("button", name="Check connection").click()
    expect(page.locator("#check-result")).to_contain_text("Connected")
    page.get_by_label("Merge duplicates automatically").uncheck()
    page.get_by_label("Photos").check()
    expect(page.locator("select[name=region]")).to_have_value("US")
    _snap(page, "04-wizard-options")
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"))
    page.evaluate("window.__notReloaded = true")
    _snap(page, "05-import-running")
    expect(page.locator("#import-status")).to_have_text("completed", timeout=120_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    expect(page.locator("#media-status")).to_have_text("completed", timeout=120_000)
    expect(page.locator("#sync-summary")).to_contain_text("synced")
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    assert page.evaluate("window.kithLive.events") > 0, "no live event reached the page"
    _snap(page, "06-import-done")

    # Duplicates: the import left its duplicates pending (auto-merge was off).
    page.get_by_role("link", name="Duplicates").click()
    cards = page.locator("article.pair")
    # "Scan now" shows the scan running; the list refreshes itself on dedup.scan.completed.
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("button", name="Scan now").click()
    expect(page.locator("#scan-running")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#scan-running")).to_have_attribute("data-state", "done", timeout=60_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(cards.first).to_be_visible()
    expect(cards.first.locator(".mark").first).to_be_visible()  # agree/disagree marks
    _snap(page, "07-duplicates")

    # Dismiss in place: the card leaves, the page neither reloads nor moves.
    if cards.count() > 1:
        before, url = cards.count(), page.url
        cards.nth(1).get_by_role("button", name="Not a duplicate").click()
        expect(cards).to_have_count(before - 1)
        assert page.url == url
        assert page.evaluate("window.__notReloaded === true"), "the page reloaded"

    # Merge in two clicks: keep one side, confirm the preview.
    keep = cards.first.locator("a.keep").first
    loser = re.search(r"loser=(\d+)", keep.get_attribute("href") or "").group(1)  # type: ignore[union-attr]
    keep.click()
    expect(page.get_by_role("heading", name="Moves to the kept contact")).to_be_visible()
    _snap(page, "10-merge-review")
    page.get_by_role("button", name="Merge").click()
    expect(page.locator("#merge-status")).to_have_text("done", timeout=60_000)
    expect(page.get_by_role("heading", name="What moved")).to_be_visible()
    _snap(page, "11-merge-result")
    page.get_by_role("link", name="Contacts").click()
    expect(page.locator(f"a[href='/console/contacts/{loser}']")).to_have_count(0)
    page.goto(f"{base}/console/contacts/{loser}")
    expect(page.locator("#merged-notice")).to_be_visible()
    _snap(page, "12-loser-gone")

    # The reset danger zone: a wrong confirmation is refused next to its field.
    page.goto(f"{base}/console/resets")
    page.get_by_label("Type RESET to confirm").fill("reset")
    page.get_by_role("button", name="Reset this account").click()
    expect(page.locator("#confirm-error")).to_be_visible()
    _snap(page, "13-reset-refused")
    page.get_by_label("Type RESET to confirm").fill("RESET")
    page.get_by_role("button", name="Reset this account").click()
    expect(page).to_have_url(re.compile(r"/console/resets/\d+$"))
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#reset-status")).to_have_text("completed", timeout=120_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    assert page.evaluate("window.kithLive.events") > 0, "no live event reached the page"
    _snap(page, "14-reset-done")
    page.get_by_role("link", name="Contacts").click()
    expect(page.get_by_text("No contacts.")).to_be_visible()
    _snap(page, "15-contacts-empty")

    context.close()
    assert problems == []


def _sign_in(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_every_other_page_fits_and_a_viewer_sees_no_controls(
    browser: Any, stack: InProcessStack
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account = stack.call(make_account(stack.sessions))
    context, page, problems = _open(browser)
    base = stack.base_url

    _sign_in(page, base, account.tokens["admin"])
    page.goto(f"{base}/console/account")
    page.get_by_label("New token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("kith_")
    _snap(page, "20-account-admin")
    page.get_by_label("Time zone").fill("Nowhere/Special")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#timezone-error")).to_be_visible()
    _snap(page, "21-account-field-error")
    page.goto(f"{base}/console/imports/new")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#file-error")).to_be_visible()
    _snap(page, "22-vcard-field-error")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/console/login")

    _sign_in(page, base, account.tokens["viewer"])
    for path, name in (
        ("/console/duplicates", "23-viewer-duplicates"),
        ("/console/resets", "24-viewer-resets"),
        ("/console/account", "25-viewer-account"),
        ("/console/contacts", "26-viewer-contacts"),
    ):
        page.goto(f"{base}{path}")
        _snap(page, name)
        for control in ("Scan now", "Reset this account", "Save settings", "Merge"):
            expect(page.get_by_role("button", name=control, exact=True)).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, base, stack.call(make_operator(stack.sessions)))
    expect(page).to_have_url(f"{base}/console/operator")
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    _snap(page, "27-operator")

    context.close()
    assert problems == []
