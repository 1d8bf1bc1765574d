// The chat page's timeline (SPEC §11.4) and its note composer (SPEC §11.2). Loaded before app.js, whose helpers
// (el, t, api, when, money, failureReason, flash, onLive, STATUS, CHAT_REASONS, ORDER_REASONS, OUTCOMES) it uses once
// called from chatPage.
// Everything user-written is put into the page as text (textContent), never as HTML.
"use strict";

// At one moment the server orders kinds this way (sales.timeline.KINDS); a page is merged in the same order.
const TIMELINE_KINDS = ["message", "order_created", "assignment", "payment", "call", "note"];
const TIMELINE_PAGE = 50;

// A page of the chat's timeline: the newest, or the one before the cursor `older`.
function timelinePage(chatId, older = null) {
  const query = new URLSearchParams({ limit: String(TIMELINE_PAGE) });
  if (older) query.set("before", older);
  return api("GET", `/chats/${chatId}/timeline?${query}`);
}

// `list`: the scrolling <ol>; `chatId`; `currentChat()`: the chat as the page knows it now (its client's name);
// `firstPage`: the newest page if already asked for (the chat page asks for it while it reads the chat).
// Returns { newer, addNote, noting }: app.js draws with `newer` and sends a note with `addNote` in note mode.
function chatTimeline(list, chatId, currentChat, { firstPage = null } = {}) {
  const shown = new Map();  // "kind:id" -> its <li>
  let cursor = null;  // the page before the oldest shown, if any
  let loadingOlder = null;
  const keyOf = (entry) => `${entry.kind}:${entry.id}`;
  const order = (entry) => [Date.parse(entry.at), TIMELINE_KINDS.indexOf(entry.kind), entry.id];
  const before = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

  function page(older) {
    if (!older && firstPage) {
      const prefetched = firstPage;
      firstPage = null;
      return prefetched;
    }
    return timelinePage(chatId, older);
  }

  function node(entry) {
    const li = timelineEntry(entry, currentChat());
    li.dataset.kind = entry.kind;
    li.dataset.entry = entry.id;
    li.timelineOrder = order(entry);
    return li;
  }

  // In its place by time: a payment's time is the provider's, which may be earlier than what is already shown.
  function insert(entry) {
    const li = node(entry);
    shown.set(keyOf(entry), li);
    let next = null;
    for (let at = list.lastElementChild; at?.timelineOrder && before(li.timelineOrder, at.timelineOrder) < 0;
      at = at.previousElementSibling) {
      next = at;
    }
    list.insertBefore(li, next);
  }

  async function first() {
    const data = await page(null);
    shown.clear();
    clear(list);
    for (const entry of data.items) insert(entry);
    if (!data.items.length) list.append(el("li", { class: "empty" }, t("Nothing here")));
    cursor = data.next_cursor;
    list.scrollTop = list.scrollHeight;
    await fill();
  }

  // Older entries go on top; what the employee was reading stays where it was.
  function older() {
    if (!cursor) return Promise.resolve();
    loadingOlder ??= (async () => {
      const data = await page(cursor);
      const height = list.scrollHeight;
      const top = list.scrollTop;
      for (const entry of data.items) if (!shown.has(keyOf(entry))) insert(entry);
      cursor = data.next_cursor;
      list.scrollTop = top + (list.scrollHeight - height);
    })().finally(() => { loadingOlder = null; });
    return loadingOlder;
  }

  // Until the list can scroll there is no scrolling to the top to ask for more.
  async function fill() {
    while (cursor && list.scrollHeight <= list.clientHeight) await older();
  }

  // What is new since the page was drawn (a message, a note, an order, a payment...): the newest page, merged.
  // Nothing of it shown yet means more happened than a page holds: draw again.
  async function newer() {
    if (!shown.size) return first();
    const data = await page(null);
    const fresh = data.items.filter((entry) => !shown.has(keyOf(entry)));
    if (data.next_cursor && fresh.length === data.items.length) return first();
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.querySelector(":scope > li.empty")?.remove();
    for (const entry of data.items) {
      const old = shown.get(keyOf(entry));
      // An order's line shows its status now: paid, failed...
      if (old && entry.kind === "order_created") {
        const li = node(entry);
        old.replaceWith(li);
        shown.set(keyOf(entry), li);
      }
    }
    for (const entry of fresh) insert(entry);
    if (atBottom && fresh.length) list.scrollTop = list.scrollHeight;
  }
  const newerSoon = debounce(() => newer().catch(() => null), 200);

  list.addEventListener("scroll", () => { if (list.scrollTop < 80) older(); });

  // Client messages come through app.js (it reads them too). Notes, changes of assignee and of its orders come as
  // this chat's events; an order (its manager's ping) or a failed payment (an important item) only to those it
  // concerns, and not always naming the chat: such a rare event of one's own is worth one look, unless it names
  // another chat.
  onLive((event) => {
    const chat = currentChat();
    const chatOf = event.chat_id ?? event.payload?.chat_id;
    if (["note", "chat", "order"].includes(event.topic) && chatOf === chat.id) newerSoon();
    if (["assignment", "important"].includes(event.topic) && (chatOf ?? chat.id) === chat.id
        && (event.client_id ?? chat.client.id) === chat.client.id) newerSoon();
  });

  const composer = noteComposer();

  async function addNote(text) {
    if ([...text].length > MAX_MESSAGE) { flash(t("Too long for a note: shorten it"), true); return false; }
    const note = await api("POST", `/chats/${chatId}/notes`, { text });
    list.querySelector(":scope > li.empty")?.remove();
    if (!shown.has(`note:${note.id}`)) insert({ kind: "note", at: note.created_at, id: note.id, note });
    list.scrollTop = list.scrollHeight;
    return true;
  }

  return { newer, addNote, noting: composer.noting };
}

function timelineEntry(entry, chat) {
  const time = el("time", { datetime: entry.at }, when(entry.at));
  if (entry.kind === "message") {
    const m = entry.message;
    const text = el("div", { class: "text" }, m.text);
    const li = el("li", { class: `message ${m.direction}` },
      el("div", { class: "who" }, m.direction === "in" ? chat.client.name : (m.employee?.name || t("Bot"))), text, time);
    // A message's files (another script draws them, when the page has it).
    const files = typeof window.renderAttachments === "function" ? window.renderAttachments(m) : null;
    if (files) text.after(files);
    return li;
  }
  if (entry.kind === "note") {
    const n = entry.note;
    return el("li", { class: "note" },
      el("div", { class: "who" }, el("span", { class: "note-label" }, t("Note")), " · ", el("span", { class: "author" }, n.author.name)),
      el("div", { class: "text" }, n.text),
      n.mentioned.length ? el("div", { class: "mentioned" }, n.mentioned.map((e) => `@${e.name}`).join(", ")) : "",
      time);
  }
  return el("li", { class: `event ${entry.kind}${entry.kind === "payment" && entry.result === "failed" ? " failed" : ""}` },
    el("span", { class: "what" }, timelineEventText(entry)), " ", time);
}

// What an event line says: a text, or (a payment) a text and its failure reason (a node, the code in its title).
function timelineEventText(entry) {
  const order = (e) => `#${e.order_id} ${e.offer.title}`;
  if (entry.kind === "order_created") {
    return `${t("Order created")}: ${order(entry)} · ${money(entry.amount, entry.currency)}`
      + ` · ${STATUS()[entry.status] || entry.status}`;
  }
  if (entry.kind === "payment") {
    const label = { paid: `✓ ${t("Paid")}`, failed: `⚠ ${t("The payment failed")}`, refunded: `↩ ${t("Refunded")}` };
    return [`${label[entry.result]}: ${order(entry)} · ${money(entry.amount, entry.currency)}`,
      entry.reason ? ` · ${t("Reason")}: ` : "", failureReason(entry.reason)];
  }
  if (entry.kind === "assignment") {
    const what = { chat: t("Assignee"), order: `${t("Order manager")} #${entry.order_id}`, client: t("Personal manager") };
    const reasons = entry.target === "chat" ? CHAT_REASONS() : ORDER_REASONS();
    const by = entry.actor && entry.actor.id !== entry.to_employee?.id ? ` (${entry.actor.name})` : "";
    return `${what[entry.target]}: ${entry.from_employee?.name || "—"} → ${entry.to_employee?.name || "—"}`
      + ` · ${reasons[entry.reason] || entry.reason}${by}`;
  }
  // A call.
  return `${t("Call")} #${entry.order_id} · ${entry.employee.name} · ${OUTCOMES()[entry.outcome] || entry.outcome}`
    + (entry.comment ? ` · ${entry.comment}` : "")
    + (entry.call_back_at ? ` · ${t("Call back")} ${when(entry.call_back_at)}` : "");
}

// The "Note" toggle beside Send: the reply box becomes a note box (its own colour, "Add note"); Enter adds the note,
// Shift+Enter starts a new line. It stays a note box until toggled back, so a private thought never goes out by habit.
function noteComposer() {
  const reply = document.getElementById("reply");
  const toggle = document.getElementById("note-toggle");
  const box = reply.elements.text;
  const send = reply.querySelector("button[type=submit]");
  const normal = { label: send.textContent, placeholder: box.placeholder };
  let on = false;
  function set(noting) {
    on = noting;
    reply.classList.toggle("note-mode", on);
    toggle.setAttribute("aria-pressed", String(on));
    send.textContent = on ? t("Add note") : normal.label;
    box.placeholder = on ? t("Write a note for the team: the client does not see it") : normal.placeholder;
  }
  toggle.addEventListener("click", () => { set(!on); box.focus(); });
  box.addEventListener("keydown", (event) => {
    // Another handler (a suggestion list) may have taken this Enter already.
    if (!on || event.key !== "Enter" || event.shiftKey || event.isComposing || event.defaultPrevented) return;
    event.preventDefault();
    reply.requestSubmit();
  });
  return { noting: () => on };
}
