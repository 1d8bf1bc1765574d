// A message's files (SPEC §11.1), and sending a file from the reply box.
// `window.renderAttachments(message)` draws a message's attachments (the chat's timeline calls it for each message);
// `window.attachmentComposer.hook(form, chatId, {sent})` adds the 📎 button, dropping a file on the conversation and
// pasting an image to the reply box. Everything user-written is put in as text, never as HTML.
"use strict";

(() => {
  // Read when first needed: this script comes before the page's texts and app.js (the chat page's timeline uses it).
  let texts = null;
  const t = (id) => {
    texts ??= JSON.parse(document.getElementById("texts").textContent);
    return texts[id] || id;
  };
  // Telegram's limits: a bot sends a file of at most 50 MB, with a caption of at most 1,024 characters.
  const UPLOAD_LIMIT = 50 * 1024 * 1024;
  const MAX_CAPTION = 1024;
  // 📎 drawn, not typed: a machine without an emoji font would show a box.
  const PAPERCLIP = "data:image/svg+xml," + encodeURIComponent("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'>"
    + "<path fill='none' stroke='#333' stroke-width='2' stroke-linecap='round' d='M20 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1"
    + "l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8'/></svg>");
  const KIND = () => ({
    photo: t("Photo"), document: t("Document"), voice: t("Voice message"), audio: t("Audio"), video: t("Video"),
    video_note: t("Video message"), sticker: t("Sticker"), animation: t("GIF"),
  });

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function label(file) {
    return file.file_name || KIND()[file.kind] || file.kind;
  }

  // Where the file cannot be shown (not fetched, or fetching failed): its name and size, as a download.
  function link(file) {
    return el("a", { href: file.url, class: "attachment-file", download: file.file_name || true,
      style: { display: "inline-block", padding: ".3rem .5rem", border: "1px solid #ccd", borderRadius: "6px",
        background: "#fff", textDecoration: "none" } },
      `📄 ${label(file)}`, el("span", { class: "size", style: { color: "#666", marginLeft: ".4rem" } }, size(file.size)));
  }

  function media(file) {
    const wide = { display: "block", maxWidth: "min(100%, 22rem)", maxHeight: "20rem", borderRadius: "6px" };
    if (file.kind === "photo" || (file.kind === "sticker" && file.mime_type === "image/webp")) {
      const image = el("img", { src: file.url, alt: label(file), loading: "lazy", decoding: "async",
        class: `attachment-image ${file.kind}`,
        style: file.kind === "sticker" ? { display: "block", maxWidth: "10rem", maxHeight: "10rem" } : wide });
      // A file Telegram did not hand over just now (a 502): the link lets him try again.
      image.addEventListener("error", () => image.parentNode?.replaceWith(link(file)), { once: true });
      return el("a", { href: file.url, target: "_blank", rel: "noopener", class: "attachment-open" }, image);
    }
    if (file.kind === "voice" || file.kind === "audio") {
      const audio = el("audio", { src: file.url, controls: true, preload: "metadata", class: `attachment-audio ${file.kind}`,
        style: { display: "block", maxWidth: "100%" } });
      return file.kind === "audio" ? el("div", {}, audio, link(file)) : audio;
    }
    if (["video", "video_note", "animation"].includes(file.kind) || (file.kind === "sticker" && file.mime_type === "video/webm")) {
      return el("video", { src: file.url, controls: true, preload: "metadata", class: `attachment-video ${file.kind}`,
        loop: file.kind === "animation" || file.kind === "sticker", muted: file.kind === "animation",
        style: file.kind === "video_note" ? { display: "block", width: "12rem", height: "12rem", borderRadius: "50%", objectFit: "cover" } : wide });
    }
    return link(file);
  }

  function tooBig(file) {
    return el("div", { class: "attachment-too-big", style: { padding: ".4rem .6rem", border: "1px dashed #c62828",
      borderRadius: "6px", background: "#fff" } },
      el("div", {}, `📎 ${label(file)}`, el("span", { style: { color: "#666", marginLeft: ".4rem" } }, size(file.size))),
      el("div", { class: "why", style: { color: "#c62828", fontSize: ".9em" } },
        t("Telegram does not hand files over 20 MB to bots: ask the client to send it another way")));
  }

  window.renderAttachments = function renderAttachments(message) {
    const files = message?.attachments || [];
    if (!files.length) return null;
    return el("div", { class: "attachments", "data-message": message.id,
      style: { display: "grid", gap: ".35rem", margin: ".3rem 0", whiteSpace: "normal" } },
      files.map((file) => el("div", { class: "attachment", "data-attachment": file.id, "data-kind": file.kind },
        file.too_big ? tooBig(file) : media(file))));
  };

  // --- sending a file from the reply box

  function csrf() {
    return JSON.parse(document.getElementById("me").textContent).csrf_token;
  }

  // FormData with the session's CSRF header, as app.js sends its changes; XMLHttpRequest for the upload's progress.
  function upload(chatId, file, caption, progress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      if (caption) form.append("text", caption);
      form.append("file", file, file.name || "file");
      const request = new XMLHttpRequest();
      request.open("POST", `/api/v1/chats/${chatId}/messages`);
      request.setRequestHeader("X-CSRF-Token", csrf());
      request.responseType = "json";
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress(Math.round((event.loaded / event.total) * 100));
      });
      request.addEventListener("load", () => {
        if (request.status === 401) { location.href = "/inbox/login"; return; }
        if (request.status >= 200 && request.status < 300) resolve(request.response);
        else reject(new Error(request.response?.error?.message || request.statusText || String(request.status)));
      });
      request.addEventListener("error", () => reject(new Error(t("Could not send the file"))));
      request.send(form);
    });
  }

  function hook(form, chatId, { sent = () => {} } = {}) {
    const box = form.elements.text;
    const picker = el("input", { type: "file", hidden: true, id: "attach-file" });
    const button = el("button", { type: "button", id: "attach", class: "attach", title: t("Attach a file"),
      "aria-label": t("Attach a file") }, el("img", { src: PAPERCLIP, alt: "", width: 14, height: 14,
      style: { verticalAlign: "-2px" } }));
    const status = el("span", { id: "upload-status", class: "upload-status", role: "status",
      style: { fontSize: ".85em", color: "#666" } });
    const submit = form.querySelector("button[type=submit]");
    form.insertBefore(button, submit);
    form.insertBefore(picker, submit);
    form.insertBefore(status, button);
    const say = (text, bad = false) => { status.textContent = text; status.style.color = bad ? "#c62828" : "#666"; };

    async function send(file) {
      if (!file) return;
      if (form.classList.contains("note-mode")) { say(t("Files cannot be attached to a note"), true); return; }
      if (file.size > UPLOAD_LIMIT) { say(`${label({ file_name: file.name })}: ${t("A file is limited to 50 MB")}`, true); return; }
      // What is in the reply box goes with the file as its caption.
      const caption = box.value.trim();
      if ([...caption].length > MAX_CAPTION) { say(t("A caption is limited to 1024 characters"), true); return; }
      button.disabled = true;
      say(`${t("Uploading")} ${file.name || ""}…`);
      try {
        await upload(chatId, file, caption, (percent) => say(`${t("Uploading")} ${file.name || ""}… ${percent}%`));
        say("");
        box.value = "";
        box.dispatchEvent(new Event("input"));  // the reply box's counter
        sent();
      } catch (error) {
        say(`${t("Could not send the file")}: ${error.message}`, true);
      } finally {
        button.disabled = false;
        picker.value = "";
      }
    }

    button.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => send(picker.files[0]));
    // An image pasted into the reply box is sent as a file.
    box.addEventListener("paste", (event) => {
      const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
      if (!file) return;
      event.preventDefault();
      send(file.name ? file : new File([file], "pasted-image.png", { type: file.type }));
    });
    // A file dropped on the conversation (the history or the reply box) is sent to the client.
    const area = form.closest(".chat") || form;
    const over = (on) => { area.style.outline = on ? "2px dashed #2f6fed" : ""; area.style.outlineOffset = on ? "4px" : ""; };
    area.addEventListener("dragover", (event) => {
      if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
      event.preventDefault();
      over(true);
    });
    area.addEventListener("dragleave", (event) => { if (!area.contains(event.relatedTarget)) over(false); });
    area.addEventListener("drop", (event) => {
      if (!event.dataTransfer?.files?.length) return;
      event.preventDefault();
      over(false);
      send(event.dataTransfer.files[0]);
    });
    return { send };
  }

  window.attachmentComposer = { hook };
})();
