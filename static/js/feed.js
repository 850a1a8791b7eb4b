// The vertical feed: one video at a time. The post most in view plays (muted until the viewer
// unmutes; the choice sticks for the session), the others pause. Arrow keys / j k move between
// posts, touch swipes ride on CSS scroll snapping, and htmx appends more posts when the
// "revealed" sentinel scrolls in. A post that starts playing is reported once (For You pushes
// seen posts down). No inline scripts: the CSP forbids them.
(function () {
  "use strict";
  let muted = sessionStorage.getItem("sora:muted") !== "0";
  const reported = new Set();
  let active = null;

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function items() { return Array.from(document.querySelectorAll(".feed-item[data-post]")); }

  function labelButtons() {
    document.querySelectorAll("[data-unmute]").forEach((button) => {
      // Icons from the page's SVG sprite (includes/icons.html): no font needs a speaker glyph.
      const icon = muted ? "i-muted" : "i-sound";
      button.innerHTML = '<svg class="icon" aria-hidden="true" focusable="false"><use href="#' + icon + '"></use></svg> ';
      button.append(muted ? "Unmute" : "Mute");
      button.setAttribute("aria-pressed", muted ? "false" : "true");
      button.setAttribute("aria-label", muted ? "Unmute" : "Mute");
    });
  }

  function applyMuted() {
    document.querySelectorAll("video[data-feed-video], video[data-post-video]").forEach((v) => { v.muted = muted; });
    labelButtons();
  }

  function reportSeen(item) {
    const url = item.dataset.seenUrl;
    if (!url || reported.has(item.dataset.post)) return;
    reported.add(item.dataset.post);
    fetch(url, { method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "X-CSRFToken": csrfToken() } }).catch(() => reported.delete(item.dataset.post));
  }

  function activate(item) {
    if (active === item) return;
    active = item;
    items().forEach((other) => {
      const video = other.querySelector("video");
      if (!video) return;
      if (other === item) {
        video.muted = muted;
        const playing = video.play();
        if (playing && playing.catch) playing.catch(() => {});  // autoplay refused: poster stays
        reportSeen(other);
        other.classList.add("active");
      } else {
        video.pause();
        other.classList.remove("active");
      }
    });
  }

  const observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    entries.forEach((entry) => {
      if (entry.isIntersecting && entry.intersectionRatio >= 0.6) activate(entry.target);
    });
  }, { threshold: [0.6] }) : null;

  // htmx may deliver a post already on the page (the ranking moved it between pages): keep one.
  function adopt(root) {
    const seen = new Set();
    items().forEach((item) => {
      if (seen.has(item.dataset.post)) { item.remove(); return; }
      seen.add(item.dataset.post);
      if (observer && !item.dataset.observed) { item.dataset.observed = "1"; observer.observe(item); }
    });
    applyMuted();
  }

  function move(step) {
    const list = items();
    if (!list.length) return;
    const index = Math.max(0, list.indexOf(active));
    const target = list[Math.min(list.length - 1, Math.max(0, index + step))];
    target.scrollIntoView({ behavior: "smooth", block: "start" });
    activate(target);
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-unmute]");
    if (!button) return;
    muted = !muted;
    sessionStorage.setItem("sora:muted", muted ? "1" : "0");
    applyMuted();
    const video = (button.closest(".player") || document).querySelector("video");
    if (video && !muted) video.play().catch(() => {});
  });

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest("input, textarea, select, [contenteditable]")) return;
    if (!document.querySelector("[data-feed]")) return;
    if (["ArrowDown", "PageDown", "j"].includes(e.key)) { e.preventDefault(); move(1); }
    else if (["ArrowUp", "PageUp", "k"].includes(e.key)) { e.preventDefault(); move(-1); }
    else if (e.key === "m") { const b = document.querySelector("[data-unmute]"); if (b) b.click(); }
  });

  document.addEventListener("htmx:afterSettle", () => adopt(document));
  adopt(document);
  const first = items()[0];
  if (first) activate(first);
  applyMuted();
})();
