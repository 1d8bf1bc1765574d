"""Conversations first-class (SPEC §10): lead routing, claim/assign/hand over, status, unread, first response."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from jobs.conversations import run_conversation_sweep
from jobs.guard import DatabaseTickGuard
from sales import accounts, conversations, dialogs, listing
from sales.clients import set_personal_manager
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from sales.orders import create_order
from storage.models import (
    AssignmentLog,
    AssignmentTarget,
    Chat,
    ChatStatus,
    Client,
    Employee,
    Order,
    OrderStatus,
    Outbox,
    WidgetExclusion,
)
from sales import outbox
from tests.factories import at, make_shop, new_client, reload


async def _chat(client: Client) -> Chat:
    return await Chat.get(client_id=client.id)


async def _lead(shop, name: str = "Lead", when: float = 1):
    client = await new_client(shop, name=name)
    await dialogs.record_inbound(client, "Hello, is it available?", now=at(when))
    return client, await _chat(client)


async def _reasons(chat: Chat) -> list[str]:
    return [str(r.reason) for r in await AssignmentLog.filter(chat_id=chat.id).order_by("id")]


# --- lead routing (§10.2)

async def test_a_new_leads_first_message_gets_an_assignee_by_rotation(db):
    shop = await make_shop(managers=3)
    _, chat = await _lead(shop)
    assert chat.assignee_id == shop.managers[0].id
    assert await _reasons(chat) == ["rotation"]


async def test_leads_take_turns_through_the_rotation(db):
    shop = await make_shop(managers=3)
    assignees = [(await _lead(shop, f"L{i}"))[1].assignee_id for i in range(6)]
    assert assignees == [m.id for m in shop.managers] * 2


async def test_leads_and_orders_share_one_rotation_pointer(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    other = await new_client(shop)
    order = await create_order(shop.account.id, client_id=other.id, offer_id=shop.offer.id, now=at(2))
    assert (chat.assignee_id, order.order_manager_id) == (shop.managers[0].id, shop.managers[1].id)


async def test_a_lead_with_a_personal_manager_goes_to_him(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[2].id)
    await dialogs.record_inbound(client, "hi", now=at(1))
    chat = await _chat(client)
    assert chat.assignee_id == shop.managers[2].id and await _reasons(chat) == ["personal"]


async def test_a_lead_with_an_open_order_goes_to_its_manager(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(0))
    await dialogs.record_inbound(client, "about my order", now=at(1))
    chat = await _chat(client)
    assert chat.assignee_id == order.order_manager_id and await _reasons(chat) == ["order"]


async def test_an_away_personal_manager_is_skipped_for_the_next_rule(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[2].id)
    await Employee.filter(id=shop.managers[2].id).update(away=True)
    await dialogs.record_inbound(client, "hi", now=at(1))
    chat = await _chat(client)
    assert chat.assignee_id == shop.managers[0].id and await _reasons(chat) == ["rotation"]


async def test_a_lead_whose_widget_excludes_every_manager_goes_to_the_owner(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await Client.filter(id=client.id).update(widget_id=shop.widget.id)
    for manager in shop.managers:
        await WidgetExclusion.create(widget_id=shop.widget.id, employee_id=manager.id)
    await dialogs.record_inbound(client, "hi", now=at(1))
    chat = await _chat(client)
    assert chat.assignee_id == shop.owner.id and await _reasons(chat) == ["owner_fallback"]


async def test_a_lead_goes_through_the_rotation_of_the_widget_he_came_through(db):
    shop = await make_shop(managers=2)
    await WidgetExclusion.create(widget_id=shop.widget.id, employee_id=shop.managers[0].id)
    client = await new_client(shop)
    await Client.filter(id=client.id).update(widget_id=shop.widget.id)
    await dialogs.record_inbound(client, "hi", now=at(1))
    assert (await _chat(client)).assignee_id == shop.managers[1].id


async def test_the_assignee_gets_the_leads_message_and_an_assignment_ping(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    rows = await Outbox.filter(employee_id=shop.managers[0].id).order_by("id").values_list("kind", flat=True)
    assert sorted(rows) == sorted([outbox.CHAT_ASSIGNED, outbox.MESSAGE_TO_STAFF])


async def test_a_second_message_keeps_the_assignee_and_pings_nobody_again(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop)
    await dialogs.record_inbound(client, "still there?", now=at(2))
    assert (await reload(chat)).assignee_id == shop.managers[0].id
    assert await Outbox.filter(kind=outbox.CHAT_ASSIGNED).count() == 1
    assert await _reasons(chat) == ["rotation"]


async def test_a_later_order_goes_to_the_chats_assignee(db):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(2))
    assert order.order_manager_id == chat.assignee_id == shop.managers[0].id


async def test_a_later_order_skips_an_away_chat_assignee(db):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    await Employee.filter(id=chat.assignee_id).update(away=True)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(2))
    assert order.order_manager_id == shop.managers[1].id


async def test_a_returning_clients_resolved_chat_stays_with_his_assignee(db):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    await conversations.set_status(shop.admin, chat.id, "resolved", now=at(2))
    await _lead(shop, "Someone else", when=3)
    await dialogs.record_inbound(client, "I am back", now=at(4))
    chat = await reload(chat)
    assert (chat.assignee_id, chat.status) == (shop.managers[0].id, ChatStatus.OPEN)


@pytest.mark.parametrize("gone", ["away", "deactivated"])
async def test_a_returning_client_whose_assignee_is_gone_is_routed_anew(db, gone):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    await conversations.set_status(shop.admin, chat.id, "resolved", now=at(2))
    await Employee.filter(id=shop.managers[0].id).update(**({"away": True} if gone == "away" else {"active": False}))
    await dialogs.record_inbound(client, "I am back", now=at(4))
    chat = await reload(chat)
    assert chat.assignee_id == shop.managers[1].id
    assert await _reasons(chat) == ["rotation", "rotation"]


async def test_an_unassigned_chats_next_message_goes_back_to_its_previous_assignee(db):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    await conversations.assign_chat(shop.admin, chat.id, None, now=at(2))
    await _lead(shop, "Another", when=3)
    await dialogs.record_inbound(client, "hello again", now=at(4))
    chat = await reload(chat)
    assert chat.assignee_id == shop.managers[0].id
    assert await _reasons(chat) == ["rotation", "manual", "sticky"]


async def test_an_open_chat_of_a_deactivated_assignee_is_routed_anew(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop)
    await Employee.filter(id=shop.managers[0].id).update(active=False)
    await dialogs.record_inbound(client, "anyone?", now=at(2))
    assert (await reload(chat)).assignee_id == shop.managers[1].id


# --- take, assign, hand over (§10.4)

async def _unassigned(shop) -> Chat:
    _, chat = await _lead(shop)
    await conversations.assign_chat(shop.admin, chat.id, None, now=at(2))
    return await reload(chat)


async def test_a_manager_takes_an_unassigned_chat(db):
    shop = await make_shop(managers=2)
    chat = await _unassigned(shop)
    taken = await conversations.take_chat(shop.managers[1], chat.id, now=at(3))
    assert taken.assignee_id == shop.managers[1].id
    assert (await _reasons(chat))[-1] == "take"


async def test_nobody_takes_a_chat_someone_else_has(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    with pytest.raises(Conflict):
        await conversations.take_chat(shop.managers[1], chat.id, now=at(3))
    with pytest.raises(Conflict):
        await conversations.take_chat(shop.admin, chat.id, now=at(3))
    assert (await reload(chat)).assignee_id == shop.managers[0].id


async def test_an_admin_takes_a_chat_over_from_its_assignee_as_the_alert_saw_it(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    taken = await conversations.take_chat(shop.admin, chat.id, replacing=shop.managers[0].id, now=at(3))
    assert taken.assignee_id == shop.admin.id


async def test_a_manager_cannot_take_a_chat_from_its_assignee(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    with pytest.raises(NotAllowed):
        await conversations.take_chat(shop.managers[1], chat.id, replacing=shop.managers[0].id, now=at(3))


async def test_an_admin_assigns_a_chat_to_any_active_employee(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    await conversations.assign_chat(shop.admin, chat.id, shop.managers[1].id, now=at(2))
    assert (await reload(chat)).assignee_id == shop.managers[1].id
    log = await AssignmentLog.filter(chat_id=chat.id).order_by("-id").first()
    assert (log.target, str(log.reason), log.from_employee_id, log.to_employee_id, log.actor_id) == (
        AssignmentTarget.CHAT, "manual", shop.managers[0].id, shop.managers[1].id, shop.admin.id)


async def test_the_assignee_hands_his_chat_over(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    await conversations.assign_chat(shop.managers[0], chat.id, shop.managers[1].id, now=at(2))
    assert (await reload(chat)).assignee_id == shop.managers[1].id
    assert (await _reasons(chat))[-1] == "handover"
    ping = await Outbox.filter(kind=outbox.CHAT_ASSIGNED, employee_id=shop.managers[1].id).first()
    assert ping is not None and ping.payload["reason"] == "handover"


async def test_a_manager_cannot_pass_on_someone_elses_chat(db):
    shop = await make_shop(managers=3)
    _, chat = await _lead(shop)
    # Another manager's chat is not his to see at all (the same answer as a chat of another account).
    with pytest.raises(NotFound):
        await conversations.assign_chat(shop.managers[1], chat.id, shop.managers[2].id, now=at(2))
    await conversations.assign_chat(shop.admin, chat.id, None, now=at(3))
    # An unassigned one he sees, and may take; passing it on is for its assignee or an admin.
    with pytest.raises(NotAllowed):
        await conversations.assign_chat(shop.managers[1], chat.id, shop.managers[2].id, now=at(4))
    assert (await reload(chat)).assignee_id is None


async def test_assigning_to_another_accounts_employee_is_not_found_and_changes_nothing(db):
    shop, other = await make_shop(managers=2), await make_shop(managers=1)
    _, chat = await _lead(shop)
    with pytest.raises(NotFound) as error:
        await conversations.assign_chat(shop.admin, chat.id, other.managers[0].id, now=at(2))
    assert error.value.field == "employee_id"
    assert (await reload(chat)).assignee_id == shop.managers[0].id and await _reasons(chat) == ["rotation"]


async def test_assigning_to_a_deactivated_employee_is_invalid_and_changes_nothing(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    await Employee.filter(id=shop.managers[1].id).update(active=False)
    with pytest.raises(Invalid) as error:
        await conversations.assign_chat(shop.admin, chat.id, shop.managers[1].id, now=at(2))
    assert (error.value.message, error.value.field) == ("a deactivated employee cannot be assigned", "employee_id")
    assert (await reload(chat)).assignee_id == shop.managers[0].id


async def test_another_accounts_chat_is_not_found(db):
    shop, other = await make_shop(managers=2), await make_shop(managers=1)
    _, chat = await _lead(shop)
    with pytest.raises(NotFound):
        await conversations.take_chat(other.admin, chat.id, now=at(2))
    with pytest.raises(NotFound):
        await conversations.assign_chat(other.admin, chat.id, other.admin.id, now=at(2))


# --- status and tabs (§10.1, §10.7)

async def _tab(employee, tab, **kwargs) -> list[int]:
    return [c.id for c in (await listing.chats(employee, tab, now=kwargs.pop("now", at(100)), **kwargs)).rows]


async def test_a_resolved_chat_leaves_mine_and_a_new_message_brings_it_back(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop)
    manager = shop.managers[0]
    assert await _tab(manager, "mine") == [chat.id]
    await conversations.set_status(manager, chat.id, "resolved", now=at(2))
    assert await _tab(manager, "mine") == []
    assert await _tab(manager, "mine", status="resolved") == [chat.id]
    await dialogs.record_inbound(client, "one more thing", now=at(3))
    assert await _tab(manager, "mine") == [chat.id]


async def test_a_snoozed_chat_comes_back_by_itself_at_its_time(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    manager = shop.managers[0]
    await conversations.set_status(manager, chat.id, "snoozed", snoozed_until=at(60), now=at(2))
    assert await _tab(manager, "mine", now=at(30)) == []
    assert await _tab(manager, "mine", now=at(61)) == [chat.id]
    assert await conversations.wake_snoozed(at(61)) == [chat.id]
    assert (await reload(chat)).status == ChatStatus.OPEN


async def test_a_snooze_needs_a_future_time(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    with pytest.raises(Invalid) as error:
        await conversations.set_status(shop.managers[0], chat.id, "snoozed", now=at(2))
    assert error.value.field == "snoozed_until"
    with pytest.raises(Invalid):
        await conversations.set_status(shop.managers[0], chat.id, "snoozed", snoozed_until=at(1), now=at(2))


async def test_a_time_to_come_back_is_refused_for_a_chat_that_is_not_snoozed(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    with pytest.raises(Invalid) as refused:
        await conversations.set_status(shop.managers[0], chat.id, "resolved", snoozed_until=at(60), now=at(2))
    assert (refused.value.message, refused.value.field) == (
        "only a snoozed chat has a time to come back", "snoozed_until")
    assert (await reload(chat)).status == ChatStatus.OPEN


async def test_a_due_chat_snoozed_again_just_before_waking_stays_snoozed_and_the_next_due_chats_still_wake(
        db, monkeypatch):
    shop = await make_shop(managers=2)
    due = [(await _lead(shop, f"Lead {i}"))[1] for i in range(3)]
    for chat in due:
        await conversations.set_status(shop.owner, chat.id, "snoozed", snoozed_until=at(60), now=at(2))
    first, *rest = await Chat.filter(status=ChatStatus.SNOOZED, snoozed_until__lte=at(61)).values_list(
        "id", flat=True)
    real_transaction, raced = conversations.in_transaction, []

    @asynccontextmanager
    async def snoozed_again_by_the_owner_first(*args, **kwargs):
        if not raced:  # between the listing of due chats and the lock of the first of them
            raced.append(first)
            await conversations.set_status(shop.owner, first, "snoozed", snoozed_until=at(120), now=at(61))
        async with real_transaction(*args, **kwargs) as connection:
            yield connection

    monkeypatch.setattr(conversations, "in_transaction", snoozed_again_by_the_owner_first)

    assert sorted(await conversations.wake_snoozed(at(61))) == sorted(rest)
    assert raced == [first]
    first_chat = await Chat.get(id=first)
    assert (first_chat.status, first_chat.snoozed_until) == (ChatStatus.SNOOZED, at(120))
    assert {c.status for c in await Chat.filter(id__in=rest)} == {ChatStatus.OPEN}


async def test_only_the_assignee_or_an_admin_changes_the_status(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop)
    with pytest.raises(NotFound):
        await conversations.set_status(shop.managers[1], chat.id, "resolved", now=at(2))
    # Seeing the chat (it is his client's) is not enough: the assignee decides where it stands.
    client = await Client.get(chat__id=chat.id)
    await set_personal_manager(shop.owner, client.id, shop.managers[1].id)
    with pytest.raises(NotAllowed):
        await conversations.set_status(shop.managers[1], chat.id, "resolved", now=at(2))
    await conversations.set_status(shop.admin, chat.id, "pending", now=at(2))
    assert (await reload(chat)).status == ChatStatus.PENDING


async def test_a_manager_sees_unassigned_chats_but_not_another_managers(db):
    shop = await make_shop(managers=2)
    _, mine = await _lead(shop, "Mine")
    _, theirs = await _lead(shop, "Theirs", when=2)
    await conversations.assign_chat(shop.admin, mine.id, None, now=at(3))
    manager = shop.managers[0]
    assert await _tab(manager, "unassigned") == [mine.id]
    await listing.visible_chat(manager, mine.id)
    with pytest.raises(NotFound):
        await listing.visible_chat(manager, theirs.id)


async def test_mine_holds_assigned_chats_and_those_of_my_personal_and_open_order_clients(db):
    shop = await make_shop(managers=2)
    manager = shop.managers[1]
    _, assigned = await _lead(shop, "A")
    await conversations.assign_chat(shop.admin, assigned.id, manager.id, now=at(2))
    personal, personal_chat = await _lead(shop, "P", when=3)
    await set_personal_manager(shop.owner, personal.id, manager.id)
    ordered, ordered_chat = await _lead(shop, "O", when=4)
    order = await create_order(shop.account.id, client_id=ordered.id, offer_id=shop.offer.id, now=at(5))
    await Order.filter(id=order.id).update(order_manager_id=manager.id)
    assert set(await _tab(manager, "mine")) == {assigned.id, personal_chat.id, ordered_chat.id}
    await Order.filter(id=order.id).update(status=OrderStatus.PAID)
    assert set(await _tab(manager, "mine")) == {assigned.id, personal_chat.id}


async def test_search_finds_a_chat_by_client_name_or_message_text(db):
    shop = await make_shop(managers=1)
    _, anna = await _lead(shop, "Anna Koval")
    bob, bob_chat = await _lead(shop, "Bob", when=2)
    await dialogs.record_inbound(bob, "the winter tyres please", now=at(3))
    assert await _tab(shop.owner, "all", q="koval") == [anna.id]
    assert await _tab(shop.owner, "all", q="TYRES") == [bob_chat.id]
    assert await _tab(shop.owner, "all", q="nothing like it") == []


# --- unread (§10.6)

async def test_unread_counts_the_client_messages_since_i_last_read(db):
    shop = await make_shop(managers=1)
    client, chat = await _lead(shop)
    manager = shop.managers[0]
    await dialogs.record_inbound(client, "second", now=at(2))
    summaries = await listing.chat_summaries([chat.id], manager.id)
    assert (summaries[chat.id].unread, summaries[chat.id].last_direction) == (2, "in")
    assert (await listing.unread_chats(manager))["mine"] == 1
    await conversations.mark_read(manager, chat.id, now=at(3))
    assert (await listing.chat_summaries([chat.id], manager.id))[chat.id].unread == 0
    assert (await listing.unread_chats(manager))["mine"] == 0
    await dialogs.record_outbound(manager, client.id, "answer", now=at(4))
    await dialogs.record_inbound(client, "thanks", now=at(5))
    assert (await listing.chat_summaries([chat.id], manager.id))[chat.id].unread == 1
    # Read by one employee is still unread for another.
    assert (await listing.chat_summaries([chat.id], shop.owner.id))[chat.id].unread == 3


# --- first response (§10.5), on a fake clock

async def _sweep(minutes: float, interval: int = 60):
    return await run_conversation_sweep(DatabaseTickGuard(), at(minutes), interval)


async def test_an_unanswered_client_raises_one_alert_to_owner_and_admins(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop, when=0)
    assert await _sweep(14) == []
    assert await _sweep(16) == [chat.id]
    alerts = await Outbox.filter(kind=outbox.CHAT_UNANSWERED).order_by("employee_id")
    assert [a.employee_id for a in alerts] == sorted([shop.owner.id, shop.admin.id])
    assert await _sweep(30) == [] and await _sweep(120) == []
    assert await Outbox.filter(kind=outbox.CHAT_UNANSWERED).count() == 2


async def test_a_staff_reply_ends_the_stretch_and_the_next_wait_alerts_again(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop, when=0)
    await _sweep(16)
    await dialogs.record_outbound(shop.managers[0], client.id, "sorry, here I am", now=at(20))
    assert await _sweep(40) == []
    await dialogs.record_inbound(client, "and now?", now=at(41))
    assert await _sweep(50) == []
    assert await _sweep(57) == [chat.id]
    assert await Outbox.filter(kind=outbox.CHAT_UNANSWERED).count() == 4


async def test_the_wait_counts_from_the_first_unanswered_message(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop, when=0)
    await dialogs.record_inbound(client, "hello??", now=at(10))
    assert await _sweep(16) == [chat.id]


async def test_an_unanswered_chat_passes_to_the_next_in_rotation_when_asked(db):
    shop = await make_shop(managers=3)
    await accounts.update_settings(shop.owner, reassign_unanswered=True)
    _, chat = await _lead(shop, when=0)
    assert chat.assignee_id == shop.managers[0].id
    await _sweep(16)
    chat = await reload(chat)
    assert chat.assignee_id == shop.managers[1].id
    assert await _reasons(chat) == ["rotation", "unanswered"]
    alert = await Outbox.filter(kind=outbox.CHAT_UNANSWERED).first()
    assert alert.payload["reassigned_to"] == shop.managers[1].id


async def test_first_response_off_raises_nothing(db):
    shop = await make_shop(managers=2)
    await accounts.update_settings(shop.owner, first_response_minutes=0)
    await _lead(shop, when=0)
    assert await _sweep(600) == []


async def test_a_resolved_chat_raises_no_first_response_alert(db):
    shop = await make_shop(managers=2)
    _, chat = await _lead(shop, when=0)
    await conversations.set_status(shop.managers[0], chat.id, "resolved", now=at(5))
    assert await _sweep(30) == []


async def test_the_sweep_runs_once_per_tick_across_callers(db):
    shop = await make_shop(managers=2)
    await _lead(shop, when=0)
    assert await _sweep(16) is not None
    assert await _sweep(16.5) is None


async def test_first_response_settings_are_validated(db):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as error:
        await accounts.update_settings(shop.owner, first_response_minutes=-1)
    assert error.value.field == "first_response_minutes"
    with pytest.raises(NotAllowed):
        await accounts.update_settings(shop.managers[0], first_response_minutes=5)
    account = await accounts.update_settings(shop.admin, first_response_minutes=5, reassign_unanswered=True)
    assert (account.first_response_minutes, account.reassign_unanswered, account.detach_after_seconds) == (
        5, True, timedelta(hours=24).total_seconds())


async def test_answering_a_client_reads_his_chat_for_whoever_answers(db):
    shop = await make_shop(managers=1)
    client, chat = await _lead(shop)
    await dialogs.record_inbound(client, "and one more", now=at(2))
    await dialogs.record_outbound(shop.managers[0], client.id, "answered from Telegram", now=at(3))
    assert (await listing.chat_summaries([chat.id], shop.managers[0].id))[chat.id].unread == 0
    assert (await listing.chat_summaries([chat.id], shop.owner.id))[chat.id].unread == 2


# --- the recipients of a client's message are read once with the assignee's check (issue 14)

async def _to_staff(message_id: int) -> list[int]:
    return sorted(await Outbox.filter(kind=outbox.MESSAGE_TO_STAFF,
                                      dedupe_key__startswith=f"{outbox.MESSAGE_TO_STAFF}:{message_id}:")
                  .values_list("employee_id", flat=True))


async def _event_of(message_id: int) -> dict:
    [payload] = await Outbox.filter(kind=outbox.CHAT_EVENT, dedupe_key__endswith=f":message:{message_id}") \
        .values_list("payload", flat=True)
    return payload


async def test_a_change_of_status_is_announced_naming_the_chat_its_assignee_and_the_new_status(db):
    """docs/interfaces.md: a `chat.status` live event carries the chat, its assignee and its status."""
    shop = await make_shop(managers=1)
    _, chat = await _lead(shop)
    await conversations.set_status(shop.managers[0], chat.id, "resolved", now=at(3))
    [payload] = await Outbox.filter(kind=outbox.CHAT_EVENT, dedupe_key__startswith=f"{outbox.CHAT_EVENT}:{chat.id}:status:") \
        .values_list("payload", flat=True)
    assert {name: payload.get(name) for name in ("chat_id", "event", "assignee_id", "status")} == {
        "chat_id": chat.id, "event": "status", "assignee_id": shop.managers[0].id, "status": "resolved"}


async def test_an_open_chat_of_an_away_assignee_waits_for_him_and_he_gets_the_message(db):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop)
    await Employee.filter(id=shop.managers[0].id).update(away=True)
    message = await dialogs.record_inbound(client, "anyone?", now=at(2))
    assert (await reload(chat)).assignee_id == shop.managers[0].id
    assert await _reasons(chat) == ["rotation"]
    assert await _to_staff(message.id) == [shop.managers[0].id]
    assert (await _event_of(message.id))["audience"] == {"employee_ids": [shop.managers[0].id], "managers": False}


@pytest.mark.parametrize("status", ["pending", "snoozed"])
async def test_a_waiting_chat_of_a_deactivated_assignee_is_routed_anew_and_its_message_goes_to_the_new_one(
        db, status):
    shop = await make_shop(managers=2)
    client, chat = await _lead(shop)
    await conversations.set_status(shop.admin, chat.id, status, now=at(2),
                                   snoozed_until=at(60) if status == "snoozed" else None)
    await Employee.filter(id=shop.managers[0].id).update(active=False)
    message = await dialogs.record_inbound(client, "anyone?", now=at(3))
    chat = await reload(chat)
    assert (chat.assignee_id, chat.status) == (shop.managers[1].id, ChatStatus.OPEN)
    assert await _to_staff(message.id) == [shop.managers[1].id]
    event = await _event_of(message.id)
    assert (event["assignee_id"], event["audience"]["employee_ids"]) == (shop.managers[1].id, [shop.managers[1].id])


async def test_a_message_reaches_the_assignee_and_the_personal_and_order_managers_once_each(db):
    shop = await make_shop(managers=3)
    client, chat = await _lead(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[1].id)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(2))
    await Order.filter(id=order.id).update(order_manager_id=shop.managers[2].id)
    message = await dialogs.record_inbound(client, "and now?", now=at(3))
    everyone = sorted(m.id for m in shop.managers)
    assert await _to_staff(message.id) == everyone
    assert (await _event_of(message.id))["audience"] == {"employee_ids": everyone, "managers": False}
    assert (await reload(chat)).assignee_id == shop.managers[0].id


async def test_a_clients_everyday_message_is_stored_in_five_statements_between_begin_and_commit(pg, monkeypatch):
    """Issue 14: the chat locked, the message, who answers (which also says the assignee still does), the chat
    moved, and the outbox rows (his managers' and the live event) in one statement. PostgreSQL's statements, as
    asyncpg sends them; a new statement here costs every customer message a round trip."""
    import asyncpg.connection

    shop = await make_shop(managers=2)
    client, _ = await _lead(shop)
    await dialogs.record_inbound(client, "second", now=at(2))
    sent: list[str] = []
    do_execute, execute = asyncpg.connection.Connection._do_execute, asyncpg.connection.Connection.execute

    async def counted_do_execute(self, query, *args, **kwargs):
        sent.append(query if isinstance(query, str) else query.query)
        return await do_execute(self, query, *args, **kwargs)

    async def counted_execute(self, query, *args, **kwargs):
        if not args:  # a plain query (BEGIN, COMMIT) goes this way; one with arguments through _do_execute
            sent.append(query)
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_do_execute", counted_do_execute)
    monkeypatch.setattr(asyncpg.connection.Connection, "execute", counted_execute)
    await dialogs.record_inbound(client, "third", now=at(3))
    monkeypatch.undo()
    assert [_statement(q) for q in sent] == [
        "BEGIN", "SELECT chat FOR UPDATE", "INSERT message", "SELECT employee", "UPDATE chat", "INSERT outbox",
        "COMMIT"], sent


def _statement(sql: str) -> str:
    """`SELECT <columns> FROM "chat" … FOR UPDATE` as `SELECT chat FOR UPDATE`: the verb and the table."""
    words = sql.replace('"', "").rstrip(";").split()
    if words[0] == "SELECT":
        return " ".join(["SELECT", words[words.index("FROM") + 1]] + (["FOR UPDATE"] if "FOR UPDATE" in sql else []))
    if words[0] == "INSERT":
        return f"INSERT {words[2]}"
    if words[0] == "UPDATE":
        return f"UPDATE {words[1]}"
    return words[0]
