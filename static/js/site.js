// One WebSocket per page to /ws/events/. Server events update the notification bell and any
// element that shows a generation ([data-generation]); the page itself always renders the truth
// from the database, so after a reconnect we re-fetch live fragments instead of trusting old state.
(function () {
  "use strict";
  const body = document.body;
  const url = body.dataset.eventsUrl;
  let retry = 0;
  let socket = null;
  let opened = false;

  function setText(root, selector, text) {
    root.querySelectorAll(selector).forEach((el) => { el.textContent = text; });
  }

  function applyGeneration(event) {
    document.querySelectorAll('[data-generation="' + event.code + '"]').forEach((root) => {
      const previous = root.dataset.status;
      root.dataset.status = event.status;
      root.querySelectorAll(".bar").forEach((bar) => { bar.style.width = (event.percent || 0) + "%"; });
      root.querySelectorAll("[role=progressbar]").forEach((el) => el.setAttribute("aria-valuenow", event.percent || 0));
      setText(root, "[data-stage]", event.stage_text || "");
      setText(root, "[data-status-label]", event.status_label || event.status);
      if (event.preview) {
        root.querySelectorAll("img[data-preview]").forEach((img) => { img.src = event.preview; img.classList.remove("hidden"); });
      }
      const final = ["succeeded", "failed", "cancelled", "blocked"].includes(event.status);
      if (final && previous !== event.status && root.dataset.refresh && window.htmx) {
        window.htmx.ajax("GET", root.dataset.refresh, { target: root, swap: "outerHTML" });
      }
    });
  }

  function applyNotification(event) {
    const badge = document.getElementById("unread-count");
    if (badge) {
      badge.dataset.count = event.unread;
      badge.textContent = event.unread > 0 ? String(event.unread) : "";
    }
  }

  function refreshLiveFragments() {
    if (!window.htmx) return;
    document.querySelectorAll("[data-refresh]").forEach((el) => {
      window.htmx.ajax("GET", el.dataset.refresh, { target: el, swap: "outerHTML" });
    });
  }

  // On the first open only fragments that were still changing when the page rendered can be stale.
  function refreshRunningFragments() {
    if (!window.htmx) return;
    const settled = ["succeeded", "failed", "cancelled", "blocked", "active", "rejected", "deleted"];
    document.querySelectorAll("[data-refresh][data-status]").forEach((el) => {
      if (!settled.includes(el.dataset.status)) {
        window.htmx.ajax("GET", el.dataset.refresh, { target: el, swap: "outerHTML" });
      }
    });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + url);
    socket.onopen = () => {
      body.dataset.socket = "open";
      // Events sent between the page's render and this moment (or while we were disconnected)
      // reached no one: re-read the live parts from the database once we are listening.
      if (retry > 0 || opened) refreshLiveFragments();
      else refreshRunningFragments();
      opened = true;
      retry = 0;
    };
    socket.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.kind === "generation") applyGeneration(event);
      if (event.kind === "notification") applyNotification(event);
      document.dispatchEvent(new CustomEvent("sora:event", { detail: event }));
    };
    socket.onclose = () => {
      body.dataset.socket = "closed";
      retry += 1;
      // Back off up to 10 s so a restarted server isn't stampeded, but come back by ourselves.
      setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(retry, 5)));
    };
  }

  // Bars are sized from data-width here rather than inline styles, so the CSP needs no unsafe-inline.
  function sizeBars(root) {
    root.querySelectorAll(".bar[data-width]").forEach((bar) => { bar.style.width = bar.dataset.width + "%"; });
  }
  sizeBars(document);
  document.addEventListener("htmx:afterSwap", (e) => sizeBars(e.target.parentNode || document));

  if (url && "WebSocket" in window) connect();

  // Copy-link buttons: <button data-copy="text">.
  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-copy]");
    if (!button) return;
    // The label may sit beside an icon ([data-copy-label]); only the words change.
    const target = button.querySelector("[data-copy-label]") || button;
    navigator.clipboard.writeText(button.dataset.copy).then(() => {
      const label = target.textContent;
      target.textContent = "Copied";
      setTimeout(() => { target.textContent = label; }, 1500);
    });
  });
})();
