// Canned replies (SPEC §11.3): their list in Settings (owner and admins add, edit and delete them; managers see it)
// and the "/" menu of a chat's reply box, which inserts a reply filled in for that chat by the server.
// Loaded before app.js and called from it; it uses app.js's helpers (el, api, t, flash, clear, ME) when called.
// Everything user-written is put into the page as text (textContent, .value), never as HTML.
"use strict";

const cannedReplies = (() => {
  // No stylesheet of its own: the few rules the menu needs are set here (CSSOM, which the page's CSP allows).
  const MENU_STYLE = {
    position: "fixed", zIndex: "20", margin: "0", padding: ".25rem 0", listStyle: "none", background: "#fff",
    border: "1px solid #ccc", borderRadius: "6px", boxShadow: "0 4px 12px rgba(0, 0, 0, .15)", overflowY: "auto",
    maxHeight: "16rem",
  };
  const OPTION_STYLE = { padding: ".3rem .6rem", cursor: "pointer", display: "flex", gap: ".6rem",
    alignItems: "baseline" };
  const PREVIEW_STYLE = { color: "#666", overflow: "hidden", whiteSpace: "nowrap", textOverflow: "ellipsis",
    minWidth: "0" };
  const ACTIVE_BACKGROUND = "#dbe8ff";

  const isAdmin = () => ME.employee.role !== "manager";

  // --- Settings: the account's list

  async function settings() {
    const table = document.getElementById("canned-replies");
    if (!table) return;
    const body = table.querySelector("tbody");
    const admin = isAdmin();

    function plainRow(reply) {
      const text = el("td", { class: "canned-text" }, reply.text);
      text.style.whiteSpace = "pre-wrap";
      return el("tr", { "data-canned": reply.id }, el("td", { class: "canned-shortcut" }, `/${reply.shortcut}`), text,
        el("td", {}, ""));
    }

    function editableRow(reply) {
      const shortcut = el("input", { name: "shortcut", maxlength: 32, required: true, "aria-label": t("Shortcut") });
      shortcut.value = reply.shortcut;
      const text = el("textarea", { name: "text", rows: 2, required: true, "aria-label": t("Reply text") });
      text.value = reply.text;
      Object.assign(text.style, { width: "100%", boxSizing: "border-box", font: "inherit" });
      const save = el("button", { type: "button", class: "save-canned", onclick: async () => {
        await api("PATCH", `/canned-replies/${reply.id}`, { shortcut: shortcut.value, text: text.value });
        flash(t("Saved"));
        await draw();
      } }, t("Save"));
      const remove = el("button", { type: "button", class: "delete-canned", onclick: async () => {
        if (!confirm(t("Delete this canned reply?"))) return;
        await api("DELETE", `/canned-replies/${reply.id}`);
        flash(t("Reply deleted"));
        await draw();
      } }, t("Delete reply"));
      return el("tr", { "data-canned": reply.id }, el("td", {}, shortcut), el("td", {}, text),
        el("td", {}, save, " ", remove));
    }

    async function draw() {
      const data = await api("GET", "/canned-replies");
      clear(body);
      for (const reply of data.items) body.append(admin ? editableRow(reply) : plainRow(reply));
      if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 3, class: "empty" }, t("Nothing here"))));
    }

    const form = document.getElementById("new-canned-reply");
    if (form) {
      form.hidden = !admin;
      form.elements.text.style.font = "inherit";
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        await api("POST", "/canned-replies", { shortcut: form.elements.shortcut.value, text: form.elements.text.value });
        form.reset();
        flash(t("Saved"));
        await draw();
      });
    }
    await draw();
  }

  // --- the reply box: "/" at its start opens the menu

  function composer(box, chatId) {
    const menu = el("ul", { id: "canned-menu", class: "canned-menu", role: "listbox", "aria-label": t("Canned replies"),
      hidden: true });
    Object.assign(menu.style, MENU_STYLE);
    document.body.append(menu);
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", menu.id);
    box.setAttribute("aria-expanded", "false");

    let replies = null;      // the account's list, fetched each time the menu opens afresh
    let loading = null;
    let matches = [];
    let active = 0;
    let shown = null;        // the query the menu shows
    let dismissed = false;   // Esc (or an insertion): closed until the box no longer starts with "/"
    let busy = false;

    // The "/word" the caret is in at the start of the box, or null.
    function token() {
      const value = box.value;
      const caret = box.selectionStart;
      if (!value.startsWith("/") || caret !== box.selectionEnd || caret < 1) return null;
      const rest = value.slice(1);
      const space = rest.search(/\s/);
      const end = space === -1 ? value.length : space + 1;
      if (caret > end) return null;
      return { query: value.slice(1, caret).toLowerCase(), end };
    }

    function isOpen() { return !menu.hidden; }

    function close() {
      shown = null;
      menu.hidden = true;
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
    }

    function place() {
      const rect = box.getBoundingClientRect();
      menu.style.left = `${rect.left}px`;
      menu.style.width = `${Math.min(rect.width, 640)}px`;
      if (rect.top > 200) {
        menu.style.top = "";
        menu.style.bottom = `${window.innerHeight - rect.top + 4}px`;
      } else {
        menu.style.bottom = "";
        menu.style.top = `${rect.bottom + 4}px`;
      }
    }

    function option(reply, index) {
      const preview = el("span", { class: "canned-preview" }, reply.text.replace(/\s+/g, " "));
      Object.assign(preview.style, PREVIEW_STYLE);
      const item = el("li", { id: `canned-option-${reply.id}`, role: "option", "data-shortcut": reply.shortcut,
        "aria-selected": index === active ? "true" : "false",
        // Pressing on the menu would take the focus (and the caret) from the box.
        onmousedown: (event) => event.preventDefault(),
        onclick: () => choose(reply) },
      el("strong", {}, `/${reply.shortcut}`), preview);
      Object.assign(item.style, OPTION_STYLE);
      if (index === active) item.style.background = ACTIVE_BACKGROUND;
      return item;
    }

    function render() {
      clear(menu);
      if (!matches.length) {
        menu.append(el("li", { class: "empty", role: "presentation" }, t("No canned reply matches")));
        menu.lastChild.style.padding = ".3rem .6rem";
        box.removeAttribute("aria-activedescendant");
      } else {
        menu.append(...matches.map(option));
        const current = menu.children[active];
        box.setAttribute("aria-activedescendant", current.id);
        current.scrollIntoView({ block: "nearest" });
      }
      place();
      menu.hidden = false;
      box.setAttribute("aria-expanded", "true");
    }

    async function update() {
      if (!box.value.startsWith("/")) dismissed = false;
      const found = token();
      if (!found || dismissed) { close(); return; }
      if (!isOpen() && !loading) {
        loading = api("GET", "/canned-replies", undefined, { quiet: true })
          .then((data) => { replies = data.items; })
          .catch(() => { replies = replies || []; })
          .finally(() => { loading = null; });
      }
      if (loading) await loading;
      const again = token();  // the box may have changed while the list came
      if (!again || dismissed || !replies.length) { close(); return; }
      const query = again.query;
      const starting = replies.filter((r) => r.shortcut.startsWith(query));
      const containing = replies.filter((r) => !r.shortcut.startsWith(query) && r.shortcut.includes(query));
      const chosen = matches[active];
      matches = starting.concat(containing);
      // A new query selects its best match: the one kept from "/" alone would be whatever sorted first. The same
      // query drawn again (the list came) keeps what the arrows chose.
      active = query === shown ? Math.max(0, matches.findIndex((r) => r.id === chosen?.id)) : 0;
      shown = query;
      render();
    }

    async function choose(reply) {
      if (busy) return;
      busy = true;
      try {
        const filled = await api("GET", `/chats/${chatId}/canned-replies/${reply.id}`);
        const found = token();
        const end = found ? found.end : 0;
        const rest = box.value.slice(end);
        dismissed = true;
        close();
        box.value = filled.text + rest;
        box.focus();
        box.setSelectionRange(filled.text.length, filled.text.length);
        // The reply box's own listeners (the character count, its height) see the new text.
        box.dispatchEvent(new Event("input", { bubbles: true }));
      } finally {
        busy = false;
      }
    }

    function move(step) {
      if (!matches.length) return;
      active = (active + step + matches.length) % matches.length;
      render();
    }

    // On the form, in the capture phase: with the menu open, these keys are the menu's, before any other listener
    // of the box (Enter must not send or break the line).
    box.form.addEventListener("keydown", (event) => {
      if (event.target !== box || !isOpen() || event.isComposing) return;
      const keys = {
        ArrowDown: () => move(1),
        ArrowUp: () => move(-1),
        Enter: () => { if (matches.length) choose(matches[active]); },
        Tab: () => { if (matches.length) choose(matches[active]); },
        Escape: () => { dismissed = true; close(); },
      };
      const action = keys[event.key];
      if (!action || ((event.key === "Enter" || event.key === "Tab") && !matches.length)) return;
      if (event.key === "Enter" && (event.shiftKey || event.ctrlKey || event.metaKey || event.altKey)) return;
      event.preventDefault();
      event.stopPropagation();
      action();
    }, true);
    box.addEventListener("input", update);
    box.addEventListener("click", update);
    box.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) update();
    });
    box.addEventListener("blur", close);
    window.addEventListener("resize", () => { if (isOpen()) place(); });
    window.addEventListener("scroll", () => { if (isOpen()) place(); }, true);
  }

  return { settings, composer };
})();
