// closer inbox pages. Every page is a shell from the server; this script fills it from the JSON API (/api/v1).
// Everything user-written is put into the page as text (textContent), never as HTML.
"use strict";

const PAGE = document.body.dataset.page;
const ME = JSON.parse(document.getElementById("me").textContent);
const TEXTS = JSON.parse(document.getElementById("texts").textContent);
const t = (id) => TEXTS[id] || id;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
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

async function api(method, path, body) {
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
    flash(error.message + (error.field ? ` (${error.field})` : ""), true);
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

const STATUS = () => ({
  new: t("New"), awaiting_payment: t("Awaiting payment"), paid: t("Paid"), failed: t("Failed"),
  cancelled: t("Cancelled"), refunded: t("Refunded"),
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

const liveHandlers = [];
function onLive(handler) { liveHandlers.push(handler); }

function connectLive() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.topic === "important") refreshBadge();
    for (const handler of liveHandlers) handler(event);
  };
  socket.onopen = () => { document.body.dataset.live = "on"; };
  socket.onclose = () => {
    document.body.dataset.live = "off";
    setTimeout(connectLive, 2000);
  };
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
  let cursor = null;
  const list = el("ul", { class: "chats", id: "chat-list" });
  const more = el("button", { type: "button", hidden: true, onclick: () => load() }, t("More"));
  clear(main).append(list, more);
  async function load(reset = false) {
    if (reset) { cursor = null; clear(list); }
    const query = new URLSearchParams({ tab, limit: "50" });
    if (cursor) query.set("cursor", cursor);
    const page = await api("GET", "/chats?" + query);
    for (const chat of page.items) {
      list.append(el("li", { "data-chat": chat.id },
        el("a", { href: `/inbox/chats/${chat.id}`, class: "client" }, chat.client.name),
        el("span", { class: "preview" }, chat.last_message || ""),
        el("time", {}, when(chat.last_message_at))));
    }
    if (!list.children.length) list.append(el("li", { class: "empty" }, t("Nothing here")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  onLive((event) => { if (event.topic === "message" || event.topic === "assignment") load(true); });
  return load();
}

async function importantTable() {
  refreshBadge();
  const table = el("table", { class: "important", id: "important-table" },
    el("thead", {}, el("tr", {},
      el("th", {}, ""), el("th", {}, t("Client")), el("th", {}, t("Failed payment")), el("th", {}, t("Reason")),
      el("th", {}, t("Offer")), el("th", {}, ""), el("th", {}, t("Taken by")))));
  const body = el("tbody");
  let cursor = null;
  const more = el("button", { type: "button", hidden: true, onclick: () => load() }, t("More"));
  async function load() {
    const query = new URLSearchParams({ limit: "50" });
    if (cursor) query.set("cursor", cursor);
    const data = await api("GET", "/important?" + query);
    for (const item of data.items) body.append(importantRow(item));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, t("Nothing here"))));
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
    el("td", {}, el("time", { datetime: item.failed_at }, when(item.failed_at))),
    el("td", {}, item.reason || ""),
    el("td", {}, el("a", { href: item.offer_url, class: "open-offer" }, t("Open offer"))),
    el("td", {}, openChat, " ", item.taken_by ? "" : take),
    el("td", { class: "taker" }, item.taken_by ? item.taken_by.name : ""));
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
  const chat = await api("GET", `/chats/${chatId}`);
  document.getElementById("chat-title").textContent = chat.client.name;
  const history = document.getElementById("messages");
  async function drawHistory() {
    const page = await api("GET", `/chats/${chatId}/messages?limit=100`);
    clear(history);
    for (const m of page.items.reverse()) {
      history.append(el("li", { class: `message ${m.direction}` },
        el("div", { class: "who" }, m.direction === "in" ? chat.client.name : (m.employee?.name || t("Bot"))),
        el("div", { class: "text" }, m.text),
        el("time", {}, when(m.created_at))));
    }
    history.scrollTop = history.scrollHeight;
  }
  document.getElementById("reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = event.target.elements.text;
    if (!box.value.trim()) return;
    await api("POST", `/chats/${chatId}/messages`, { text: box.value });
    box.value = "";
    drawHistory();
  });
  onLive((event) => { if (event.topic === "message" && event.client_id === chat.client.id) drawHistory(); });
  // Opening the chat is how the bell goes: the items of this chat are seen now.
  const important = await api("GET", "/important");
  for (const item of important.items.filter((i) => i.chat_id === chat.id && !i.seen)) {
    await api("POST", `/important/${item.id}/seen`);
  }
  refreshBadge();
  await drawHistory();
  await clientCard(document.getElementById("card"), chat.client.id);
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
    o.failure_reason ? ` · ${o.failure_reason}` : ""))),
  );
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
  async function draw() {
    const query = new URLSearchParams();
    for (const element of form.elements) {
      if (!element.name || !element.value) continue;
      const value = element.type === "date" ? new Date(element.value + "T00:00:00").toISOString() : element.value;
      query.set(element.name, value);
    }
    query.set("limit", "200");
    const page = await api("GET", "/orders?" + query);
    clear(body);
    const status = STATUS();
    for (const o of page.items) {
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
    if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "empty" }, t("Nothing here"))));
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });

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
      `${when(h.created_at)} · ${h.reason} · ${names[h.from_employee_id] || "—"} → ${names[h.to_employee_id] || "—"}`)))));
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
    list.append(el("li", {}, el("a", { href: `/inbox/offers/${o.id}` }, o.title), ` · ${o.price} ${o.currency}`,
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
  document.getElementById("offer-title").textContent = offer.title;
  document.getElementById("offer-price").textContent = `${offer.price} ${offer.currency}`;
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

// --- settings: employees, widgets, detach_after, commission report

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
      el("td", {}, e.telegram_linked ? "✓" : (admin || e.id === ME.employee.id ? invite : "")), el("td", {}, save)));
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
connectLive();
PAGES[PAGE]().then(() => { document.body.dataset.ready = "yes"; });
