// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A scanner types the code and Enter: the form submits by itself; keep
  // the focus in the scan field so the next scan needs no click.
  const scan = document.getElementById("scan");
  if (scan && !document.querySelector("[autofocus]")) scan.focus();
  // One click posts once: the idempotency key already makes a second post
  // a replay; disabling the button saves the round trip.
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      for (const b of form.querySelectorAll("button[data-once]")) {
        setTimeout(() => { b.disabled = true; }, 0);
      }
    });
  }
  // Scan-driven forms: a scanner ends each code with Enter. In a field
  // that takes a code (it has suggestions), Enter goes to the next field
  // instead of posting a half-filled form; Enter elsewhere posts.
  for (const form of document.querySelectorAll("form.move")) {
    form.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || !(e.target instanceof HTMLInputElement) || !e.target.list) return;
      const fields = [...form.querySelectorAll("input:not([type=hidden]), select")];
      const next = fields[fields.indexOf(e.target) + 1];
      if (next) {
        e.preventDefault();
        next.focus();
      }
    });
  }
  // Focus the first field that has an error, so a keyboard user lands on it.
  const bad = document.querySelector("[aria-invalid=true]");
  if (bad) bad.focus();
});
