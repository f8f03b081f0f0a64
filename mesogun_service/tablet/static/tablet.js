// mesogun tablet: the Emergency stop (one touch, no confirmation, straight to the service), the connection watch
// (no ping for 3 s: say the connection is lost), attendance heartbeats while a page attends a gun, and the
// confirmation dialog of the few dangerous actions (hx-confirm). No build step: plain ES2020, loaded deferred.
(function () {
  "use strict";
  const body = document.body;
  const PING_TIMEOUT_MS = 3000;

  // ---------------------------------------------------------------- Emergency stop
  const estop = document.getElementById("estop-form");
  const estopStatus = document.getElementById("estop-status");
  estop.addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new URLSearchParams(new FormData(estop));
    fetch(estop.action, { method: "POST", body: data, keepalive: true, credentials: "same-origin" })
      .then(function (reply) {
        estopStatus.textContent = reply.ok ? body.dataset.textEstopSent : body.dataset.textEstopFailed;
      })
      .catch(function () { estopStatus.textContent = body.dataset.textEstopFailed; });
  });

  // ---------------------------------------------------------------- the connection to the service
  const banner = document.getElementById("connection");
  let lastHeard = Date.now();
  function heard() { lastHeard = Date.now(); if (!banner.hidden) { banner.hidden = true; body.classList.remove("offline"); } }
  function lost() { if (banner.hidden) { banner.hidden = false; body.classList.add("offline"); } }
  body.addEventListener("htmx:sseOpen", heard);
  body.addEventListener("htmx:sseMessage", heard);
  body.addEventListener("htmx:sseError", lost);
  body.addEventListener("htmx:sseClose", lost);
  setInterval(function () { if (Date.now() - lastHeard > PING_TIMEOUT_MS) { lost(); } }, 500);

  // ---------------------------------------------------------------- attendance (the service's fail-safe)
  function csrf() {
    const match = document.cookie.match(/(?:^|; )mesogun_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  const attendance = body.dataset.attendance;
  if (attendance) {
    const every = Math.max(250, 1000 * parseFloat(body.dataset.heartbeatS || "1"));
    setInterval(function () {
      fetch("/attendance/" + encodeURIComponent(attendance) + "/heartbeat",
            { method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" })
        .catch(function () { lost(); });
    }, every);
  }

  // ---------------------------------------------------------------- confirmation of dangerous actions
  const dialog = document.getElementById("confirm");
  // While a question is asked, the live stream does not redraw the controls it is about: the answer must reach
  // the form it was asked for (htmx issues nothing for a form no longer in the page).
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (body.classList.contains("confirming") && event.detail.elt.closest("[data-hold-while-confirming]")) {
      const verb = (event.detail.requestConfig && event.detail.requestConfig.verb) || "";
      if (verb.toLowerCase() === "get") { event.preventDefault(); }
    }
  });
  document.addEventListener("htmx:confirm", function (event) {
    const question = event.detail.question;
    if (!question) { return; }
    event.preventDefault();
    document.getElementById("confirm-question").textContent = question;
    dialog.querySelectorAll("button").forEach(function (button) {
      button.onclick = function () {
        dialog.close();
        body.classList.remove("confirming");
        if (button.value === "confirm") { event.detail.issueRequest(true); }
      };
    });
    // Not showModal(): a modal dialog makes the rest of the page inert, the Emergency stop included. The dialog
    // opens over a backdrop of our own that the docked Emergency stop stays above, one touch away.
    body.classList.add("confirming");
    dialog.show();
    dialog.querySelector("button[value=cancel]").focus();
  });
})();
