"""The inbox pages in a real headless Chromium (Debian's chromium driven by playwright), against the real app."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from core import links
from sales import conversations, dialogs, outbox
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Account, Chat, ChatStatus, Client, Employee, Message, Offer, Order, Outbox, OutboxStatus, PaymentResult
from tests.browsing import OUTPUT, base_of, browser, chromiums, inbox, listening, logged_in, open_page
from tests.factories import at, new_client

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures (tests/browsing.py)

async def test_an_employee_logs_in_and_sees_his_chats(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Olena")
    order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    await Order.filter(id=order.id).update(order_manager_id=manager.id)
    await dialogs.record_inbound(client, "Is the course still on?", now=at(1))
    page = await logged_in(browser, inbox, manager)
    await expect(page.locator("#chat-list")).to_contain_text("Olena")
    await expect(page.locator("#chat-list")).to_contain_text("Is the course still on?")
    assert page.errors == []


async def test_a_wrong_password_shows_an_error_and_stays_on_the_login_page(browser, inbox):
    page = await browser.new_page()
    await page.goto(base_of(inbox) + "/inbox/login")
    await page.fill("input[name=email]", inbox.shop.managers[0].email)
    await page.fill("input[name=password]", "wrong-password")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Wrong e-mail or password")
    assert page.url.endswith("/inbox/login")


async def test_a_failed_payment_makes_the_important_badge_and_row_appear_live(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Petro")
    order = await create_order(
        inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id, now=at(0)
    )
    await dialogs.record_outbound(manager, client.id, "Here is your link", now=at(1))
    page = await logged_in(browser, inbox, manager)
    await page.click("#important-tab")
    await expect(page.locator("#important-table")).to_contain_text("Nothing here")
    await expect(page.locator("#important-badge")).to_be_hidden()
    await apply_payment(PaymentNotice("generic", "fail-1", str(order.id), PaymentResult.FAILED,
                                      occurred_at=at(5), reason="insufficient_funds"))
    row = page.locator("#important-table tbody tr[data-item]")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(page.locator("#important-badge")).to_have_text("1")
    await expect(row.locator(".bell")).to_be_visible()
    await expect(row).to_contain_text("Petro")
    await expect(row.locator("td.reason")).to_have_text("Insufficient funds")  # in words, the code in its title
    await expect(row.locator("td.reason .failure-reason")).to_have_attribute("title", "insufficient_funds")
    await expect(row.locator("a.open-offer")).to_have_attribute("href", f"http://127.0.0.1:8080/inbox/offers/"
                                                                         f"{inbox.shop.flagged_offer.id}")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "important-tab.png"), full_page=True)
    # The alert links use PUBLIC_URL; in the browser we follow the same path on the test server.
    href = await row.locator("a.open-chat").get_attribute("href")
    await page.goto(base_of(inbox) + href.removeprefix("http://127.0.0.1:8080"))
    await expect(page.locator("#chat-title")).to_have_text("Petro")
    await expect(page.locator("#messages")).to_contain_text("Here is your link")
    await expect(page.locator("#important-badge")).to_be_hidden()
    assert page.errors == []


async def test_an_important_row_names_the_order_offer_amount_failure_time_and_reason(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Marta")
    order = await create_order(
        inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id, now=at(0)
    )
    await dialogs.record_outbound(manager, client.id, "Here is your link", now=at(1))
    await apply_payment(PaymentNotice("generic", "fail-row", str(order.id), PaymentResult.FAILED,
                                      occurred_at=at(5), reason="card_declined"))
    page = await logged_in(browser, inbox, manager)
    await page.click("#important-tab")
    row = page.locator("#important-table tbody tr[data-item]")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(row.locator("a.open-order")).to_have_text(f"#{order.id}")
    await expect(row.locator("a.open-order")).to_have_attribute("href", links.order_url("http://127.0.0.1:8080", order.id))
    await expect(row.locator("a.open-offer")).to_have_text("Flagged course")
    await expect(row.locator("td.amount")).to_have_text("€200.00")
    await expect(row.locator("td.failed time")).to_have_text(re.compile(r"ago$"))
    await expect(row.locator("td.failed time")).to_have_attribute("title", re.compile(str(at(5).year)))
    await expect(row.locator("td.reason")).to_have_text("Card declined")
    await expect(row.locator("td.reason .failure-reason")).to_have_attribute("title", "card_declined")
    assert page.errors == []


async def test_an_important_rows_failure_reason_is_in_the_employees_language(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Marta")
    order = await create_order(
        inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id, now=at(0)
    )
    await dialogs.record_outbound(manager, client.id, "Here is your link", now=at(1))
    await apply_payment(PaymentNotice("generic", "ev-1", str(order.id), PaymentResult.FAILED,
                                      occurred_at=at(5), reason="insufficient_funds"))
    await Employee.filter(id=manager.id).update(language="ru")
    page = await logged_in(browser, inbox, manager)
    await page.click("#important-tab")
    row = page.locator("#important-table tbody tr[data-item]")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(row.locator("td.reason")).to_have_text("Недостаточно средств")
    await expect(row.locator("td.reason .failure-reason")).to_have_attribute("title", "insufficient_funds")
    assert page.errors == []

async def test_assigning_two_of_three_selected_orders_changes_only_those_two(browser, inbox):
    first, second = inbox.shop.managers[0], inbox.shop.managers[1]
    orders = []
    for name in ("Anna", "Boris", "Chen"):
        client = await new_client(inbox.shop, name=name)
        order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
        await Order.filter(id=order.id).update(order_manager_id=first.id)
        orders.append(order)
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/orders")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(3)
    for order in (orders[0], orders[2]):
        await page.check(f"tr[data-order='{order.id}'] input.pick")
    await page.select_option("select[name=assignee]", str(second.id))
    await page.click("#assign")
    await expect(page.locator(f"tr[data-order='{orders[0].id}'] .order-manager")).to_have_text(second.name)
    await expect(page.locator(f"tr[data-order='{orders[2].id}'] .order-manager")).to_have_text(second.name)
    await expect(page.locator(f"tr[data-order='{orders[1].id}'] .order-manager")).to_have_text(first.name)
    managers = [(await Order.get(id=o.id)).order_manager_id for o in orders]
    assert managers == [second.id, first.id, second.id]
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "orders-page.png"), full_page=True)
    assert page.errors == []


async def test_the_open_order_link_of_a_ping_shows_that_order_with_its_details(browser, inbox):
    client = await new_client(inbox.shop, name="Iryna")
    for _ in range(2):
        await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    wanted = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    page = await logged_in(browser, inbox, inbox.shop.owner)
    url = links.order_url(base_of(inbox), wanted.id)  # what the Telegram ping and the e-mail link to
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(1)
    await expect(page.locator(f"#orders-table tbody tr[data-order='{wanted.id}']")).to_be_visible()
    await expect(page.locator(".order-detail")).to_be_visible()
    await page.click("#filters button[type=submit]")  # the filters show every order again
    await expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(3)
    assert page.errors == []


async def test_an_orders_history_names_its_reasons_in_the_employees_language(browser, inbox):
    client = await new_client(inbox.shop, name="Petro")
    order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    await Employee.filter(id=inbox.shop.owner.id).update(language="ru")
    page = await logged_in(browser, inbox, inbox.shop.owner)
    await page.goto(links.order_url(base_of(inbox), order.id))
    await expect(page.locator(".order-detail .audit li")).to_contain_text("Ротация")  # not the code "rotation"
    await expect(page.locator(".order-detail .audit")).not_to_contain_text("rotation")
    assert page.errors == []


async def test_the_personal_manager_set_from_an_order_shows_on_the_clients_other_order(browser, inbox):
    client = await new_client(inbox.shop, name="Dana")
    orders = [
        await create_order(inbox.shop.account.id, client_id=client.id, offer_id=offer.id, now=at(0))
        for offer in (inbox.shop.offer, inbox.shop.flagged_offer)
    ]
    chosen = inbox.shop.managers[2]
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/orders")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await page.click(f"tr[data-order='{orders[0].id}'] a.order-link")
    await page.select_option(".order-detail select[name=personal_manager]", str(chosen.id))
    await page.click(".order-detail button.save-pm")
    await expect(page.locator(f"tr[data-order='{orders[1].id}'] .personal-manager")).to_have_text(chosen.name)
    await expect(page.locator(f"tr[data-order='{orders[0].id}'] .personal-manager")).to_have_text(chosen.name)
    assert (await Client.get(id=client.id)).personal_manager_id == chosen.id
    assert page.errors == []


async def test_a_client_name_with_a_script_tag_is_shown_as_text(browser, inbox):
    name = "<script>window.hacked=1</script><img src=x onerror=window.hacked=2>"
    client = await new_client(inbox.shop, name=name)
    await dialogs.record_inbound(client, "<b>bold?</b>", now=at(1))
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/?tab=all")
    await expect(page.locator("#chat-list a.client")).to_have_text(name)
    await expect(page.locator("#chat-list")).to_contain_text("<b>bold?</b>")
    await page.click("#chat-list a.client")
    await expect(page.locator("#chat-title")).to_have_text(name)
    await expect(page.locator("#card h2.client-name")).to_have_text(name)
    assert await page.evaluate("window.hacked") is None
    assert page.errors == []


async def test_pages_speak_the_employees_language(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.select_option("#language", "uk")
    await expect(page.locator("#important-tab")).to_contain_text("Важливе")
    await expect(page.locator("header nav")).to_contain_text("Замовлення")
    assert page.errors == []


async def test_an_admin_sees_an_unmatched_payment_and_sends_a_parked_notification_again(browser, inbox):
    await apply_payment(PaymentNotice("generic", "astray-7", "A-7781", PaymentResult.PAID, occurred_at=at(5)))
    row = await outbox.enqueue(account_id=inbox.shop.account.id, kind=outbox.ORDER_CREATED_EMAIL,
                               dedupe_key="parked-browser", now=at(0))
    await Outbox.filter(id=row.id).update(status=OutboxStatus.PARKED, attempts=8, last_error="550 mailbox unavailable")
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/settings")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page).to_have_title("Settings · closer")
    await expect(page.locator("#unmatched tbody tr[data-event]")).to_contain_text("A-7781")
    parked = page.locator(f"#parked tbody tr[data-outbox='{row.id}']")
    await expect(parked).to_contain_text("550 mailbox unavailable")
    await parked.get_by_role("button", name="Send again").click()
    await expect(parked).to_contain_text("Queued")
    # Queued again: the app's delivery worker may already have taken it (without SMTP configured, it skips mail).
    assert (await Outbox.get(id=row.id)).status in (OutboxStatus.PENDING, OutboxStatus.SKIPPED)
    assert page.errors == []


async def test_a_manager_does_not_see_what_went_astray(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.goto(base_of(inbox) + "/inbox/settings")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#astray")).to_be_hidden()
    assert page.errors == []


async def test_a_manager_is_offered_only_what_he_may_change(browser, inbox):
    me, colleague = inbox.shop.managers[0], inbox.shop.managers[1]
    page = await logged_in(browser, inbox, me)
    await open_page(page, inbox, "/inbox/settings")
    own, other = (page.locator(f"#employees tr[data-employee='{e.id}']") for e in (me, colleague))
    await expect(own.get_by_role("button", name="Save")).to_be_visible()
    await expect(other.get_by_role("button")).to_have_count(0)  # no Save, no invite link for a colleague
    for hidden in ("#new-employee", "#new-widget", "#save-detach", "#save-first-response"):
        await expect(page.locator(hidden)).to_be_hidden()
    assert page.errors == []


async def test_an_admin_edits_an_offer_and_archives_it(browser, inbox):
    offer = inbox.shop.offer
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, f"/inbox/offers/{offer.id}")
    await page.fill("#edit-offer input[name=title]", "Evening course")
    await page.fill("#edit-offer input[name=price]", "150.50")
    await page.click("#edit-offer button[type=submit]")
    await expect(page.locator("#offer-title")).to_have_text("Evening course")
    await expect(page.locator("#offer-price")).to_contain_text("150.50")
    await page.click("#archive-offer")
    await expect(page.locator("#offer-title")).to_have_text("Evening course · Archived")
    await expect(page.locator("#archive-offer")).to_have_text("Restore")
    stored = await Offer.get(id=offer.id)
    assert (stored.title, str(stored.price), stored.active) == ("Evening course", "150.50", False)
    await open_page(page, inbox, "/inbox/offers")
    await expect(page.locator("#offers li.archived")).to_contain_text("Evening course")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "offers-archived.png"))
    assert page.errors == []


async def test_a_manager_cannot_edit_an_offer(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/offers/{inbox.shop.offer.id}")
    await expect(page.locator("#offer-title")).to_have_text(inbox.shop.offer.title)
    await expect(page.locator("#edit-offer")).to_have_count(0)
    assert page.errors == []


# --- conversations (SPEC §10)


async def test_a_manager_sees_unread_counts_on_mine_and_opening_the_chat_clears_them(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Olena")
    order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    await Order.filter(id=order.id).update(order_manager_id=manager.id)
    await dialogs.record_inbound(client, "Hello?", now=at(1))
    message = await dialogs.record_inbound(client, "Is anyone there?", now=at(2))
    page = await logged_in(browser, inbox, manager)
    mine = page.locator("[data-tab=mine] [data-count=mine]")
    row = page.locator(f"#chat-list li[data-chat='{message.chat_id}']")
    await expect(mine).to_have_text("1")
    await expect(row.locator(".unread-badge")).to_have_text("2")
    await row.locator("a.client").click()
    await expect(page.locator("#chat-title")).to_have_text("Olena")
    await expect(mine).to_be_hidden()
    await open_page(page, inbox, "/inbox/?tab=mine")
    await expect(row).to_contain_text("Is anyone there?")
    await expect(row.locator(".unread-badge")).to_have_count(0)
    await expect(mine).to_be_hidden()
    assert page.errors == []


async def test_a_reply_over_telegrams_limit_is_refused_whole_not_cut(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Olha")
    message = await dialogs.record_inbound(client, "Tell me everything", now=at(1))
    await conversations.assign_chat(inbox.shop.admin, message.chat_id, manager.id)
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{message.chat_id}")
    left = page.locator("#reply-left")
    await expect(left).to_have_text("Characters left: 4096")
    await page.fill("#reply textarea", "я" * 5000)  # one code point each, as Telegram counts
    await expect(left).to_have_text("Characters left: -904")
    await expect(left).to_have_class("left over")
    await page.click("#reply button[type=submit]")
    await expect(page.locator("#flash")).to_have_text("Too long for one Telegram message: shorten it")
    assert len(await page.input_value("#reply textarea")) == 5000  # kept whole, to be shortened
    assert await Message.filter(chat_id=message.chat_id).count() == 1  # nothing was sent
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "reply-too-long.png"))
    await page.fill("#reply textarea", "я" * 4096)
    await page.click("#reply button[type=submit]")
    await expect(left).to_have_text("Characters left: 4096")
    assert await Message.filter(chat_id=message.chat_id, direction="out").count() == 1
    assert page.errors == []


async def test_a_manager_takes_an_unassigned_chat_from_the_chat_page(browser, inbox):
    manager = inbox.shop.managers[1]
    client = await new_client(inbox.shop, name="Taras")
    message = await dialogs.record_inbound(client, "How much is the course?", now=at(1))
    await conversations.assign_chat(inbox.shop.admin, message.chat_id, None)
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{message.chat_id}")
    await expect(page.locator("#assignee")).to_have_text("Unassigned")
    await page.click("#take-chat")
    await expect(page.locator("#assignee")).to_have_text(manager.name)
    await expect(page.locator("#take-chat")).to_have_count(0)
    # Now his: he may hand it over and move it along; the trail says he took it.
    await expect(page.locator("#assign-chat")).to_have_text("Hand over")
    await expect(page.locator("button.set-status[data-status=resolved]")).to_be_visible()
    await page.click("#trail summary")
    await expect(page.locator("#trail li").first).to_contain_text(f"Taken · — → {manager.name}")
    assert (await Chat.get(id=message.chat_id)).assignee_id == manager.id
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "chat-assignee.png"))
    assert page.errors == []


async def test_a_manager_too_late_to_take_a_chat_sees_who_won_in_the_servers_words(browser, inbox):
    first, second = inbox.shop.managers[0], inbox.shop.managers[1]
    client = await new_client(inbox.shop, name="Oksana")
    message = await dialogs.record_inbound(client, "Anyone?", now=at(1))
    await conversations.assign_chat(inbox.shop.admin, message.chat_id, None)
    page = await logged_in(browser, inbox, first)
    await open_page(page, inbox, f"/inbox/chats/{message.chat_id}")
    await conversations.take_chat(second, message.chat_id)
    await page.click("#take-chat")
    await expect(page.locator("#flash.bad")).to_contain_text("someone else already has this chat")
    # Reloaded: the chat is the other manager's now, so no longer this one's to see or answer.
    await expect(page.locator("#chat-bar")).to_contain_text("This chat is no longer yours to see")
    await expect(page.locator("#reply")).to_be_hidden()
    assert (await Chat.get(id=message.chat_id)).assignee_id == second.id
    assert page.errors == []

async def test_the_owners_all_tab_shows_a_new_clients_chat_without_a_reload(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.owner)
    await open_page(page, inbox, "/inbox/?tab=all")
    await expect(page.locator("#chat-list")).to_contain_text("Nothing here")
    await listening(page)
    await page.evaluate("window.stayed = true")
    client = await new_client(inbox.shop, name="Mykola")
    await dialogs.record_inbound(client, "Do you ship to Lviv?")
    row = page.locator("#chat-list li[data-chat]")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(row.locator("a.client")).to_have_text("Mykola")
    await expect(row.locator(".preview")).to_have_text("Do you ship to Lviv?")
    await expect(row.locator(".unread-badge")).to_have_text("1")
    await expect(page.locator("[data-count=all]")).to_have_text("1")
    assert await page.evaluate("window.stayed") is True
    assert page.errors == []


async def test_an_admin_resolving_a_chat_takes_it_out_of_its_assignees_mine_tab(browser, inbox):
    manager = inbox.shop.managers[2]
    client = await new_client(inbox.shop, name="Iryna")
    message = await dialogs.record_inbound(client, "I will think about it", now=at(1))
    await conversations.assign_chat(inbox.shop.admin, message.chat_id, manager.id)
    rep = await logged_in(browser, inbox, manager)
    row = rep.locator(f"#chat-list li[data-chat='{message.chat_id}']")
    await expect(row).to_contain_text("I will think about it")
    await listening(rep)
    admin = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(admin, inbox, f"/inbox/chats/{message.chat_id}")
    await expect(admin.locator("#assignee")).to_have_text(manager.name)
    await admin.click("button.set-status[data-status=resolved]")
    await expect(admin.locator("#chat-status")).to_have_text("Resolved")
    await expect(admin.locator("button.set-status[data-status=open]")).to_have_text("Reopen")
    await expect(row).to_have_count(0, timeout=10_000)
    await expect(rep.locator("#chat-list")).to_contain_text("Nothing here")
    assert (await Chat.get(id=message.chat_id)).status == ChatStatus.RESOLVED
    assert rep.errors == [] and admin.errors == []


async def test_the_owner_saves_the_first_response_time_in_settings(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.owner)
    await open_page(page, inbox, "/inbox/settings")
    await expect(page.locator("#first-response")).to_have_value("15")
    await expect(page.locator("#reassign-unanswered")).not_to_be_checked()
    await page.fill("#first-response", "30")
    await page.check("#reassign-unanswered")
    await page.click("#save-first-response")
    await expect(page.locator("#flash")).to_have_text("Saved")
    account = await Account.get(id=inbox.shop.account.id)
    assert (account.first_response_minutes, account.reassign_unanswered) == (30, True)
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#first-response")).to_have_value("30")
    await expect(page.locator("#reassign-unanswered")).to_be_checked()
    assert page.errors == []


async def test_each_chat_row_shows_its_assignee_status_unread_count_and_who_wrote_last(browser, inbox):
    shop = inbox.shop
    first, second = shop.managers[0], shop.managers[1]
    waiting = await new_client(shop, name="Olena Kovalenko")
    await dialogs.record_inbound(waiting, "Hello! Is the spring course still open?", now=at(1))
    asked = await dialogs.record_inbound(waiting, "And can I pay in two parts?", now=at(2))
    await conversations.assign_chat(shop.admin, asked.chat_id, first.id)
    answered = await new_client(shop, name="Petro Shevchenko")
    await dialogs.record_inbound(answered, "Send me the invoice, please", now=at(3))
    reply = await dialogs.record_outbound(second, answered.id, "Here it is — the link is valid for 24 hours", now=at(4))
    await conversations.assign_chat(shop.admin, reply.chat_id, second.id)
    await conversations.set_status(second, reply.chat_id, ChatStatus.PENDING)
    nobody = await new_client(shop, name="María López")
    lead = await dialogs.record_inbound(nobody, "Do you have a group discount?", now=at(5))
    await conversations.assign_chat(shop.admin, lead.chat_id, None)
    page = await logged_in(browser, inbox, shop.admin)
    await open_page(page, inbox, "/inbox/?tab=all")
    rows = {chat_id: page.locator(f"#chat-list li[data-chat='{chat_id}']")
            for chat_id in (asked.chat_id, reply.chat_id, lead.chat_id)}
    await expect(rows[asked.chat_id].locator(".assignee")).to_have_text(first.name)
    await expect(rows[asked.chat_id].locator(".unread-badge")).to_have_text("2")
    await expect(rows[asked.chat_id].locator(".status-chip")).to_have_count(0)
    await expect(rows[asked.chat_id].locator(".direction")).to_have_count(0)
    await expect(rows[reply.chat_id].locator(".assignee")).to_have_text(second.name)
    await expect(rows[reply.chat_id].locator(".status-chip")).to_have_text("Pending")
    await expect(rows[reply.chat_id].locator(".direction[data-direction=out]")).to_be_visible()
    await expect(rows[reply.chat_id].locator(".preview")).to_contain_text("Here it is")
    await expect(rows[lead.chat_id].locator(".assignee")).to_have_text("Unassigned")
    await expect(page.locator("[data-count=all]")).to_have_text("3")
    await expect(page.locator("[data-count=unassigned]")).to_have_text("1")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "tabs-unread.png"))
    assert page.errors == []


async def test_the_search_box_and_the_status_filter_narrow_the_chat_list(browser, inbox):
    anna = await new_client(inbox.shop, name="Anna")
    invoice = await dialogs.record_inbound(anna, "Could you send the invoice again?", now=at(1))
    boris = await new_client(inbox.shop, name="Boris")
    thanks = await dialogs.record_inbound(boris, "Thanks, all clear", now=at(2))
    await conversations.set_status(inbox.shop.admin, thanks.chat_id, ChatStatus.RESOLVED)
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, "/inbox/?tab=all")
    rows = page.locator("#chat-list li[data-chat]")
    await expect(rows).to_have_count(2)
    await page.fill("#chat-search", "invoice")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-chat", str(invoice.chat_id))
    await page.fill("#chat-search", "")
    await page.select_option("#chat-status-filter", "resolved")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-chat", str(thanks.chat_id))
    await expect(rows.locator(".status-chip")).to_have_text("Resolved")
    assert page.url.endswith("?tab=all&status=resolved")
    assert page.errors == []


@pytest.mark.parametrize("inbox", [{"demo": True}], indirect=True)
async def test_in_the_demo_the_owner_makes_a_payment_fail_and_the_chat_becomes_important(browser, inbox):
    owner = inbox.shop.owner
    client = await new_client(inbox.shop, name="Demo Anna")
    order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id,
                               now=at(0))
    await dialogs.record_outbound(owner, client.id, "Welcome, Anna!", now=at(1))
    page = await logged_in(browser, inbox, owner)
    await open_page(page, inbox, f"/inbox/clients/{client.id}")
    row = page.locator(f"li[data-order='{order.id}']")
    await row.locator("button.demo-fail").click()
    await expect(page.locator(f"li[data-order='{order.id}'].failed")).to_be_visible()
    await expect(page.locator("li[data-order] button.demo-fail")).to_be_visible()  # a failed order may fail again
    assert (await Order.get(id=order.id)).status == "failed"
    await open_page(page, inbox, "/inbox/?tab=important")
    await expect(page.locator("#important-table tbody tr", has_text="Demo Anna")).to_be_visible()
    assert page.errors == []


async def test_outside_the_demo_no_page_offers_to_make_a_payment_fail(browser, inbox):
    client = await new_client(inbox.shop, name="Real Anna")
    await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id, now=at(0))
    page = await logged_in(browser, inbox, inbox.shop.owner)
    await open_page(page, inbox, f"/inbox/clients/{client.id}")
    await expect(page.locator("li[data-order]")).to_have_count(1)
    await expect(page.locator("button.demo-fail")).to_have_count(0)
