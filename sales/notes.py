"""Private notes (SPEC §11.2): staff write in a chat's timeline what the client never sees, and `@name` pings a
colleague.

A note is not a message: it leaves the client, the dialog records (SPEC §3.1), the unread counts (§10.6), the wait
for a staff reply (§10.5), the chat's time of its last message and its assignee alone. It writes the note, one ping
per mentioned colleague and one live event for those who may see the chat, in one transaction.

Mentions: at an `@` that starts a word (so an e-mail address mentions nobody), the longest name of an employee of the
account that the text goes on with, compared case-insensitively and ending where a word ends ("@Maria Petrenko," and
"@maria petrenko" both name Maria Petrenko; "@Mariana" does not name Maria). Failing a whole name, the first word of
a name names its employee when exactly one employee has that first word ("@Maria" alone names Maria Petrenko, unless
there are two Marias: then nobody). Deactivated employees take part in the matching (a former colleague's name is
nobody else's) but are never pinged, nor is the author by his own note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from sales import conversations, outbox
from sales.clock import utcnow
from sales.errors import Invalid
from sales.listing import may_see_client, visible_chat
from storage.models import ChatNote, Client, Employee

# The one rule of a note's size (the API's schema says the same): like a message, up to Telegram's 4096.
MAX_NOTE = 4096
# The outbox kind of the ping a mentioned employee gets, in the inbox (live) and in his Telegram (SPEC §11.2).
NOTE_MENTION = "note.mention"


@dataclass(frozen=True)
class Staffer:
    id: int
    name: str


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("a note cannot be empty", field="text")
    if len(text) > MAX_NOTE:
        raise Invalid("a note is limited to {limit} characters", field="text", limit=MAX_NOTE)
    return text


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def mentioned_in(text: str, staff: Iterable[Staffer]) -> list[int]:
    """The employees `text` mentions, each once, in the order they are first mentioned (the rule is the module's)."""
    names = sorted(((s.name.strip().lower(), s.id) for s in staff if s.name.strip()), key=lambda n: -len(n[0]))
    first_words: dict[str, list[int]] = {}
    for name, employee_id in names:
        first_words.setdefault(name.split()[0], []).append(employee_id)
    found: list[int] = []
    for at, char in enumerate(text):
        if char != "@" or (at > 0 and _word(text[at - 1])):
            continue
        rest = text[at + 1:]
        employee_id = next((i for name, i in names if _starts_with_word(rest, name)), None)
        if employee_id is None:
            word = _leading_word(rest)
            ids = first_words.get(word.lower(), [])
            employee_id = ids[0] if word and len(ids) == 1 else None
        if employee_id is not None and employee_id not in found:
            found.append(employee_id)
    return found


def _starts_with_word(rest: str, name: str) -> bool:
    head = rest[:len(name)]
    return head.lower() == name and (len(rest) == len(name) or not _word(rest[len(name)]))


def _leading_word(rest: str) -> str:
    end = 0
    while end < len(rest) and _word(rest[end]):
        end += 1
    return rest[:end]


async def add_note(actor: Employee, chat_id: int, text: str, *, now: datetime | None = None) -> ChatNote:
    """An employee who may see the chat writes a note in it; those it mentions are pinged."""
    chat = await visible_chat(actor, chat_id)  # checks that he is active, and 404 for what he may not see
    text = _clean(text)
    now = now or utcnow()
    mentioned: list[int] = []
    if "@" in text:
        rows = await Employee.filter(account_id=actor.account_id).values("id", "name", "active")
        named = mentioned_in(text, [Staffer(r["id"], r["name"]) for r in rows])
        # Only colleagues who may open the chat are pinged: a ping whose "Open chat" answers "not found" helps nobody.
        client = await Client.get(id=chat.client_id)
        candidates = await Employee.filter(id__in=[i for i in named if i != actor.id], active=True)
        seeing = {e.id for e in candidates if await may_see_client(e, client)}
        mentioned = [i for i in named if i in seeing]
    async with in_transaction():
        note = await ChatNote.create(chat_id=chat.id, employee_id=actor.id, text=text, mentioned=mentioned,
                                     created_at=now)
        await outbox.enqueue_many([
            outbox.row(account_id=chat.account_id, kind=NOTE_MENTION, dedupe_key=f"{NOTE_MENTION}:{note.id}:{i}",
                       employee_id=i, client_id=chat.client_id, now=now,
                       payload={"chat_id": chat.id, "note_id": note.id, "author_id": actor.id})
            for i in mentioned
        ])
        # The chat's open pages show the note (staff who may see the chat only; the client is no audience).
        await conversations.announce(chat, "note", now, key=note.id, note_id=note.id)
    return note
