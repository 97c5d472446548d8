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
  // An upload is one long request: say what is being imported, and that
  // the page answers when every row is done.
  for (const form of document.querySelectorAll("form.import")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[data-busy]");
      const file = form.querySelector("input[type=file]");
      const status = form.querySelector("[role=status]");
      if (button) button.textContent = button.dataset.busy;
      if (status && file && file.files.length === 1) {
        const f = file.files[0];
        status.textContent = `Importing ${f.name} (${size(f.size)})… this page shows the result when every row is checked and applied.`;
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
  // Receiving: a scanned item code (Enter ends it) counts one more on
  // the order line of that item, without a round trip; the server does
  // the same when the script is off.
  for (const form of document.querySelectorAll("form.receive")) {
    const field = form.querySelector("#scan");
    const status = form.querySelector("#scan-status");
    if (!field) continue;
    // The Enter's own keypress would submit the form (implicit
    // submission) where a keydown's preventDefault does not reach it.
    field.addEventListener("keypress", (e) => { if (e.key === "Enter") e.preventDefault(); });
    field.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const code = field.value.trim();
      field.value = "";
      if (!code) return;
      const line = [...form.querySelectorAll("fieldset.po-line")].find((l) => l.dataset.sku === code || (l.dataset.barcode && l.dataset.barcode === code));
      if (!line) {
        if (status) status.textContent = `No line of this order is for the code ${code}.`;
        return;
      }
      const qty = line.querySelector(`#qty-${line.dataset.line}`);
      const n = Number(qty.value) || 0;
      qty.value = String(n + 1);
      if (status) status.textContent = `Scanned ${line.dataset.sku}: line ${line.dataset.line} now ${qty.value}.`;
    });
  }
  // Focus the first field that has an error, so a keyboard user lands on it.
  const bad = document.querySelector("[aria-invalid=true]");
  if (bad) bad.focus();
});

// size is n bytes for a person, as the server writes it.
function size(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(1).replace(/\.0$/, "")} ${units[i]}`;
}
