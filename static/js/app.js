// Connector Hub: progressive enhancements only; every page works without this file.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
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
