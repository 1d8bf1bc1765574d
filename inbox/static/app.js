// closer inbox pages. Every page is a shell from the server; this script fills it from the JSON API (/api/v1).
// Everything user-written is put into the page as text (textContent), never as HTML.
"use strict";

const PAGE = document.body.dataset.page;
const ME = JSON.parse(document.getElementById("me").textContent);
const TEXTS = JSON.parse(document.getElementById("texts").textContent);
// Telegram's limit for one message, from the rule (sales.dialogs.MAX_MESSAGE), which the server also applies.
const MAX_MESSAGE = ME.max_message;
const t = (id) => TEXTS[id] || id;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);  // through the DOM: the page's CSP allows no style attribute
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(ME.language, { dateStyle: "medium", timeStyle: "short" });
}

// "3 hours ago" in the page's language; the exact time goes in a title (when()).
function ago(iso) {
  if (!iso) return "";
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const format = new Intl.RelativeTimeFormat(ME.language, { numeric: "auto" });
  for (const [unit, size] of [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds), "second");
}

// An exact decimal string from the API, shown in the page's language with its currency; `whole`: no cents.
function money(amount, currency, { whole = false } = {}) {
  try {
    const digits = whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {};
    return new Intl.NumberFormat(ME.language, { style: "currency", currency, ...digits }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

// `quiet`: the caller shows the failure itself (no flash).
async function api(method, path, body, { quiet = false } = {}) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (ME.csrf_token) options.headers["X-CSRF-Token"] = ME.csrf_token;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/api/v1" + path, options);
  if (response.status === 401) { location.href = "/inbox/login"; throw new Error("log in"); }
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = data?.error || { message: response.statusText };
    if (!quiet) flash(error.message + (error.field ? ` (${error.field})` : ""), true);
    throw Object.assign(new Error(error.message), { error });
  }
  return data;
}

function flash(message, bad = false) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = bad ? "flash bad" : "flash";
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.textContent = ""; box.className = "flash"; }, 5000);
}

function clear(node) { while (node.firstChild) node.firstChild.remove(); return node; }

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

const ADMIN = ME.employee.role !== "manager";

const STATUS = () => ({
  new: t("New"), awaiting_payment: t("Awaiting payment"), paid: t("Paid"), failed: t("Failed"),
  cancelled: t("Cancelled"), refunded: t("Refunded"),
});
const CHAT_STATUS = () => ({
  open: t("Open"), pending: t("Pending"), snoozed: t("Snoozed"), resolved: t("Resolved"),
});
// Why a chat went to its assignee (the assignment trail, SPEC §10.4).
const CHAT_REASONS = () => ({
  personal: t("Personal manager"), order: t("Order manager"), sticky: t("Previous assignee"),
  rotation: t("Rotation"), owner_fallback: t("Owner (nobody else available)"), take: t("Taken"),
  manual: t("Assigned manually"), handover: t("Handed over"), unanswered: t("No reply in time"),
});
// Why an order went to its manager or left him (the order's audit trail, SPEC §1.6).
const ORDER_REASONS = () => ({
  sticky: t("Previous manager"), rotation: t("Rotation"), fallback: t("Owner (nobody else available)"),
  manual: t("Assigned manually"), group: t("Group assignment"), taken: t("Taken"),
  detached: t("Detached: no action in time"), personal: t("Personal manager"),
});
const OUTCOMES = () => ({
  no_answer: t("No answer"), call_back: t("Call back"), talked: t("Talked"),
  promised_to_pay: t("Promised to pay"), refused: t("Refused"),
});

let staffCache = null;
async function staff() {
  if (!staffCache) staffCache = (await api("GET", "/employees")).items;
  return staffCache;
}

function staffSelect(list, selected, { empty = t("Nobody"), name = "employee", activeOnly = true } = {}) {
  const select = el("select", { name });
  select.append(el("option", { value: "" , text: empty }));
  for (const e of list) {
    if (activeOnly && !e.active) continue;
    select.append(el("option", { value: e.id, text: e.name, selected: e.id === selected }));
  }
  return select;
}

// --- the Important badge and live events, on every page

async function refreshBadge() {
  // The count covers all my unseen items; one row is enough to get it.
  const data = await api("GET", "/important?limit=1");
  const badge = document.getElementById("important-badge");
  badge.textContent = data.unseen ? String(data.unseen) : "";
  badge.hidden = !data.unseen;
  return data;
}

// Beside each chat tab: how many of its chats have client messages I have not read.
async function refreshCounts() {
  const counts = await api("GET", "/chats/unread", undefined, { quiet: true }).catch(() => null);
  if (!counts) return;
  for (const span of document.querySelectorAll("[data-count]")) {
    const count = counts[span.dataset.count];
    span.textContent = count ? String(count) : "";
    span.hidden = !count;
  }
}
const refreshCountsSoon = debounce(refreshCounts, 150);
const CHAT_TOPICS = new Set(["message", "chat", "assignment"]);

function toast(text, href, linkText) {
  const item = el("div", { class: "toast", role: "status" }, el("span", { class: "toast-text" }, text),
    href ? el("a", { href }, linkText) : "",
    el("button", { type: "button", class: "close", title: t("Close"), "aria-label": t("Close"),
      onclick: () => item.remove() }, "×"));
  document.getElementById("toasts").append(item);
  setTimeout(() => item.remove(), 30_000);
}

async function chatToast(event) {
  const chatId = event.payload.chat_id;
  const chat = await api("GET", `/chats/${chatId}`, undefined, { quiet: true }).catch(() => null);
  const name = chat ? chat.client.name : `#${chatId}`;
  if (event.topic === "assignment") {
    // Already looking at it: the bar shows the change.
    if (PAGE === "chat" && Number(document.body.dataset.id) === chatId) return;
    toast(`${t("New conversation")}: ${name}`, `/inbox/chats/${chatId}`, t("Open chat"));
    return;
  }
  let text = `${t("A client is waiting for a reply")}: ${name}`;
  if (event.payload.reassigned_to) {
    const to = (await staff()).find((e) => e.id === event.payload.reassigned_to);
    text += ` · ${t("Passed to")} ${to ? to.name : `#${event.payload.reassigned_to}`}`;
  }
  toast(text, `/inbox/chats/${chatId}`, t("Open chat"));
}

// A colleague's note named me (SPEC §11.2); that chat's open page shows the note itself.
async function mentionToast(event) {
  const chatId = event.payload.chat_id;
  if (PAGE === "chat" && Number(document.body.dataset.id) === chatId) return;
  const chat = await api("GET", `/chats/${chatId}`, undefined, { quiet: true }).catch(() => null);
  toast(`${t("You were mentioned in a note")}: ${chat ? chat.client.name : `#${chatId}`}`, `/inbox/chats/${chatId}`,
    t("Open chat"));
}

const liveHandlers = [];
function onLive(handler) { liveHandlers.push(handler); }

// Events may have been missed (the socket was closed, or the server lost Redis): every view reloads, as if each
// kind of event had come.
const RESYNC_TOPICS = ["important", "assignment", "message", "chat", "alert"];
function resync() {
  for (const topic of RESYNC_TOPICS) dispatchLive({ topic, kind: "resync", payload: {} });
}

let liveOpenedBefore = false;
function connectLive() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.topic === "resync") resync();
    else dispatchLive(event);
  };
  socket.onopen = () => {
    document.body.dataset.live = "on";
    if (liveOpenedBefore) resync();
    liveOpenedBefore = true;
  };
  socket.onclose = () => {
    document.body.dataset.live = "off";
    setTimeout(connectLive, 2000);
  };
}

function dispatchLive(event) {
  if (event.topic === "important") refreshBadge();
  if (CHAT_TOPICS.has(event.topic)) refreshCountsSoon();
  if ((event.topic === "assignment" && event.kind === "chat.assigned")
      || (event.topic === "alert" && event.kind === "chat.unanswered")) chatToast(event);
  if (event.kind === "note.mention") mentionToast(event);
  for (const handler of liveHandlers) handler(event);
}

// --- tabs: Mine / Unassigned / Important / All

async function tabsPage() {
  const params = new URLSearchParams(location.search);
  const tab = params.get("tab") || "mine";
  document.querySelector(`[data-tab="${tab}"]`)?.classList.add("active");
  const main = document.getElementById("content");
  if (tab === "important") {
    const history = params.get("history") === "1";
    const draw = async () => clear(main).append(history ? await importantHistory() : await importantTable());
    onLive((event) => { if (event.topic === "important") draw(); });
    return draw();
  }
  // Mine and Unassigned show what still needs work unless a status is asked for; All shows every status.
  const needsWork = tab === "mine" || tab === "unassigned";
  const search = el("input", { type: "search", name: "q", id: "chat-search", maxlength: 200, value: params.get("q") || "",
    placeholder: t("Search name, e-mail, phone or message"), "aria-label": t("Search") });
  const status = el("select", { name: "status", id: "chat-status-filter", "aria-label": t("Status") },
    el("option", { value: "", text: needsWork ? t("Open and pending") : t("Any status") }),
    Object.entries(CHAT_STATUS()).map(([value, label]) =>
      el("option", { value, text: label, selected: value === params.get("status") })));
  const list = el("ul", { class: "chats", id: "chat-list" });
  const more = el("button", { type: "button", hidden: true, onclick: () => load() }, t("More"));
  const tools = el("form", { class: "chat-tools", role: "search", onsubmit: (event) => { event.preventDefault(); filter(); } },
    search, status);
  clear(main).append(tools, list, more);
  let cursor = null;
  let generation = 0;  // a reload makes the answers of older requests stale
  async function load(reset = false) {
    const mine = reset ? ++generation : generation;
    const query = new URLSearchParams({ tab, limit: "50" });
    if (search.value.trim()) query.set("q", search.value.trim());
    if (status.value) query.set("status", status.value);
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await api("GET", "/chats?" + query);
    if (mine !== generation) return;
    const rows = page.items.map(chatRow);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    if (!list.querySelector("li[data-chat]")) list.replaceChildren(el("li", { class: "empty" }, t("Nothing here")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  function filter() {
    const shown = new URLSearchParams({ tab });
    if (search.value.trim()) shown.set("q", search.value.trim());
    if (status.value) shown.set("status", status.value);
    history.replaceState(null, "", "?" + shown);
    return load(true);
  }
  search.addEventListener("input", debounce(filter, 300));
  status.addEventListener("change", filter);
  // Someone wrote, took, handed over or resolved: the list follows without a reload (one reload per burst).
  const reloadSoon = debounce(() => load(true), 150);
  onLive((event) => { if (CHAT_TOPICS.has(event.topic)) reloadSoon(); });
  return load(true);
}

function chatStatusText(chat) {
  if (chat.status === "snoozed" && chat.snoozed_until) return `${t("Snoozed until")} ${when(chat.snoozed_until)}`;
  return CHAT_STATUS()[chat.status];
}

// A file's kind as the chat list names it (the texts are declared in inbox/texts.py).
const ATTACHMENT_KINDS = {
  photo: "Photo", document: "Document", voice: "Voice message", audio: "Audio", video: "Video",
  video_note: "Video message", sticker: "Sticker", animation: "GIF",
};

function chatRow(chat) {
  const href = `/inbox/chats/${chat.id}`;
  return el("li", { "data-chat": chat.id, class: chat.unread ? "unread" : "" },
    el("span", { class: "who" },
      el("a", { href, class: "client" }, chat.client.name),
      chat.unread ? el("span", { class: "unread-badge", title: t("Unread messages") }, String(chat.unread)) : ""),
    el("span", { class: "preview" },
      chat.last_message_direction === "out"
        ? el("span", { class: "direction", "data-direction": "out", title: t("Sent to the client") }, "↪ ") : "",
      chat.last_message_attachment ? `[${t(ATTACHMENT_KINDS[chat.last_message_attachment] || "Document")}] ` : "",
      chat.last_message || ""),
    el("span", { class: "meta" },
      el("span", { class: chat.assignee ? "assignee" : "assignee nobody" },
        chat.assignee ? chat.assignee.name : t("Unassigned")),
      chat.status !== "open" ? el("span", { class: `status-chip ${chat.status}` }, chatStatusText(chat)) : ""),
    el("time", { datetime: chat.last_message_at || "" }, when(chat.last_message_at)));
}

async function importantTable() {
  refreshBadge();
  const table = el("table", { class: "important", id: "important-table" },
    el("thead", {}, el("tr", {},
      el("th", {}, ""), el("th", {}, t("Client")), el("th", {}, t("Order")), el("th", {}, t("Offer")),
      el("th", {}, t("Amount")), el("th", {}, t("Failed")), el("th", {}, t("Reason")), el("th", {}, t("Taken by")))));
  const body = el("tbody");
  let cursor = null;
  const more = el("button", { type: "button", hidden: true, onclick: () => load() }, t("More"));
  async function load() {
    const query = new URLSearchParams({ limit: "50" });
    if (cursor) query.set("cursor", cursor);
    const data = await api("GET", "/important?" + query);
    for (const item of data.items) body.append(importantRow(item));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty" }, t("Nothing here"))));
    cursor = data.next_cursor;
    more.hidden = !cursor;
  }
  table.append(body);
  await load();
  document.addEventListener("important-changed", async () => table.parentNode.replaceWith(await importantTable()),
    { once: true });
  return el("div", {}, table, more, el("p", {}, el("a", { href: "/inbox/?tab=important&history=1" }, t("History"))));
}

function importantRow(item) {
  const take = el("button", { type: "button", class: "take", onclick: async () => {
    await api("POST", `/important/${item.id}/take`);
    flash(t("You took it"));
    document.dispatchEvent(new Event("important-changed"));
  } }, t("Take"));
  // Opening the chat marks the item seen (the chat page does it).
  const openChat = el("a", { href: item.chat_url, class: "open-chat" }, t("Open chat"));
  return el("tr", { "data-item": item.id, class: item.seen ? "seen" : "unseen" },
    el("td", {}, item.seen ? "" : el("span", { class: "bell", title: t("Unseen") })),
    el("td", {}, el("a", { href: item.chat_url, class: "client" }, item.client.name)),
    el("td", {}, el("a", { href: item.order_url, class: "open-order" }, `#${item.order_id}`)),
    el("td", {}, el("a", { href: item.offer_url, class: "open-offer", title: t("Open offer") }, item.offer.title)),
    el("td", { class: "amount" }, money(item.amount, item.currency)),
    el("td", { class: "failed" },
      el("time", { datetime: item.failed_at, title: when(item.failed_at) }, ago(item.failed_at))),
    el("td", { class: "reason" }, item.reason || ""),
    el("td", {}, item.taken_by ? el("span", { class: "taker" }, item.taken_by.name) : take, " ", openChat));
}

async function importantHistory() {
  const page = await api("GET", "/important/history?limit=100");
  const list = el("ul", { class: "history" });
  for (const item of page.items) {
    list.append(el("li", {}, el("a", { href: item.chat_url }, item.client.name), " · ",
      when(item.failed_at), " · ", item.reason || "", item.taken_by ? ` · ${t("Taken by")} ${item.taken_by.name}` : ""));
  }
  if (!page.items.length) list.append(el("li", { class: "empty" }, t("Nothing here")));
  return list;
}

// --- the chat view with the client card beside it

async function chatPage() {
  const chatId = document.body.dataset.id;
  // Opening the chat reads it (SPEC §10.6); the answer is the chat itself.
  let chat = await api("POST", `/chats/${chatId}/read`);
  refreshCounts();
  document.getElementById("chat-title").textContent = chat.client.name;
  // Messages, notes, orders, payments, assignments and calls (SPEC §11.4): inbox/static/timeline.js.
  const timeline = chatTimeline(document.getElementById("messages"), chat.id, () => chat);
  const drawHistory = () => timeline.newer();
  const bar = document.getElementById("chat-bar");
  async function drawBar() {
    const [fresh, trail] = await Promise.all([
      api("GET", `/chats/${chatId}`, undefined, { quiet: true }),
      api("GET", `/chats/${chatId}/history`, undefined, { quiet: true }),
    ]);
    chat = fresh;
    await chatBar(bar, chat, trail.items, { changed: () => drawBar().catch(lost) });
  }
  // A chat handed over or taken by someone else may no longer be ours to see: say so instead of a broken page.
  function lost(error) {
    if (!error?.error) throw error;
    if (error.error.code !== "not_found") { flash(error.message, true); return; }
    clear(bar).append(el("p", { class: "gone" }, t("This chat is no longer yours to see"), " · ",
      el("a", { href: "/inbox/" }, t("Inbox"))));
    document.getElementById("reply").hidden = true;
  }
  // The composer grows with the text and counts down to Telegram's limit; over it, the text is refused as it is,
  // never cut (a pasted text longer than a maxlength would be, silently).
  const reply = document.getElementById("reply");
  const box = reply.elements.text;
  const left = document.getElementById("reply-left");
  const length = () => [...box.value].length;  // code points, as the server and Telegram count
  const counted = () => {
    const remaining = MAX_MESSAGE - length();
    left.textContent = `${t("Characters left")}: ${remaining}`;
    left.classList.toggle("over", remaining < 0);
    box.style.height = "auto";
    box.style.height = `${box.scrollHeight}px`;
  };
  box.addEventListener("input", counted);
  cannedReplies.composer(box, chatId);  // "/" at the start opens the canned replies (canned.js)
  attachmentComposer.hook(reply, chatId, { sent: () => drawHistory() });  // 📎, drop and paste (attachments.js)
  // What is typed stays per chat and per mode until sent (drafts.js).
  const draft = chatDrafts.keep(reply, { user: ME.employee.id, chat: chatId, shown: counted });
  counted();
  reply.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!box.value.trim()) return;
    if (timeline.noting()) { if (await timeline.addNote(box.value)) { box.value = ""; counted(); draft.clear(); } return; }
    if (length() > MAX_MESSAGE) { flash(t("Too long for one Telegram message: shorten it"), true); return; }
    await api("POST", `/chats/${chatId}/messages`, { text: box.value });
    box.value = "";
    counted();
    draft.clear();
    drawHistory();
  });
  const readSoon = debounce(async () => {
    if (document.visibilityState !== "visible") return;
    await api("POST", `/chats/${chatId}/read`, undefined, { quiet: true }).catch(() => null);
    refreshCounts();
  }, 300);
  document.addEventListener("visibilitychange", readSoon);
  const historySoon = debounce(drawHistory, 200);
  const barSoon = debounce(() => drawBar().catch(lost), 200);
  onLive((event) => {
    if ((event.chat_id ?? event.payload?.chat_id) !== chat.id) return;
    if (event.topic === "message") { historySoon(); readSoon(); }
    if (CHAT_TOPICS.has(event.topic)) barSoon();
  });
  // Opening the chat is how the bell goes: the items of this chat are seen now.
  const important = await api("GET", "/important");
  for (const item of important.items.filter((i) => i.chat_id === chat.id && !i.seen)) {
    await api("POST", `/important/${item.id}/seen`);
  }
  refreshBadge();
  await Promise.all([drawHistory(), drawBar().catch(lost)]);
  await clientCard(document.getElementById("card"), chat.client.id);
}

// The bar over a conversation: who answers for it, Take, assign or hand over, its status, its trail (SPEC §10.4).
async function chatBar(bar, chat, trail, { changed }) {
  const employees = await staff();
  const names = Object.fromEntries(employees.map((e) => [e.id, e.name]));
  const mine = chat.assignee?.id === ME.employee.id;
  const status = el("span", { id: "chat-status", class: `status-chip ${chat.status}` }, chatStatusText(chat));
  const who = el("span", { class: "assignee-box" }, `${t("Assignee")}: `,
    el("strong", { id: "assignee", class: chat.assignee ? "assignee" : "assignee nobody" },
      chat.assignee ? chat.assignee.name : t("Unassigned")), " ", status);
  const take = chat.assignee ? "" : el("button", { type: "button", id: "take-chat", class: "primary", onclick: async () => {
    try {
      await api("POST", `/chats/${chat.id}/take`);
      flash(t("You took it"));
    } catch (error) {
      // 409: someone was faster; the flash keeps the server's word and the bar shows how things stand now.
      if (error?.error?.code !== "conflict") return;
    }
    changed();
  } }, t("Take"));

  let picker = "";
  if (ADMIN || mine) {
    // Owner and admins: anyone active, or nobody. The assignee: hand it over to someone else.
    const select = el("select", { id: "assign-to", name: "assign_to", "aria-label": ADMIN ? t("Assign") : t("Hand over") },
      ADMIN ? el("option", { value: "", text: t("Unassigned"), selected: !chat.assignee })
        : el("option", { value: "", text: t("Choose"), disabled: true, selected: true }),
      employees.filter((e) => e.active && (ADMIN || e.id !== ME.employee.id)).map((e) => el("option", {
        value: e.id, text: e.away ? `${e.name} (${t("Away")})` : e.name, selected: e.id === chat.assignee?.id,
      })));
    picker = el("span", { class: "assign-box" }, select, el("button", { type: "button", id: "assign-chat", onclick: async () => {
      const chosen = select.value ? Number(select.value) : null;
      if (chosen === (chat.assignee?.id ?? null) || (!ADMIN && chosen === null)) return;
      await api("POST", `/chats/${chat.id}/assign`, { employee_id: chosen });
      flash(t("Saved"));
      changed();
    } }, ADMIN ? t("Assign") : t("Hand over")));
  }

  let moves = "";
  if (ADMIN || mine) {
    const set = async (next, snoozedUntil) => {
      const body = { status: next };
      if (snoozedUntil) body.snoozed_until = snoozedUntil.toISOString();
      await api("POST", `/chats/${chat.id}/status`, body);
      flash(t("Saved"));
      changed();
    };
    const button = (next, label) => el("button", { type: "button", class: "set-status", "data-status": next,
      onclick: () => set(next) }, label);
    const tomorrow = new Date();
    tomorrow.setDate(tomorrow.getDate() + 1);
    tomorrow.setHours(9, 0, 0, 0);
    const pad = (n) => String(n).padStart(2, "0");
    const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const until = el("input", { type: "datetime-local", name: "snooze_until", min: local(new Date()),
      "aria-label": t("Snooze until") });
    const snooze = el("details", { class: "snooze" }, el("summary", {}, t("Snooze")),
      el("div", { class: "snooze-menu" },
        el("button", { type: "button", "data-snooze": "hour", onclick: () => set("snoozed", new Date(Date.now() + 3600_000)) },
          t("In 1 hour")),
        el("button", { type: "button", "data-snooze": "tomorrow", onclick: () => set("snoozed", tomorrow) },
          `${t("Tomorrow")} ${tomorrow.toLocaleTimeString(ME.language, { timeStyle: "short" })}`),
        el("span", { class: "until" }, until, el("button", { type: "button", "data-snooze": "until", onclick: () => {
          if (!until.value) { until.focus(); return; }
          set("snoozed", new Date(until.value));
        } }, t("Snooze")))));
    moves = el("span", { class: "status-box" },
      chat.status !== "open" ? button("open", t("Reopen")) : "",
      chat.status !== "pending" ? button("pending", t("Mark pending")) : "",
      snooze,
      chat.status !== "resolved" ? button("resolved", t("Resolve")) : "");
  }

  const reasons = CHAT_REASONS();
  const details = el("details", { id: "trail", class: "trail" },
    el("summary", {}, `${t("Assignment history")} (${trail.length})`),
    el("ol", {}, trail.slice().reverse().map((h) => el("li", {},
      el("time", { datetime: h.created_at }, when(h.created_at)), " · ", reasons[h.reason] || h.reason, " · ",
      `${names[h.from_employee_id] || "—"} → ${names[h.to_employee_id] || "—"}`,
      h.actor_id && h.actor_id !== h.to_employee_id ? ` (${names[h.actor_id] || "#" + h.actor_id})` : ""))));
  if (!trail.length) details.querySelector("ol").append(el("li", { class: "empty" }, t("Nothing here")));
  const wasOpen = bar.querySelector("#trail")?.open;
  details.open = Boolean(wasOpen);
  clear(bar).append(el("div", { class: "bar-row" }, who, take, picker, moves), details);
}

async function clientCard(container, clientId) {
  const [client, orders, employees] = await Promise.all([
    api("GET", `/clients/${clientId}`), api("GET", `/clients/${clientId}/orders`), staff(),
  ]);
  const picker = staffSelect(employees, client.personal_manager?.id, { name: "personal_manager" });
  const notes = el("textarea", { name: "notes", rows: 5 });
  notes.value = client.notes;
  const status = STATUS();
  clear(container).append(
    el("h2", { class: "client-name" }, client.name || client.email || `#${client.id}`),
    el("p", {}, client.email || ""), el("p", {}, client.phone || ""),
    el("label", {}, t("Personal manager"), picker),
    el("button", { type: "button", class: "save-pm", onclick: async () => {
      await api("PATCH", `/clients/${clientId}`, { personal_manager_id: picker.value ? Number(picker.value) : null });
      flash(t("Saved"));
    } }, t("Save")),
    el("label", {}, t("Notes"), notes),
    el("button", { type: "button", class: "save-notes", onclick: async () => {
      await api("PATCH", `/clients/${clientId}`, { notes: notes.value });
      flash(t("Saved"));
    } }, t("Save")),
    el("h3", {}, t("Orders")),
    el("ul", { class: "client-orders" }, orders.items.map((o) => el("li", {
      class: o.status === "failed" ? "failed" : o.status, "data-order": o.id,
    }, `#${o.id} · ${o.offer.title} · ${o.amount} ${o.currency} · `, el("span", { class: "status" }, status[o.status]),
    o.failure_reason ? ` · ${o.failure_reason}` : "", demoFailure(o, () => clientCard(container, clientId))))),
  );
}

// `closer demo` only: owner and admins make an unpaid order's payment fail, as a provider would report it, to see
// the Important tab and the alerts fill.
function demoFailure(order, redraw) {
  if (!ME.demo || !ADMIN || !["new", "awaiting_payment", "failed"].includes(order.status)) return "";
  return el("button", { type: "button", class: "demo-fail", onclick: async () => {
    await api("POST", `/demo/orders/${order.id}/fail-payment`, { reason: "card_declined" });
    flash(t("The payment failed"));
    refreshBadge();
    redraw();
  } }, t("Make the payment fail (demo)"));
}

async function clientPage() {
  await clientCard(document.getElementById("card"), document.body.dataset.id);
}

// --- orders: filters, multi-select and Assign responsible, call list, audit trail

async function ordersPage() {
  const [employees, widgets, offers] = await Promise.all([
    staff(), api("GET", "/widgets"), api("GET", "/offers"),
  ]);
  const form = document.getElementById("filters");
  const fill = (name, items, label) => {
    const select = form.elements[name];
    for (const item of items) select.append(el("option", { value: item.id, text: label(item) }));
  };
  fill("order_manager_id", employees, (e) => e.name);
  fill("personal_manager_id", employees, (e) => e.name);
  fill("widget_id", widgets.items, (w) => w.name);
  fill("offer_id", offers.items, (o) => o.title);
  for (const [value, label] of Object.entries(STATUS())) form.elements.status.append(el("option", { value, text: label }));
  const params = new URLSearchParams(location.search);
  for (const [key, value] of params) if (form.elements[key]) form.elements[key].value = value;

  const body = document.querySelector("#orders-table tbody");
  // ?order=N (the link of a new-order ping or e-mail): that order alone, its details open, until the filters are used.
  let only = /^[0-9]+$/.test(params.get("order") || "") ? params.get("order") : null;
  async function draw() {
    let items = [];
    if (only) {
      try { items = [await api("GET", `/orders/${only}`)]; } catch { items = []; }
    } else {
      const query = new URLSearchParams();
      for (const element of form.elements) {
        if (!element.name || !element.value) continue;
        const value = element.type === "date" ? new Date(element.value + "T00:00:00").toISOString() : element.value;
        query.set(element.name, value);
      }
      query.set("limit", "200");
      items = (await api("GET", "/orders?" + query)).items;
    }
    clear(body);
    const status = STATUS();
    for (const o of items) {
      const row = el("tr", { "data-order": o.id, class: o.status === "failed" ? "failed" : "" },
        el("td", {}, el("input", { type: "checkbox", class: "pick", value: o.id })),
        el("td", {}, el("a", { href: "#", class: "order-link", onclick: (e) => { e.preventDefault(); orderDetail(o, row); } },
          `#${o.id}`)),
        el("td", {}, el("a", { href: `/inbox/clients/${o.client.id}` }, o.client.name)),
        el("td", {}, el("a", { href: `/inbox/offers/${o.offer.id}` }, o.offer.title)),
        el("td", { class: "status" }, status[o.status]),
        el("td", { class: "order-manager" }, o.order_manager ? o.order_manager.name : "—"),
        el("td", { class: "personal-manager" }, o.personal_manager ? o.personal_manager.name : "—"),
        el("td", {}, when(o.created_at)),
        el("td", {}, o.order_manager ? "" : el("button", { type: "button", class: "take", onclick: async () => {
          await api("POST", `/orders/${o.id}/take`); draw();
        } }, t("Take"))));
      body.append(row);
    }
    if (!items.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "empty" }, t("Nothing here"))));
    if (only && items.length) await orderDetail(items[0], body.querySelector(`tr[data-order='${items[0].id}']`));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (only) { only = null; history.replaceState(null, "", location.pathname); }
    draw();
  });

  const assignee = staffSelect(employees, null, { empty: t("Choose"), name: "assignee" });
  const admin = ME.employee.role !== "manager";
  document.getElementById("bulk").append(
    admin ? assignee : "",
    admin ? el("button", { type: "button", id: "assign", onclick: async () => {
      const ids = [...document.querySelectorAll(".pick:checked")].map((box) => Number(box.value));
      if (!ids.length || !assignee.value) { flash(t("Select orders and a manager"), true); return; }
      const result = await api("POST", "/orders/assign", { order_ids: ids, employee_id: Number(assignee.value) });
      flash(`${t("Assigned")}: ${result.changed.length}`);
      draw();
    } }, t("Assign responsible")) : "",
  );
  onLive((event) => { if (event.topic === "assignment") draw(); });
  await draw();
  await callList();
}

async function orderDetail(order, row) {
  document.querySelector(".order-detail")?.remove();
  const [history, employees] = await Promise.all([api("GET", `/orders/${order.id}/history`), staff()]);
  const names = Object.fromEntries(employees.map((e) => [e.id, e.name]));
  const reasons = ORDER_REASONS();
  const picker = staffSelect(employees, order.personal_manager?.id, { name: "personal_manager" });
  const detail = el("tr", { class: "order-detail" }, el("td", { colspan: 9 },
    el("label", {}, t("Personal manager"), picker),
    el("button", { type: "button", class: "save-pm", onclick: async () => {
      await api("PATCH", `/clients/${order.client.id}`,
        { personal_manager_id: picker.value ? Number(picker.value) : null });
      flash(t("Saved"));
      document.getElementById("filters").requestSubmit();
    } }, t("Save")),
    el("p", {}, t("Customer information"), ": ", order.customer_info || "—"),
    el("h4", {}, t("History")),
    el("ul", { class: "audit" }, history.items.map((h) => el("li", {},
      `${when(h.created_at)} · ${reasons[h.reason] || h.reason} · ${names[h.from_employee_id] || "—"} → ${names[h.to_employee_id] || "—"}`)))));
  row.after(detail);
}

async function callList() {
  const list = document.getElementById("call-list");
  if (!list) return;
  const data = await api("GET", "/call-list");
  clear(list);
  for (const entry of data.items) {
    const outcome = el("select", { name: "outcome" },
      Object.entries(OUTCOMES()).map(([value, label]) => el("option", { value, text: label })));
    const callBack = el("input", { type: "datetime-local", name: "call_back_at" });
    list.append(el("li", { class: entry.overdue ? "overdue" : "" },
      `#${entry.order.id} · ${entry.order.client.name} · ${entry.order.offer.title}`,
      entry.order.call_back_at ? ` · ${t("Call back")} ${when(entry.order.call_back_at)}` : "",
      " ", outcome, callBack,
      el("button", { type: "button", onclick: async () => {
        const body = { outcome: outcome.value };
        if (callBack.value) body.call_back_at = new Date(callBack.value).toISOString();
        await api("POST", `/orders/${entry.order.id}/calls`, body);
        flash(t("Saved"));
        callList();
      } }, t("Save"))));
  }
  if (!data.items.length) list.append(el("li", { class: "empty" }, t("Nothing here")));
}

// --- offers

async function offersPage() {
  const offers = await api("GET", "/offers");
  const list = document.getElementById("offers");
  for (const o of offers.items) {
    list.append(el("li", { class: o.active ? "" : "archived" }, el("a", { href: `/inbox/offers/${o.id}` }, o.title),
      ` · ${o.price} ${o.currency}`, o.active ? "" : ` · ${t("Archived")}`,
      o.notify_on_failed_payment ? el("span", { class: "bell", title: t("Notify on failed payment") }) : ""));
  }
  const form = document.getElementById("new-offer");
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    await api("POST", "/offers", { title: f.title.value, price: f.price.value, currency: f.currency.value,
      notify_on_failed_payment: f.notify.checked });
    location.reload();
  });
}

async function offerPage() {
  const offer = await api("GET", `/offers/${document.body.dataset.id}`);
  document.getElementById("offer-title").textContent = offer.active ? offer.title : `${offer.title} · ${t("Archived")}`;
  document.getElementById("offer-price").textContent = `${offer.price} ${offer.currency}`;
  // Owner and admins edit the title and price, and archive an offer (no new orders; the old ones stay) or restore it.
  const edit = document.getElementById("edit-offer");
  if (edit) {
    edit.elements.title.value = offer.title;
    edit.elements.price.value = offer.price;
    edit.addEventListener("submit", async (event) => {
      event.preventDefault();
      await api("PATCH", `/offers/${offer.id}`, { title: edit.elements.title.value, price: edit.elements.price.value });
      location.reload();
    });
    const archive = document.getElementById("archive-offer");
    archive.textContent = offer.active ? t("Archive") : t("Restore");
    archive.addEventListener("click", async () => {
      await api("PATCH", `/offers/${offer.id}`, { active: !offer.active });
      location.reload();
    });
  }
  const box = document.getElementById("notify");
  box.checked = offer.notify_on_failed_payment;
  box.disabled = ME.employee.role === "manager";
  box.addEventListener("change", async () => {
    await api("PATCH", `/offers/${offer.id}`, { notify_on_failed_payment: box.checked });
    flash(t("Saved"));
  });
  const orders = await api("GET", `/orders?offer_id=${offer.id}&limit=50`);
  const status = STATUS();
  const list = document.getElementById("offer-orders");
  for (const o of orders.items) {
    list.append(el("li", { class: o.status === "failed" ? "failed" : "" },
      el("a", { href: `/inbox/clients/${o.client.id}` }, o.client.name), ` · ${status[o.status]}`));
  }
}

// --- settings: employees, widgets, detach_after, first response, commission report

async function settingsPage() {
  const employees = await staff();
  const admin = ME.employee.role !== "manager";
  const staffBody = document.querySelector("#employees tbody");
  for (const e of employees) {
    const role = el("select", { name: "role", disabled: !admin || e.role === "owner" },
      ["owner", "admin", "manager"].map((r) => el("option", { value: r, text: t(r), selected: r === e.role })));
    const away = el("input", { type: "checkbox", name: "away", checked: e.away, disabled: !admin && e.id !== ME.employee.id });
    const active = el("input", { type: "checkbox", name: "active", checked: e.active, disabled: !admin || e.role === "owner" });
    const capacity = el("input", { type: "number", name: "capacity", min: 0, value: e.capacity ?? "", disabled: !admin });
    const rate = el("input", { type: "number", name: "rate", min: 0, max: 1, step: "0.0001", value: e.commission_rate,
      disabled: !admin });
    const save = el("button", { type: "button", onclick: async () => {
      const body = admin ? { away: away.checked, active: active.checked,
        capacity: capacity.value === "" ? null : Number(capacity.value), commission_rate: rate.value } : { away: away.checked };
      if (admin && e.role !== "owner") body.role = role.value;
      await api("PATCH", `/employees/${e.id}`, body);
      flash(t("Saved"));
    } }, t("Save"));
    const invite = el("button", { type: "button", onclick: async (event) => {
      const link = await api("POST", `/employees/${e.id}/telegram-invite`);
      event.target.replaceWith(el("a", { href: link.url, class: "invite" }, link.url));
    } }, t("Telegram invite link"));
    staffBody.append(el("tr", { "data-employee": e.id }, el("td", {}, e.name), el("td", {}, e.email), el("td", {}, role),
      el("td", {}, away), el("td", {}, active), el("td", {}, capacity), el("td", {}, rate),
      el("td", {}, e.telegram_linked ? "✓" : (admin || e.id === ME.employee.id ? invite : "")),
      // A manager changes only his own row (his away flag); a Save on a colleague's row would only answer 403.
      el("td", {}, admin || e.id === ME.employee.id ? save : "")));
  }
  const newEmployee = document.getElementById("new-employee");
  newEmployee.hidden = !admin;
  newEmployee.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = newEmployee.elements;
    await api("POST", "/employees", { email: f.email.value, name: f.name.value, role: f.role.value,
      password: f.password.value || null });
    location.reload();
  });

  const widgets = await api("GET", "/widgets");
  const widgetList = document.getElementById("widgets");
  for (const w of widgets.items) {
    const emails = el("input", { name: "emails", value: w.notification_emails.join(", "), disabled: !admin, size: 40 });
    const excluded = el("select", { multiple: true, name: "excluded", disabled: !admin },
      employees.map((e) => el("option", { value: e.id, text: e.name, selected: w.excluded_employee_ids.includes(e.id) })));
    widgetList.append(el("li", { "data-widget": w.id }, el("strong", {}, w.name), ` (${w.code}) `,
      el("label", {}, t("Notification e-mails"), emails),
      el("label", {}, t("Excluded from rotation"), excluded),
      admin ? el("button", { type: "button", onclick: async () => {
        await api("PATCH", `/widgets/${w.id}`, {
          notification_emails: emails.value.split(",").map((s) => s.trim()).filter(Boolean),
          excluded_employee_ids: [...excluded.selectedOptions].map((o) => Number(o.value)),
        });
        flash(t("Saved"));
      } }, t("Save")) : ""));
  }
  const newWidget = document.getElementById("new-widget");
  newWidget.hidden = !admin;
  newWidget.addEventListener("submit", async (event) => {
    event.preventDefault();
    await api("POST", "/widgets", { code: newWidget.elements.code.value, name: newWidget.elements.name.value });
    location.reload();
  });

  const account = await api("GET", "/account");
  const detach = document.getElementById("detach-after");
  detach.value = Math.round(account.detach_after / 3600 * 100) / 100;
  detach.disabled = !admin;
  document.getElementById("save-detach").hidden = !admin;
  document.getElementById("save-detach").addEventListener("click", async () => {
    await api("PATCH", "/account", { detach_after: Math.round(Number(detach.value) * 3600) });
    flash(t("Saved"));
  });
  // First response (SPEC §10.5): how long a client may wait, and whether the chat then moves on.
  const minutes = document.getElementById("first-response");
  const reassign = document.getElementById("reassign-unanswered");
  const saveFirst = document.getElementById("save-first-response");
  minutes.value = account.first_response_minutes;
  reassign.checked = account.reassign_unanswered;
  minutes.disabled = reassign.disabled = !admin;
  saveFirst.hidden = !admin;
  saveFirst.addEventListener("click", async () => {
    if (!minutes.reportValidity()) return;
    await api("PATCH", "/account", { first_response_minutes: Number(minutes.value),
      reassign_unanswered: reassign.checked });
    flash(t("Saved"));
  });

  const report = document.getElementById("report");
  report.addEventListener("submit", async (event) => {
    event.preventDefault();
    const from = new Date(report.elements.from.value + "T00:00:00").toISOString();
    const to = new Date(report.elements.to.value + "T00:00:00").toISOString();
    const data = await api("GET", `/reports/commissions?${new URLSearchParams({ from, to })}`);
    const body = clear(document.querySelector("#report-table tbody"));
    for (const line of data.lines) body.append(el("tr", {}, el("td", {}, line.employee.name), el("td", {}, line.total)));
    if (!data.lines.length) body.append(el("tr", {}, el("td", { colspan: 2, class: "empty" }, t("Nothing here"))));
  });
  await cannedReplies.settings();
  if (admin) await astray();
}

// What went astray (owner/admin): payments that named no known order, notifications that kept failing.
async function astray() {
  document.getElementById("astray").hidden = false;
  const events = await api("GET", "/payment-events?effect=unmatched");
  const unmatched = clear(document.querySelector("#unmatched tbody"));
  for (const e of events.items) {
    unmatched.append(el("tr", { "data-event": e.id }, el("td", {}, when(e.received_at)), el("td", {}, e.provider),
      el("td", {}, e.event_id), el("td", {}, e.order_ref), el("td", {}, t(e.result === "paid" ? "Paid"
        : e.result === "failed" ? "Failed" : "Refunded")), el("td", {}, e.amount ? `${e.amount} ${e.currency || ""}` : ""),
      el("td", {}, e.reason || "")));
  }
  if (!events.items.length) unmatched.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, t("Nothing here"))));
  const rows = await api("GET", "/outbox/parked");
  const parked = clear(document.querySelector("#parked tbody"));
  for (const r of rows.items) {
    const again = el("button", { type: "button", onclick: async () => {
      await api("POST", `/outbox/${r.id}/retry`);
      again.replaceWith(t("Queued"));
    } }, t("Send again"));
    parked.append(el("tr", { "data-outbox": r.id }, el("td", {}, when(r.created_at)), el("td", {}, r.kind),
      el("td", {}, r.attempts), el("td", { class: "error" }, r.last_error || ""), el("td", {}, again)));
  }
  if (!rows.items.length) parked.append(el("tr", {}, el("td", { colspan: 5, class: "empty" }, t("Nothing here"))));
}

// --- language and logging out, on every page

function chrome() {
  const language = document.getElementById("language");
  language.value = ME.language;
  language.addEventListener("change", async () => {
    await api("PATCH", `/employees/${ME.employee.id}`, { language: language.value });
    location.reload();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await api("DELETE", "/session");
    location.href = "/inbox/login";
  });
}

const PAGES = { tabs: tabsPage, chat: chatPage, client: clientPage, orders: ordersPage, offers: offersPage,
  offer: offerPage, settings: settingsPage };

chrome();
refreshBadge();
refreshCounts();
connectLive();
// A page with a script of its own (a report) runs itself and says when it is ready.
if (PAGES[PAGE]) PAGES[PAGE]().then(() => { document.body.dataset.ready = "yes"; });
