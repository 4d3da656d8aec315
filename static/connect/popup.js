/* Connector Hub hosted connect page, popup and embedded modes (?mode=popup|embedded).
 *
 * Tells the window that opened this page (or the page that frames it) how the connect ended,
 * with postMessage aimed at ONE origin: the origin of the session's success_url (else
 * error_url), which the server checked against the project's allowed origins. Without such an
 * origin nothing is sent. Messages: {source: "connector-hub", type: "connect.success",
 * connection_id} | {..., type: "connect.error", error} | {..., type: "connect.closed"} (the end
 * user closed the window before the end). A window closed while the provider's own pages are
 * shown sends nothing: the opener also watches `popup.closed` (docs/api.md).
 * No inline script, no eval: the page's CSP allows this file only.
 */
(function () {
  "use strict";
  var data = document.body.dataset;
  var origin = data.connectOrigin;
  var outcome = data.connectOutcome || "";
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (!target || !origin) {
    return;
  }
  function send(message) {
    message.source = "connector-hub";
    try {
      target.postMessage(message, origin);
    } catch (e) {
      /* the opener went away */
    }
  }
  if (outcome === "success") {
    send({ type: "connect.success", connection_id: data.connectConnectionId });
  } else if (outcome === "error") {
    send({ type: "connect.error", error: data.connectError });
  }
  // Leaving through our own form or "Continue" link is no close.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; }, true);
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a[data-connect-continue]") : null;
    if (link) { leaving = true; }
  }, true);
  // beforeunload, not pagehide: Chromium drops what a closing cross-origin popup posts from
  // pagehide. It never asks the user anything (no preventDefault).
  var closedSent = false;
  function closed() {
    if (!leaving && !closedSent && outcome !== "success") {
      closedSent = true;
      send({ type: "connect.closed" });
    }
  }
  window.addEventListener("beforeunload", closed);
  window.addEventListener("pagehide", closed);
})();
