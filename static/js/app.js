// Connector Hub: progressive enhancements only; every page works without this file.
// Copy buttons: data-copy names the element (an input's value, or any element's text).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const isInput = source instanceof HTMLInputElement;
  if (isInput) source.select(); // without clipboard access, the text is selected to copy by hand
  if (!navigator.clipboard) return;
  const text = (isInput ? source.value : source.textContent).trim();
  navigator.clipboard.writeText(text).then(() => {
    button.textContent = "Copied";
  });
});
// Plain confirm() for destructive forms marked data-confirm (no inline script needed).
document.addEventListener("submit", (event) => {
  if (event.target.hasAttribute("hx-post")) return; // htmx asks through htmx:confirm
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
}, true);
document.addEventListener("htmx:confirm", (event) => {
  const form = event.target.closest("form");
  const message = form && form.dataset.confirm;
  if (!message) return;
  event.preventDefault();
  if (window.confirm(message)) event.detail.issueRequest(true);
});
// "Select all on this page" in tables of checkboxes (the server also honours the box alone,
// so the bulk form works without this script).
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox" || !box.form) return;
  const all = box.form.querySelector("[data-select-all]");
  if (!all) return;
  const rows = Array.from(box.form.querySelectorAll("input[type=checkbox][name=ids]"));
  if (box === all) {
    rows.forEach((row) => { row.checked = all.checked; });
  } else if (box.name === "ids") {
    const checked = rows.filter((row) => row.checked).length;
    all.checked = checked === rows.length && rows.length > 0;
    all.indeterminate = checked > 0 && checked < rows.length;
  }
});
// "/" focuses the page's search box (unless the reader is typing somewhere already).
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (active && (active.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName))) return;
  const search = document.querySelector("[role=search] input[type=search], input[type=search]");
  if (!search) return;
  event.preventDefault();
  search.focus();
  search.select();
});
// Bulk buttons stay disabled until a row is chosen (the server still refuses an empty
// selection; without this script the buttons are simply enabled).
function syncBulkButtons(root) {
  (root || document).querySelectorAll("form").forEach((form) => {
    const buttons = form.querySelectorAll("[data-bulk-action]");
    if (!buttons.length) return;
    const chosen = form.querySelectorAll("input[type=checkbox][name=ids]:checked").length;
    const everything = form.querySelector("input[name=all_matching]:checked");
    buttons.forEach((button) => { button.disabled = chosen === 0 && !everything; });
    const status = form.querySelector("[data-bulk-status]");
    if (status) {
      status.textContent = everything ? `With all ${everything.dataset.count} matching:`
        : chosen ? `With ${chosen} selected:` : "Select connections to act on them.";
    }
    const offer = form.querySelector("[data-select-matching]");
    if (offer) {
      const rows = form.querySelectorAll("input[type=checkbox][name=ids]").length;
      offer.hidden = !(rows > 0 && chosen === rows);
    }
  });
}
document.addEventListener("DOMContentLoaded", () => syncBulkButtons());
document.addEventListener("htmx:afterSettle", (event) => syncBulkButtons(event.target));
document.addEventListener("change", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.type === "checkbox") {
    syncBulkButtons(event.target.closest("form") ? event.target.closest("form").parentElement : document);
  }
});
// A table sorted by its column headers (over HTMX, the table alone) sets its filter form's
// sort bar to that sort, so that the next filter change keeps it.
document.addEventListener("htmx:afterSettle", () => {
  document.querySelectorAll("[data-sort-form]").forEach((table) => {
    const form = document.getElementById(table.dataset.sortForm);
    if (!(form instanceof HTMLFormElement)) return;
    ["sort", "dir"].forEach((name) => {
      const select = form.elements.namedItem(name);
      if (select instanceof HTMLSelectElement && table.dataset[name]) select.value = table.dataset[name];
    });
  });
});
