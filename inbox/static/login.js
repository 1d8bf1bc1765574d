// The login page: POST /api/v1/session, then into the inbox.
"use strict";
const TEXTS = JSON.parse(document.getElementById("texts").textContent);
const form = document.getElementById("login");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: form.elements.email.value, password: form.elements.password.value }),
  });
  if (response.ok) {
    // Only back into the inbox: a "next" pointing elsewhere would make this page an open redirect.
    const next = new URLSearchParams(location.search).get("next") || "";
    location.href = /^\/inbox\/[^/\\]/.test(next) || next === "/inbox/" ? next : "/inbox/";
    return;
  }
  document.getElementById("login-error").textContent =
    response.status === 429 ? TEXTS["Too many attempts; try again later"] : TEXTS["Wrong e-mail or password"];
});
