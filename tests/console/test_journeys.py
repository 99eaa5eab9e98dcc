"""The console's journeys in a real Chromium at phone width, against the whole running flow.

One person signs in, imports from the fake Monica through the wizard and watches it finish
without reloading, opens the duplicates (scans again and sees the list refresh itself,
dismisses one in place), merges a pair in two clicks and sees the loser gone,
then resets the account and watches the reset complete. Every step is screenshotted into
test-artifacts/console/; no page may log a console error, overflow 375 px or show axe-core a
serious or critical accessibility violation. The wizard, the duplicates review and the reset
are driven with the keyboard alone (Tab to a control, then Enter or Space), as a person who
uses no mouse would. The wide screenshot of the finished import is the README's picture
(`make screenshot` copies it to docs/console.png).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from kith_common.db.models import Contact
from kith_common.storage import LocalStorage
from kith_common.testing.fake_monica import FakeMonicaServer
from kith_common.testing.inprocess import InProcessStack
from kith_gateway.testing import TestAccount, make_account, make_operator, seed_records

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
AXE = Path(__file__).with_name("a11y") / "node_modules" / "axe-core" / "axe.min.js"
README_PICTURE = ROOT / "docs" / "console.png"
WIDTH = 375
MAX_TABS = 60
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
    _accessible(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _accessible(page: Page) -> None:
    """axe-core (WCAG 2.1 A and AA rules) finds nothing serious or critical on the page."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        assert AXE.exists(), f"{AXE} is missing: `make test` installs it (npm ci)"
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}))
        .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.help + ' @ '
                  + v.nodes.slice(0, 3).map(n => n.target).join(' | '))"""
    )
    assert found == [], f"{page.url}: {found}"


def _tab_to(page: Page, target: Any) -> None:
    """Reach `target` with the Tab key alone (no click, no programmatic focus)."""
    handle = target.element_handle()
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("el => document.activeElement === el", handle):
            return
    raise AssertionError(f"{target} cannot be reached with Tab on {page.url}")


def _press(page: Page, target: Any, key: str = "Enter") -> None:
    _tab_to(page, target)
    page.keyboard.press(key)


def _type(page: Page, target: Any, text: str) -> None:
    _tab_to(page, target)
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


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

    # The wizard, keyboard only: URL and key → the connection check → options → start.
    _press(page, page.get_by_role("link", name="New import"))
    expect(page.get_by_label("Monica URL")).to_be_visible()
    _type(page, page.get_by_label("Monica URL"), monica.url)
    _type(page, page.get_by_label("API key", exact=True), "wrong-key")
    _press(page, page.get_by_role("button", name="Check connection"))
    expect(page.locator("#api_url-error")).to_be_visible()
    _snap(page, "03-wizard-check-failed")
    _type(page, page.get_by_label("Monica URL"), monica.url)
    _type(page, page.get_by_label("API key", exact=True), "test-token")
    _press(page, page.get_by_role("button", name="Check connection"))
    expect(page.locator("#check-result")).to_contain_text("Connected")
    _press(page, page.get_by_label("Merge duplicates automatically"), "Space")
    expect(page.get_by_label("Merge duplicates automatically")).not_to_be_checked()
    _press(page, page.get_by_label("Photos"), "Space")
    expect(page.get_by_label("Photos")).to_be_checked()
    region = page.locator("select[name=region]")
    expect(region).to_have_value("US")
    expect(region.locator("option").first).to_have_text("United States (+1)")  # its own first
    _type(page, page.get_by_label("Filter the phone regions"), "germ")
    expect(region.locator("option:not([hidden])")).to_have_text(["Germany (+49)"])
    expect(region).to_have_value("DE")  # the one match is chosen
    page.keyboard.press("Control+a")
    page.keyboard.type("+1)")
    expect(region.locator("option:not([hidden])").first).to_have_text("United States (+1)")
    expect(region).to_have_value("US")
    _snap(page, "04-wizard-options")
    _press(page, page.get_by_role("button", name="Start import"))
    expect(page).to_have_url(re.compile(r"/console/imports/\d+$"))
    page.evaluate("window.__notReloaded = true")
    _snap(page, "05-import-running")
    expect(page.locator("#import-status")).to_have_text("completed", timeout=120_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(page.get_by_role("heading", name="What arrived")).to_be_visible()
    expect(page.locator("#import-story")).to_contain_text(re.compile(r"^\d+ contacts imported"))
    expect(page.locator("#media-status")).to_have_text("completed", timeout=120_000)
    expect(page.locator("#sync-summary")).to_contain_text("synced")
    expect(page.locator("#import-timing")).to_contain_text("requests to Monica")
    expect(page.get_by_role("img", name="Imported by kind")).to_be_visible()
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    assert page.evaluate("window.kithLive.events") > 0, "no live event reached the page"
    _snap(page, "06-import-done")
    _readme_picture(browser, context, f"{base}/console/imports")

    # Duplicates: the import left its duplicates pending (auto-merge was off) and detection
    # after an import is the product's promise: nobody clicks "Scan now" here.
    page.get_by_role("link", name="Duplicates").click()
    cards = page.locator("article.pair")
    for _ in range(30):
        if cards.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(cards.first).to_be_visible()
    expect(cards.first.locator(".mark").first).to_be_visible()  # agree/disagree marks
    expect(page.get_by_role("img", name="Pending pairs by confidence")).to_be_visible()
    # "Scan now" shows the scan running; the list refreshes itself on dedup.scan.completed.
    page.evaluate("window.__notReloaded = true")
    _press(page, page.get_by_role("button", name="Scan now"))
    expect(page.locator("#scan-running")).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#scan-running")).to_have_attribute("data-state", "done", timeout=60_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(cards.first).to_be_visible()
    _snap(page, "07-duplicates")

    # Dismiss in place, by keyboard: the card leaves, the page neither reloads nor moves.
    if cards.count() > 1:
        before, url = cards.count(), page.url
        _press(page, cards.nth(1).get_by_role("button", name="Not a duplicate"))
        expect(cards).to_have_count(before - 1)
        assert page.url == url
        assert page.evaluate("window.__notReloaded === true"), "the page reloaded"

    # Merge in two steps, by keyboard: keep one side, confirm the preview.
    keep = cards.first.locator("a.keep").first
    loser = re.search(r"loser=(\d+)", keep.get_attribute("href") or "").group(1)  # type: ignore[union-attr]
    _press(page, keep)
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
    _type(page, page.get_by_label("Type RESET to confirm"), "reset")
    _press(page, page.get_by_role("button", name="Reset this account"))
    expect(page.locator("#confirm-error")).to_be_visible()
    _snap(page, "13-reset-refused")
    _type(page, page.get_by_label("Type RESET to confirm"), "RESET")
    _press(page, page.get_by_role("button", name="Reset this account"))
    expect(page).to_have_url(re.compile(r"/console/resets/\d+$"))
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("#reset-status")).to_have_text("completed", timeout=120_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    assert page.evaluate("window.kithLive.events") > 0, "no live event reached the page"
    _snap(page, "14-reset-done")
    page.get_by_role("link", name="Contacts").click()
    expect(page.get_by_text("No contacts yet")).to_be_visible()
    _snap(page, "15-contacts-empty")

    context.close()
    assert problems == []


def _readme_picture(browser: Any, phone: Any, url: str) -> None:
    """The finished import at a laptop's width: the README's picture of the console."""
    wide = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    wide.add_cookies(phone.cookies())
    page = wide.new_page()
    page.goto(url)
    page.get_by_role("link", name=re.compile(r"^Import \d+$")).first.click()
    expect(page.get_by_role("heading", name="What arrived")).to_be_visible()
    _accessible(page)
    page.screenshot(path=str(ARTIFACTS / "readme.png"))
    wide.close()
    # The committed picture is this one, made by `make screenshot`: same size, so the README
    # never shows a picture of another page.
    assert _png_size(ARTIFACTS / "readme.png") == _png_size(README_PICTURE)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _contact_page_shows_everything(
    page: Page, base: str, stack: InProcessStack, account: TestAccount
) -> None:
    """Issue #16: notes, calls, a conversation, a photo and a document are all on the page;
    the thumbnail loads as an image and the document downloads."""
    contact = stack.call(_contact(stack, account.id, "Ann"))
    seeded = stack.call(
        seed_records(stack.sessions, account.id, [contact], storage=LocalStorage(stack.storage))
    )
    with page.expect_response(re.compile(r"/console/photos/\d+/content$")) as loaded:
        page.goto(f"{base}/console/contacts/{contact}")
        page.locator("#photos img").first.scroll_into_view_if_needed()
    assert loaded.value.status == 200
    assert loaded.value.headers["content-type"] == "image/png"
    expect(page.locator("#photos img")).to_have_count(1)
    page.wait_for_function("document.querySelector('#photos img').naturalWidth > 0")
    for kind in ("note", "call", "conversation"):
        expect(page.locator(f'#timeline li[data-kind="{kind}"]')).to_have_count(1)
    expect(page.locator('[data-count="notes"]')).to_have_text("1")
    _snap(page, "26b-viewer-contact")
    with page.expect_download() as download:
        page.locator("#documents a").first.click()
    document = seeded.ids["documents"][0]
    assert Path(download.value.path()).read_bytes() == seeded.files[f"documents/{document}"]


async def _contact(stack: InProcessStack, account_id: int, name: str) -> int:
    async with stack.sessions() as session, session.begin():
        contact = Contact(account_id=account_id, first_name=name, display_name=name)
        session.add(contact)
        await session.flush()
        return contact.id


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
    _contact_page_shows_everything(page, base, stack, account)
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, base, stack.call(make_operator(stack.sessions)))
    expect(page).to_have_url(f"{base}/console/operator")
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    _snap(page, "27-operator")

    context.close()
    assert problems == []


async def _many_contacts(stack: InProcessStack, account_id: int, n: int) -> None:
    async with stack.sessions() as session, session.begin():
        session.add_all(
            Contact(account_id=account_id, first_name=f"Q{i:03d}", display_name=f"Q{i:03d}")
            for i in range(n)
        )


def test_pages_of_contacts_say_where_you_are_and_go_back_by_keyboard(
    browser: Any, stack: InProcessStack
) -> None:
    """120 contacts at phone width: Next, Previous and First reached with Tab and Enter."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account = stack.call(make_account(stack.sessions))
    stack.call(_many_contacts(stack, account.id, 120))
    context, page, problems = _open(browser)
    base = stack.base_url
    _sign_in(page, base, account.tokens["viewer"])
    page.goto(f"{base}/console/contacts")
    pager = page.get_by_role("navigation", name="Pagination", exact=True)
    expect(pager).to_contain_text("Showing 1–50 of 120 contacts")
    expect(pager.locator('[aria-current="page"]')).to_have_text("Page 1 of 3")
    expect(pager.get_by_role("link", name="Previous")).to_have_count(0)
    first_rows = page.locator("tbody a").all_inner_texts()
    _snap(page, "30-contacts-page-1")

    _press(page, pager.get_by_role("link", name="Next"))
    expect(pager).to_contain_text("Showing 51–100 of 120 contacts")
    expect(pager.locator('[aria-current="page"]')).to_have_text("Page 2 of 3")
    _snap(page, "31-contacts-page-2")
    _press(page, pager.get_by_role("link", name="Previous"))
    expect(pager).to_contain_text("Showing 1–50 of 120 contacts")
    assert page.locator("tbody a").all_inner_texts() == first_rows

    _press(page, pager.get_by_role("link", name="Next"))
    _press(page, pager.get_by_role("link", name="Next"))
    expect(pager).to_contain_text("Showing 101–120 of 120 contacts")
    expect(pager.get_by_role("link", name="Next")).to_have_count(0)
    _snap(page, "32-contacts-last-page")
    _press(page, pager.get_by_role("link", name="First"))
    expect(pager).to_contain_text("Showing 1–50 of 120 contacts")
    context.close()
    assert problems == []


def test_a_stopped_and_restarted_service_shows_in_the_banner_and_the_operator_panel(
    browser: Any, stack: InProcessStack
) -> None:
    """The importer's runtime stops (as a crashed `kith dev` child) and a new one starts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account = stack.call(make_account(stack.sessions))
    context, page, problems = _open(browser)
    base = stack.base_url
    _sign_in(page, base, account.tokens["viewer"])
    banner = page.locator("#service-banner")
    page.goto(f"{base}/console/contacts")
    expect(banner).to_have_count(0)

    stack.stop_service("importer")
    page.goto(f"{base}/console/contacts")
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_have_text("The importer is not running; imports resume when it is back.")
    _snap(page, "33-banner-importer-away")

    stack.start_service("importer")
    page.goto(f"{base}/console/imports")
    expect(banner).to_contain_text(re.compile(r"The importer restarted (\d+ s|a moment) ago"))
    expect(banner).not_to_contain_text("pid")
    _snap(page, "34-banner-importer-restarted")
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, base, stack.call(make_operator(stack.sessions)))
    expect(page).to_have_url(f"{base}/console/operator")
    importer = page.locator('tr[data-service="importer"]')
    expect(importer.locator("[data-state]")).to_have_attribute("data-state", "up")
    expect(importer.locator("[data-restarts]")).to_have_attribute("data-restarts", "1")
    expect(importer).to_contain_text("pid")
    for service in ("gateway", "dedup", "photos", "reset"):
        row = page.locator(f'tr[data-service="{service}"]')
        expect(row.locator("[data-state]")).to_have_attribute("data-state", "up")
        expect(row.locator("[data-restarts]")).to_have_attribute("data-restarts", "0")
    _snap(page, "35-operator-services")
    context.close()
    assert problems == []
