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
// Why a payment failed, in words: the provider's code (Stripe's decline codes, and generic ones).
const FAILURE_REASONS = () => ({
  card_declined: t("Card declined"), insufficient_funds: t("Insufficient funds"), expired_card: t("Card expired"),
  incorrect_cvc: t("Wrong CVC code"), processing_error: t("Processing error: try again"),
  do_not_honor: t("Declined by the bank"), lost_card: t("Card reported lost"), stolen_card: t("Card reported stolen"),
  fraudulent: t("Suspected fraud"), authentication_required: t("Authentication required (3-D Secure)"),
  generic_decline: t("Declined by the bank"), expired: t("Payment link expired"), cancelled: t("Payment cancelled"),
});

// A failure reason as shown everywhere (Important, the card, an order's history, the timeline): in words, the
// provider's code in its title; an unknown code as it came.
function failureReason(code) {
  if (!code) return "";
  const words = FAILURE_REASONS()[String(code).trim().toLowerCase()];
  return el("span", { class: "failure-reason", title: code }, words || code);
}

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
    if (openChatId === chatId) return;
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
  if (openChatId === chatId) return;
  const chat = await api("GET", `/chats/${chatId}`, undefined, { quiet: true }).catch(() => null);
  toast(`${t("You were mentioned in a note")}: ${chat ? chat.client.name : `#${chatId}`}`, `/inbox/chats/${chatId}`,
    t("Open chat"));
}

// Live handlers may belong to a scope (an AbortSignal): the open chat's go when another chat is opened or it is
// closed, so a previous chat's events never redraw or mark-read the one shown now. onLive returns its unsubscribe.
const liveHandlers = new Set();
let liveScope = null;  // the signal of what is being set up now (see scoped())
function onLive(handler, signal = liveScope) {
  if (signal?.aborted) return () => {};
  liveHandlers.add(handler);
  const off = () => liveHandlers.delete(handler);
  signal?.addEventListener("abort", off, { once: true });
  return off;
}
// Runs `setup` (synchronous) with every onLive inside it bound to `signal` (timeline.js registers its own handlers).
function scoped(signal, setup) {
  const outer = liveScope;
  liveScope = signal;
  try { return setup(); } finally { liveScope = outer; }
}

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
  for (const handler of [...liveHandlers]) handler(event);
}

// --- the inbox: three panes (the tab's chats, the conversation, the client; SPEC §6, §10.7, issue 12)

// The chat open in the middle pane (null: none); the list, the toasts and the live handlers ask.
let openChatId = null;

// A small circle with a person's initials, its colour from his id (the same person, the same colour everywhere).
function avatar(name, id, { big = false } = {}) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const initials = (words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || "?").slice(0, 2))
    .toUpperCase();
  const node = el("span", { class: big ? "avatar big" : "avatar", "aria-hidden": "true" }, initials);
  node.style.background = `hsl(${(Number(id) * 137) % 360} 45% 46%)`;
  return node;
}

// A time as "5 minutes ago", the exact time on hover; the page keeps such times current (see tickTimes).
function agoTime(iso) {
  if (!iso) return "";
  return el("time", { datetime: iso, title: when(iso), "data-ago": "" }, ago(iso));
}
function tickTimes() {
  for (const time of document.querySelectorAll("time[data-ago]")) time.textContent = ago(time.getAttribute("datetime"));
}

// The list's state in the URL (?tab=&q=&status=), on the list's URL and on an open chat's alike.
function listQuery() {
  const now = new URLSearchParams(location.search);
  const kept = new URLSearchParams({ tab: now.get("tab") || "mine" });
  for (const key of ["q", "status"]) if (now.get(key)) kept.set(key, now.get(key));
  return kept.toString();
}
const chatUrl = (id) => `/inbox/chats/${id}?${listQuery()}`;
const listUrl = () => `/inbox/?${listQuery()}`;
const chatIdIn = (path) => { const found = /^\/inbox\/chats\/([0-9]+)$/.exec(path); return found ? Number(found[1]) : null; };

async function inboxPage() {
  const panes = document.getElementById("panes");
  const params = new URLSearchParams(location.search);
  // A chat's own URL shows it beside a list of chats (the Important tab is a table, not such a list).
  const asked = params.get("tab") || "mine";
  const tab = asked === "important" && chatIdIn(location.pathname) !== null ? "mine" : asked;
  if (tab !== asked) history.replaceState(null, "", `${location.pathname}?tab=${tab}`);
  document.querySelector(`[data-tab="${tab}"]`)?.classList.add("active");
  setInterval(tickTimes, 30_000);
  if (tab === "important") {
    // The Important tab is a work table of its own: full width; its links open a chat as a page.
    panes.classList.add("wide");
    return importantView(params);
  }
  const list = chatList(tab, params, { open: (id) => openChat(id) });
  let current = null;  // { id, controller }

  async function openChat(id, { push = true } = {}) {
    id = Number(id);
    if (current?.id === id) { panes.dataset.view = "chat"; return; }
    closeChat({ push: false });
    const controller = new AbortController();
    current = { id, controller };
    openChatId = id;
    document.body.dataset.id = String(id);
    if (push) history.pushState({ chat: id }, "", chatUrl(id));
    list.select(id);
    panes.classList.add("has-chat");
    panes.dataset.view = "chat";
    try {
      await mountChat(id, controller.signal, { close: () => closeChat(), panes, list });
    } catch (error) {
      if (controller.signal.aborted) return;
      if (!error?.error) throw error;
    }
    if (!controller.signal.aborted) document.body.dataset.chatReady = String(id);
  }

  function closeChat({ push = true } = {}) {
    if (!current) return;
    current.controller.abort();
    current = null;
    // What was typed in the last moments is kept now, as when a page goes away (drafts.js saves on pagehide).
    window.dispatchEvent(new Event("pagehide"));
    openChatId = null;
    document.body.dataset.id = "";
    delete document.body.dataset.chatReady;
    document.querySelector("#chat-pane > section.chat")?.remove();
    for (const menu of document.querySelectorAll("#canned-menu")) menu.remove();
    document.getElementById("chat-empty").hidden = false;
    clear(document.getElementById("card-pane"));
    panes.classList.remove("has-chat");
    panes.dataset.view = "list";
    document.title = `${t("Inbox")} · closer`;
    list.select(null);
    if (push) history.pushState(null, "", listUrl());
  }

  // A link to a chat (the list, a toast) opens it here instead of loading a page; Ctrl/middle click still opens a tab.
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey
        || event.altKey || link.target) return;
    const url = new URL(link.href, location.href);
    const id = url.origin === location.origin ? chatIdIn(url.pathname) : null;
    if (id === null) return;
    event.preventDefault();
    openChat(id);
  });
  // Esc closes the open chat (a canned-replies menu open in the box takes its Esc first, canned.js).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing || !current) return;
    if ([...document.querySelectorAll("#canned-menu")].some((menu) => !menu.hidden)) return;
    const snooze = document.querySelector(".snooze[open]");
    if (snooze) { snooze.open = false; return; }
    if (panes.dataset.view === "card") { document.getElementById("client-toggle")?.click(); return; }
    event.preventDefault();
    closeChat();
  });
  window.addEventListener("popstate", () => {
    const now = new URLSearchParams(location.search);
    if ((now.get("tab") || "mine") !== tab) { location.reload(); return; }
    list.sync(now);
    const id = chatIdIn(location.pathname);
    if (id === null) closeChat({ push: false });
    else openChat(id, { push: false });
  });

  const first = chatIdIn(location.pathname);
  await Promise.all([list.load(true), first !== null ? openChat(first, { push: false }) : null]);
}

async function importantView(params) {
  const main = document.getElementById("content");
  const history = params.get("history") === "1";
  const draw = async () => clear(main).append(history ? await importantHistory() : await importantTable());
  onLive((event) => { if (event.topic === "important") draw(); });
  return draw();
}

// The left pane: a tab's chats, searched and filtered, kept current by live events. `open(id)`: a row was chosen.
function chatList(tab, params, { open }) {
  const main = document.getElementById("content");
  // Mine and Unassigned show what still needs work unless a status is asked for; All shows every status.
  const needsWork = tab === "mine" || tab === "unassigned";
  const search = el("input", { type: "search", name: "q", id: "chat-search", maxlength: 200, value: params.get("q") || "",
    placeholder: t("Search name, e-mail, phone or message"), "aria-label": t("Search") });
  const status = el("select", { name: "status", id: "chat-status-filter", "aria-label": t("Status") },
    el("option", { value: "", text: needsWork ? t("Open and pending") : t("Any status") }),
    Object.entries(CHAT_STATUS()).map(([value, label]) =>
      el("option", { value, text: label, selected: value === params.get("status") })));
  const list = el("ul", { class: "chats", id: "chat-list" });
  const more = el("button", { type: "button", class: "more", hidden: true, onclick: () => load() }, t("More"));
  const tools = el("form", { class: "chat-tools", role: "search", onsubmit: (event) => { event.preventDefault(); filter(); } },
    search, status);
  clear(main).append(tools, el("div", { class: "chats-scroll" }, list, more));
  let cursor = null;
  let generation = 0;  // a reload makes the answers of older requests stale
  let selected = null;

  function row(chat) {
    const li = chatRow(chat);
    li.classList.toggle("selected", chat.id === selected);
    li.addEventListener("click", (event) => {
      if (event.target.closest("a") || event.button !== 0) return;  // a link is followed (or opened here) by itself
      open(chat.id);
    });
    return li;
  }
  function emptyState() {
    const searching = search.value.trim() || status.value;
    return el("li", { class: "empty" }, el("strong", {}, t("Nothing here")),
      el("p", {}, searching ? t("No chat matches: clear the search or choose another status.")
        : t("New conversations appear here by themselves. Look in another tab meanwhile.")));
  }
  async function load(reset = false) {
    const mine = reset ? ++generation : generation;
    const query = new URLSearchParams({ tab, limit: "50" });
    if (search.value.trim()) query.set("q", search.value.trim());
    if (status.value) query.set("status", status.value);
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await api("GET", "/chats?" + query);
    if (mine !== generation) return;
    const rows = page.items.map(row);
    if (reset) list.replaceChildren(...rows);
    else list.append(...rows);
    if (!list.querySelector("li[data-chat]")) list.replaceChildren(emptyState());
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  function filter() {
    const shown = new URLSearchParams({ tab });
    if (search.value.trim()) shown.set("q", search.value.trim());
    if (status.value) shown.set("status", status.value);
    history.replaceState(history.state, "", `${location.pathname}?${shown}`);
    return load(true);
  }
  search.addEventListener("input", debounce(filter, 300));
  status.addEventListener("change", filter);
  // Someone wrote, took, handed over or resolved: the list follows without a reload (one reload per burst).
  const reloadSoon = debounce(() => load(true), 150);
  onLive((event) => { if (CHAT_TOPICS.has(event.topic)) reloadSoon(); });
  return {
    load,
    select(id) {
      selected = id;
      for (const li of list.querySelectorAll("li[data-chat]")) li.classList.toggle("selected", Number(li.dataset.chat) === id);
      list.querySelector("li.selected")?.scrollIntoView({ block: "nearest" });
    },
    // Opened, the chat is read: its row says so before the list reloads.
    read(id) {
      const li = list.querySelector(`li[data-chat='${id}']`);
      li?.classList.remove("unread");
      li?.querySelector(".unread-badge")?.remove();
    },
    // Back or forward to another search: the boxes and the rows follow the URL.
    sync(query) {
      const q = query.get("q") || "";
      const s = query.get("status") || "";
      if (q === search.value.trim() && s === status.value) return;
      search.value = q;
      status.value = s;
      load(true);
    },
  };
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

// One dense row: avatar; name, unread count and time; the last message; assignee and status.
function chatRow(chat) {
  return el("li", { "data-chat": chat.id, class: chat.unread ? "unread" : "" },
    avatar(chat.client.name, chat.client.id),
    el("div", { class: "row-main" },
      el("div", { class: "row-top" },
        el("a", { href: `/inbox/chats/${chat.id}?${listQuery()}`, class: "client" }, chat.client.name),
        chat.unread ? el("span", { class: "unread-badge", title: t("Unread messages") }, String(chat.unread)) : "",
        agoTime(chat.last_message_at)),
      el("div", { class: "preview" },
        chat.last_message_direction === "out"
          ? el("span", { class: "direction", "data-direction": "out", title: t("Sent to the client") }, "↪ ") : "",
        chat.last_message_attachment ? `[${t(ATTACHMENT_KINDS[chat.last_message_attachment] || "Document")}] ` : "",
        chat.last_message || ""),
      el("div", { class: "meta" },
        el("span", { class: chat.assignee ? "assignee" : "assignee nobody" },
          chat.assignee ? chat.assignee.name : t("Unassigned")),
        chat.status !== "open" ? el("span", { class: `status-chip ${chat.status}` }, chatStatusText(chat)) : "")));
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
    el("td", { class: "reason" }, failureReason(item.reason)),
    el("td", {}, item.taken_by ? el("span", { class: "taker" }, item.taken_by.name) : take, " ", openChat));
}

async function importantHistory() {
  const page = await api("GET", "/important/history?limit=100");
  const list = el("ul", { class: "history" });
  for (const item of page.items) {
    list.append(el("li", {}, el("a", { href: item.chat_url }, item.client.name), " · ",
      when(item.failed_at), " · ", failureReason(item.reason), item.taken_by ? ` · ${t("Taken by")} ${item.taken_by.name}` : ""));
  }
  if (!page.items.length) list.append(el("li", { class: "empty" }, t("Nothing here")));
  return list;
}

// --- the conversation in the middle pane, its client's card in the right one

// Draws chat `chatId` from a fresh copy of the page's chat template. Everything it hooks on the document or the live
// events ends with `signal` (another chat opened, or this one closed); what it hooks on its own nodes goes with them.
async function mountChat(chatId, signal, { close, panes, list }) {
  const pane = document.getElementById("chat-pane");
  const section = document.getElementById("chat-template").content.firstElementChild.cloneNode(true);
  pane.querySelector(":scope > section.chat")?.remove();
  for (const menu of document.querySelectorAll("#canned-menu")) menu.remove();  // the previous box's "/" menu
  document.getElementById("chat-empty").hidden = true;
  pane.append(section);
  const card = el("div", { id: "card", class: "card" });
  const clientToggle = section.querySelector("#client-toggle");
  const toChat = () => { panes.dataset.view = "chat"; clientToggle.setAttribute("aria-pressed", "false"); };
  // On a narrow screen the card is a pane of its own, with its way back to the conversation.
  document.getElementById("card-pane").replaceChildren(
    el("button", { type: "button", class: "back card-back", onclick: toChat }, `← ${t("Back to the chat")}`), card);
  section.querySelector("#chat-back").addEventListener("click", close);
  section.querySelector("#close-chat").addEventListener("click", close);
  clientToggle.addEventListener("click", () => {
    panes.dataset.view = panes.dataset.view === "card" ? "chat" : "card";
    clientToggle.setAttribute("aria-pressed", String(panes.dataset.view === "card"));
  });

  // Opening the chat reads it (SPEC §10.6); the answer is the chat itself. The newest page of its timeline is asked
  // for at the same time: the newest messages are what the employee opened the chat for.
  const firstPage = timelinePage(chatId);
  firstPage.catch(() => null);  // its failure is the timeline's to show, once drawn
  let chat = await api("POST", `/chats/${chatId}/read`);
  if (signal.aborted) return;
  list.read(chat.id);
  refreshCounts();
  section.querySelector("#chat-title").textContent = chat.client.name;
  section.querySelector("#chat-avatar").replaceWith(avatar(chat.client.name, chat.client.id));
  document.title = `${chat.client.name} · closer`;
  // Messages, notes, orders, payments, assignments and calls (SPEC §11.4): inbox/static/timeline.js.
  const timeline = scoped(signal, () => chatTimeline(section.querySelector("#messages"), chat.id, () => chat,
    { firstPage }));
  const drawHistory = () => timeline.newer();
  const bar = section.querySelector("#chat-bar");
  const reply = section.querySelector("#reply");
  // `known`: the chat as just read, when there is no need to ask again.
  async function drawBar(known = null) {
    const [fresh, trail] = await Promise.all([
      known ?? api("GET", `/chats/${chatId}`, undefined, { quiet: true }),
      api("GET", `/chats/${chatId}/history`, undefined, { quiet: true }),
    ]);
    if (signal.aborted) return;
    chat = fresh;
    await chatBar(bar, chat, trail.items, { changed: () => drawBar().catch(lost) });
  }
  // A chat handed over or taken by someone else may no longer be ours to see: say so instead of a broken page.
  function lost(error) {
    if (!error?.error) throw error;
    if (error.error.code !== "not_found") { flash(error.message, true); return; }
    clear(bar).append(el("p", { class: "gone" }, t("This chat is no longer yours to see"), " · ",
      el("a", { href: "/inbox/" }, t("Inbox"))));
    reply.hidden = true;
  }
  // The composer grows with the text and counts down to Telegram's limit; over it, the text is refused as it is,
  // never cut (a pasted text longer than a maxlength would be, silently).
  const box = reply.elements.text;
  const left = section.querySelector("#reply-left");
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
  // Enter sends, Shift+Enter starts a new line (in note mode timeline.js's handler has taken the Enter already).
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.defaultPrevented) return;
    event.preventDefault();
    reply.requestSubmit();
  });
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
    if (signal.aborted || document.visibilityState !== "visible") return;
    await api("POST", `/chats/${chatId}/read`, undefined, { quiet: true }).catch(() => null);
    refreshCounts();
  }, 300);
  document.addEventListener("visibilitychange", readSoon, { signal });
  const historySoon = debounce(() => { if (!signal.aborted) drawHistory(); }, 200);
  const barSoon = debounce(() => { if (!signal.aborted) drawBar().catch(lost); }, 200);
  // An order's status changed from the card (a cancel, a payment link sent): its line in the timeline follows.
  const orderChanged = () => { if (!signal.aborted) drawHistory().catch(() => null); };
  // The card follows its client's orders and managers; not while the employee is typing in it (his edit would go).
  const drawCard = () => clientCard(card, chat.client.id, { signal, changed: orderChanged });
  const cardNow = () => drawCard().catch(() => null);
  const cardSoon = debounce(() => {
    if (signal.aborted) return;
    if (card.contains(document.activeElement) || card.dirty) { card.stale = true; return; }
    cardNow();
  }, 200);
  card.addEventListener("focusout", (event) => {
    if (card.stale && !card.dirty && !card.contains(event.relatedTarget)) { card.stale = false; cardNow(); }
  });
  onLive((event) => {
    if (["assignment", "important"].includes(event.topic) && event.client_id === chat.client.id) cardSoon();
    if ((event.chat_id ?? event.payload?.chat_id) !== chat.id) return;
    if (event.topic === "message") { historySoon(); readSoon(); }
    if (CHAT_TOPICS.has(event.topic)) barSoon();
    if (event.topic === "order") cardSoon();
  }, signal);
  if (!matchMedia("(max-width: 700px)").matches) box.focus({ preventScroll: true });
  // The conversation first; the bar, the card and the bell after it, so the server answers its page first.
  await drawHistory();
  if (signal.aborted) return;
  // Opening the chat is how the bell goes: the items of this chat are seen now.
  const seen = (async () => {
    const important = await api("GET", "/important");
    for (const item of important.items.filter((i) => i.chat_id === chat.id && !i.seen)) {
      await api("POST", `/important/${item.id}/seen`);
    }
    refreshBadge();
  })();
  await Promise.all([seen, drawBar(chat).catch(lost), drawCard()]);
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

// `changed()`: an order's work saved something (the chat's timeline shows its orders too).
async function clientCard(container, clientId, { signal, changed = null } = {}) {
  const [client, orders, employees] = await Promise.all([
    api("GET", `/clients/${clientId}`), api("GET", `/clients/${clientId}/orders`), staff(),
  ]);
  if (signal?.aborted) return;
  const picker = staffSelect(employees, client.personal_manager?.id, { name: "personal_manager" });
  const notes = el("textarea", { name: "notes", rows: 3 });
  notes.value = client.notes;
  const redraw = () => { changed?.(); return clientCard(container, clientId, { signal, changed }); };
  // Typed and not saved yet: a live redraw waits (app.js mountChat). Saving redraws, which starts clean.
  container.dirty = false;
  container.oninput = () => { container.dirty = true; };
  // The newest order still open shows its work at once, the others on a click; a redraw keeps what was open.
  if (!container.openOrders) {
    const firstOpen = orders.items.find((o) => ORDER_OPEN.has(o.status));
    container.openOrders = new Set(firstOpen ? [firstOpen.id] : []);
  }
  const rows = orders.items.map((o) => cardOrder(o, { opened: container.openOrders, redraw }));
  clear(container).append(
    el("div", { class: "card-head" }, avatar(client.name || client.email, client.id, { big: true }),
      el("div", {}, el("h2", { class: "client-name" }, client.name || client.email || `#${client.id}`),
        client.email ? el("div", { class: "contact" }, client.email) : "",
        client.phone ? el("div", { class: "contact" }, client.phone) : "")),
    contactEditor(client, redraw),
    el("section", { class: "card-section" },
      el("label", {}, t("Personal manager"), el("span", { class: "inline" }, picker,
        el("button", { type: "button", class: "save-pm", onclick: async () => {
          await api("PATCH", `/clients/${clientId}`, { personal_manager_id: picker.value ? Number(picker.value) : null });
          container.dirty = false;
          flash(t("Saved"));
        } }, t("Save")))),
      el("label", {}, t("Notes"), notes),
      el("button", { type: "button", class: "save-notes", onclick: async () => {
        await api("PATCH", `/clients/${clientId}`, { notes: notes.value });
        container.dirty = false;
        flash(t("Saved"));
      } }, t("Save"))),
    el("h3", {}, t("Orders"), el("span", { class: "count-muted" }, String(orders.items.length))),
    el("ul", { class: "client-orders" }, rows.map((r) => r.li)),
    orders.items.length ? "" : el("p", { class: "empty" }, t("No orders yet: they appear here when the client orders.")),
  );
  await Promise.all(rows.map((r) => r.ready));
}

// Name, e-mail and phone as the rep learns them (a typo in the e-mail, a phone from a call); folded away until needed.
function contactEditor(client, saved) {
  const field = (name, value, type = "text") => el("input", { name, type, value: value || "" });
  const name = field("name", client.name), email = field("email", client.email, "email"), phone = field("phone", client.phone);
  const form = el("form", { class: "contact-form" },
    el("label", {}, t("Name"), name), el("label", {}, t("E-mail"), email), el("label", {}, t("Phone"), phone),
    el("button", { type: "submit", class: "save-contact" }, t("Save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await api("PATCH", `/clients/${client.id}`, { name: name.value, email: email.value.trim(), phone: phone.value });
    flash(t("Saved"));
    saved();
  });
  return el("details", { class: "card-section contact-edit" }, el("summary", {}, t("Edit contact")), form);
}

// The statuses an order can still be worked on in (sales.assignment.OPEN_STATUSES) and cancelled from.
const ORDER_OPEN = new Set(["new", "awaiting_payment", "failed"]);

// One order in the card: number, offer, amount, status (failed: red, with the reason), and its work on a click.
function cardOrder(o, { opened, redraw }) {
  const open = opened.has(o.id);
  const work = el("div", { class: "order-work-box", hidden: !open });
  const toggle = el("button", { type: "button", class: "order-open", "aria-expanded": String(open),
    title: t("Order details") }, open ? "▾" : "▸");
  let drawn = null;
  const draw = () => (drawn ??= orderWork(o, { changed: redraw, personalManager: false, link: true })
    .then((node) => work.append(node)));
  toggle.addEventListener("click", () => {
    work.hidden = !work.hidden;
    if (work.hidden) opened.delete(o.id);
    else opened.add(o.id);
    toggle.setAttribute("aria-expanded", String(!work.hidden));
    toggle.textContent = work.hidden ? "▸" : "▾";
    if (!work.hidden) draw();
  });
  const li = el("li", { class: o.status === "failed" ? "failed" : o.status, "data-order": o.id },
    el("div", { class: "order-line" }, toggle,
      el("span", { class: "order-title" }, `#${o.id} · ${o.offer.title}`),
      el("span", { class: "amount" }, money(o.amount, o.currency)),
      el("span", { class: `status order-status ${o.status}` }, STATUS()[o.status])),
    // Why the last attempt failed, while it is the order's state (a cancelled or paid one keeps it in its history).
    o.status === "failed" && o.failure_reason ? el("div", { class: "reason" }, failureReason(o.failure_reason)) : "",
    demoFailure(o, redraw), work);
  return { li, ready: open ? draw() : Promise.resolve() };
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

async function orderDetail(order, row, changed = () => document.getElementById("filters").requestSubmit()) {
  document.querySelector(".order-detail")?.remove();
  const work = await orderWork(order, { changed });
  row.after(el("tr", { class: "order-detail" }, el("td", { colspan: 9 }, work)));
}

// Who may work on an order (comment, cancel, payment link): its manager, the owner and admins (sales.orders).
function mayWorkOn(order) { return ADMIN || order.order_manager?.id === ME.employee.id; }

// An order's work (SPEC §1.3), on the orders page and in a chat's client card alike: its personal manager (`personalManager`),
// the customer's information, a comment, *Payment link sent* and *Cancel order* for those who may (each an action that
// keeps its manager attached), its comments and its history; `link`: a link to it on the orders page. `changed()`:
// something was saved.
async function orderWork(order, { changed, personalManager = true, link = false }) {
  const [history, comments, employees] = await Promise.all([
    api("GET", `/orders/${order.id}/history`),
    api("GET", `/orders/${order.id}/comments`, undefined, { quiet: true }).catch(() => ({ items: [] })),
    staff(),
  ]);
  const names = Object.fromEntries(employees.map((e) => [e.id, e.name]));
  const parts = [];
  if (personalManager) {
    const picker = staffSelect(employees, order.personal_manager?.id, { name: "personal_manager" });
    parts.push(el("label", {}, t("Personal manager"), picker),
      el("button", { type: "button", class: "save-pm", onclick: async () => {
        await api("PATCH", `/clients/${order.client.id}`,
          { personal_manager_id: picker.value ? Number(picker.value) : null });
        flash(t("Saved"));
        changed();
      } }, t("Save")));
  }
  parts.push(el("p", { class: "customer-info" }, t("Customer information"), ": ", order.customer_info || "—"));
  if (mayWorkOn(order)) {
    const text = el("textarea", { name: "comment", rows: 2, maxlength: 10000, placeholder: t("Comment on the order"),
      "aria-label": t("Comment on the order") });
    const add = el("button", { type: "button", class: "add-comment", onclick: async () => {
      if (!text.value.trim()) { text.focus(); return; }
      await api("POST", `/orders/${order.id}/comments`, { text: text.value });
      flash(t("Comment added"));
      changed();
    } }, t("Add comment"));
    let cancel = "";
    let linkSent = "";
    if (ORDER_OPEN.has(order.status)) {
      linkSent = el("button", { type: "button", class: "link-sent", title: t("I sent the client a payment link"),
        onclick: async () => {
          await api("POST", `/orders/${order.id}/payment-link-sent`);
          flash(t("Saved"));
          changed();
        } }, t("Payment link sent"));
      // Cancelling cannot be undone: the first click asks, the second cancels.
      let armed = null;
      cancel = el("button", { type: "button", class: "cancel-order danger", onclick: async () => {
        if (!armed) {
          cancel.textContent = `${t("Cancel order")} #${order.id}?`;
          cancel.classList.add("armed");
          armed = setTimeout(() => { armed = null; cancel.textContent = t("Cancel order"); cancel.classList.remove("armed"); },
            5000);
          return;
        }
        clearTimeout(armed);
        armed = null;
        await api("POST", `/orders/${order.id}/status`, { status: "cancelled" });
        flash(t("Order cancelled"));
        changed();
      } }, t("Cancel order"));
    }
    parts.push(el("div", { class: "order-actions" }, text, el("div", { class: "inline" }, add, linkSent, cancel)));
  }
  if (link) parts.push(el("p", {}, el("a", { href: `/inbox/orders?order=${order.id}`, class: "open-order" }, t("Open in Orders"))));
  if (comments.items.length) {
    parts.push(el("h4", {}, t("Comments")), el("ul", { class: "comments" }, comments.items.map((c) => el("li", {},
      el("span", { class: "by" }, `${names[c.employee_id] || "—"} · `), agoTime(c.created_at),
      el("div", { class: "text" }, c.text)))));
  }
  parts.push(el("h4", {}, t("History")), el("ul", { class: "audit" }, orderHistoryLines(history.items, names, order)));
  return el("div", { class: "order-work" }, ...parts);
}

// An order's history, in time order (GET /orders/{id}/history): changes of its manager (`assignment`), of its status
// by hand (`status`) and payment events (`payment`, an ignored one marked with why it changed nothing) of `order`.
function orderHistoryLines(items, names, order) {
  const reasons = ORDER_REASONS();
  const status = STATUS();
  const who = (id) => names[id] || (id ? `#${id}` : "—");
  let now = "new";  // the order's status as the history goes, to say why an event was ignored
  return items.map((h) => {
    const time = el("time", { datetime: h.created_at, title: when(h.created_at) }, when(h.created_at));
    if (h.kind === "status") {
      now = h.status;
      return el("li", { "data-kind": "status", "data-status": h.status }, time, " · ",
        `${t("Status")}: ${status[h.from_status] || h.from_status} → ${status[h.status] || h.status}`,
        h.actor_id ? el("span", { class: "by" }, ` · ${who(h.actor_id)}`) : "");
    }
    if (h.kind === "payment") {
      const label = { paid: t("Paid"), failed: t("Payment failed"), refunded: t("Refunded") }[h.status] || h.status;
      const ignored = h.effect === "ignored";
      const why = ignored ? ignoredBecause(h.status, now) : "";
      if (!ignored && ["paid", "failed", "refunded"].includes(h.status)) now = h.status;
      return el("li", { "data-kind": "payment", class: `payment ${h.status}${ignored ? " ignored" : ""}` }, time, " · ",
        // The event's amount, or the order's when the provider named none (as the timeline does).
        el("span", { class: "what" }, `${label}: ${money(h.amount ?? order.amount, h.currency ?? order.currency)}`),
        h.failure_reason ? [" · ", failureReason(h.failure_reason)] : "",
        ignored ? el("span", { class: "ignored-note" }, ` (${t("ignored")}${why ? `: ${why}` : ""})`) : "");
    }
    return el("li", { "data-kind": "assignment" }, time,
      ` · ${reasons[h.reason] || h.reason} · ${names[h.from_employee_id] || "—"} → ${names[h.to_employee_id] || "—"}`);
  });
}

// Why a payment event changed nothing (sales.payments): the order as it stood then, `was`.
function ignoredBecause(result, was) {
  if (was === "paid") return t("the order was already paid");
  if (was === "refunded") return t("the order was already refunded");
  if (result === "refunded") return t("the order was not paid");
  if (result === "failed" && was === "cancelled") return t("the order was cancelled");
  if (result === "failed") return t("a newer attempt is already recorded");
  return "";
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

const PAGES = { tabs: inboxPage, chat: inboxPage, client: clientPage, orders: ordersPage, offers: offersPage,
  offer: offerPage, settings: settingsPage };

chrome();
refreshBadge();
refreshCounts();
connectLive();
// A page with a script of its own (a report) runs itself and says when it is ready.
if (PAGES[PAGE]) PAGES[PAGE]().then(() => { document.body.dataset.ready = "yes"; });
