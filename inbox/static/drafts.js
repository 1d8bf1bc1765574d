// The chat page's reply box keeps what was typed per chat and per mode (reply or note, issue 12), in this tab's
// sessionStorage: saved as one types (and when the page goes away), put back when the chat is opened again or the
// Note toggle switches the box, forgotten once sent. Text only: the box's value, never HTML.
"use strict";

// `window.chatDrafts.keep(form, { user, chat, shown })`: `form` is #reply (its "note-mode" class says the mode, set
// by timeline.js's Note toggle); `user` the logged-in employee's id, `chat` the chat's id; `shown()` is called after
// the box's text was changed here (the counter). Returns { clear }: the sent text's draft is forgotten.
window.chatDrafts = (() => {
  const SAVE_AFTER = 300;  // ms of no typing

  function keep(form, { user, chat, shown = () => {} }) {
    const box = form.elements.text;
    const modeNow = () => (form.classList.contains("note-mode") ? "note" : "reply");
    const key = (mode) => `closer:draft:${user}:${chat}:${mode}`;
    let mode = modeNow();
    let timer = null;

    // Storage may be full or refused (a private window's settings): the box still works, without drafts.
    function read(which) {
      try { return sessionStorage.getItem(key(which)); } catch { return null; }
    }
    function write(which, text) {
      try {
        if (text) sessionStorage.setItem(key(which), text);
        else sessionStorage.removeItem(key(which));
      } catch { /* not kept */ }
    }
    function saveNow() {
      clearTimeout(timer);
      timer = null;
      write(mode, box.value);
    }
    function show(text) {
      box.value = text;
      shown();
    }

    const stored = read(mode);
    if (stored !== null) show(stored);
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(saveNow, SAVE_AFTER); });
    window.addEventListener("pagehide", () => { if (timer !== null) saveNow(); });
    // The Note toggle: the text typed so far stays with the mode it was typed in; the other mode's comes back.
    new MutationObserver(() => {
      const next = modeNow();
      if (next === mode) return;
      saveNow();
      mode = next;
      show(read(mode) ?? "");
    }).observe(form, { attributes: true, attributeFilter: ["class"] });

    return {
      clear() {
        clearTimeout(timer);
        timer = null;
        write(mode, "");
      },
    };
  }

  return { keep };
})();
