"""First paint of a chat with 1,000 messages (issue 12, "Done when"): /inbox/chats/{id} in headless Chromium shows the
newest message from the newest page of the timeline only, and scrolling up loads older ones.

The time from navigation start to the newest message in `#messages` (and the first contentful paint) is measured with
the browser's Performance API and printed (`-s`) and written to test-output/first-paint.txt, with the API calls the
page made and when (the waterfall). Speed targets are never timed assertions here (a loaded machine would fail them):
the test asserts what is shown and reports the figures.
"""

from __future__ import annotations

import json

from playwright.async_api import expect

from sales import conversations, dialogs
from storage.models import Direction, Message, SenderKind
from tests.browsing import OUTPUT, base_of, browser, chromiums, inbox, logged_in
from tests.factories import at, new_client

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures (tests/browsing.py)

COUNT = 1000
NEWEST = "message 0999, the newest"
RUNS = 3  # the first visit, then reloads

# In the page, from before its own scripts run: the moment (performance.now(), ms since navigation start) the newest
# message is in #messages, and the next animation frame after it (it is on screen then).
WATCH = """(newest) => {
  window.firstPaint = { dom: null, frame: null };
  const look = () => {
    const box = document.getElementById("messages");
    if (window.firstPaint.dom !== null || !box || !box.textContent.includes(newest)) return;
    window.firstPaint.dom = performance.now();
    requestAnimationFrame(() => { window.firstPaint.frame = performance.now(); });
  };
  new MutationObserver(look).observe(document, { childList: true, subtree: true, characterData: true });
}"""

FIGURES = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
  const calls = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/api/") || e.name.includes("/inbox/static/"))
    .map((e) => ({ url: e.name.replace(location.origin, ""), start: e.startTime, end: e.responseEnd,
                   wait: e.responseStart - e.requestStart }));
  return { newest: window.firstPaint.dom, frame: window.firstPaint.frame, fcp: fcp ? fcp.startTime : null,
           html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, calls };
}"""


async def _talkative_chat(inbox) -> int:
    """One client and his rep: 1,000 messages both ways, a minute apart, the last one his; the chat is manager 0's."""
    shop, manager = inbox.shop, inbox.shop.managers[0]
    client = await new_client(shop, name="Kateryna")
    first = await dialogs.record_inbound(client, "message 0000 from the client", now=at(0))
    await conversations.assign_chat(shop.admin, first.chat_id, manager.id, now=at(0.5))
    rows = []
    for n in range(1, COUNT - 1):
        inbound = n % 2 == 0
        rows.append(Message(
            chat_id=first.chat_id, direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            sender_kind=SenderKind.CLIENT if inbound else SenderKind.EMPLOYEE,
            employee_id=None if inbound else manager.id,
            text=f"message {n:04d} from the {'client' if inbound else 'rep'}", created_at=at(n)))
    await Message.bulk_create(rows, batch_size=500)
    # The newest through the domain, so the chat's own fields (last message, waiting…) are what they would be.
    await dialogs.record_inbound(client, NEWEST, now=at(COUNT - 1))
    assert await Message.filter(chat_id=first.chat_id).count() == COUNT
    return first.chat_id


# In the page: each API call the chat page makes, alone (one after another, each 5 times): the median time to its
# answer, to tell a call that is slow from one that only waited for the others.
ALONE = """async (chatId) => {
  const csrf = JSON.parse(document.getElementById("me").textContent).csrf_token;
  const calls = [["POST", `/api/v1/chats/${chatId}/read`], ["GET", `/api/v1/chats/${chatId}/timeline?limit=50`],
    ["GET", `/api/v1/chats/${chatId}`], ["GET", `/api/v1/chats/${chatId}/history`], ["GET", "/api/v1/chats?tab=mine&limit=50"],
    ["GET", "/api/v1/chats/unread"], ["GET", "/api/v1/important?limit=1"], ["GET", "/api/v1/important"],
    ["GET", "/api/v1/employees"]];
  const out = [];
  for (const [method, url] of calls) {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const response = await fetch(url, { method, headers: { "X-CSRF-Token": csrf } });
      await response.text();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    out.push({ call: `${method} ${url}`, median: times[2] });
  }
  return out;
}"""


def _report(runs: list[dict], alone: list[dict]) -> str:
    lines = [f"first paint of a chat with {COUNT} messages (ms from navigation start; run 1 is the first visit, "
             "the others reloads)"]
    for number, r in enumerate(runs, 1):
        lines.append(f"run {number}: newest message in #messages {r['newest']:.0f} ms, on screen (next frame) "
                     f"{r['frame']:.0f} ms, first-contentful-paint {r['fcp'] or float('nan'):.0f} ms, HTML "
                     f"{r['html']:.0f} ms, DOMContentLoaded {r['dcl']:.0f} ms")
        for call in sorted(r["calls"], key=lambda c: c["start"]):
            lines.append(f"    {call['start']:7.1f} → {call['end']:7.1f} ms (server wait {call['wait']:6.1f}) "
                         f"{call['url']}")
    lines.append("each call alone (median of 5, ms):")
    lines += [f"    {a['median']:6.1f}  {a['call']}" for a in alone]
    return "\n".join(lines)


async def test_a_chat_with_a_thousand_messages_shows_the_newest_first_and_pages_the_rest(browser, inbox):
    chat_id = await _talkative_chat(inbox)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.add_init_script(f"({WATCH})({json.dumps(NEWEST)})")
    url = f"{base_of(inbox)}/inbox/chats/{chat_id}"
    runs = []
    for number in range(RUNS):
        if number == 0:
            await page.goto(url)
        else:
            await page.reload()
        await page.wait_for_function("() => window.firstPaint && window.firstPaint.frame !== null", timeout=15_000)
        await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
        runs.append(await page.evaluate(FIGURES))
    report = _report(runs, await page.evaluate(ALONE, chat_id))
    print("\n" + report)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "first-paint.txt").write_text(report + "\n")

    # The chat, its newest message last, and only the newest page of its timeline.
    await expect(page.locator("#chat-title")).to_have_text("Kateryna")
    timeline = page.locator("#messages")
    entries = timeline.locator(":scope > li")
    await expect(entries.last).to_contain_text(NEWEST)
    shown = await entries.count()
    assert 0 < shown <= 100, f"{shown} entries drawn at once"
    await expect(timeline).not_to_contain_text("message 0000 from the client")
    oldest_shown = await entries.first.text_content()

    # Scrolling to the top brings the page before, above what was there.
    await timeline.evaluate("list => { list.scrollTop = 0; }")
    await expect(entries).not_to_have_count(shown, timeout=10_000)
    assert await entries.count() > shown
    assert await entries.first.text_content() != oldest_shown
    await expect(entries.last).to_contain_text(NEWEST)
    assert page.errors == []
