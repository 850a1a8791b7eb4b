// Cameo pages: the liveness recorder (challenge, countdown, MediaRecorder with a timer, upload)
// and live verdicts. Verdicts arrive as {"kind": "cameo"} events that site.js re-dispatches from
// the WebSocket as "sora:event"; every element with data-cameo="<code>" shows the latest one. The
// server's page is the truth: a reload renders the same state from the database.
(function () {
  "use strict";
  const FINAL = ["active", "rejected", "deleted", "review"];
  const latest = {}; // cameo code -> the newest event seen, in case it beats the upload's reply

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function render(root, event) {
    root.dataset.status = event.status;
    root.querySelectorAll("[data-cameo-status]").forEach((el) => {
      el.textContent = event.status_label;
      el.className = "status " + event.status;
    });
    const list = root.querySelector("[data-cameo-reasons]");
    if (list) {
      const reasons = ["rejected", "review"].includes(event.status) ? event.reasons || [] : [];
      list.replaceChildren(...reasons.map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      }));
    }
    const link = root.querySelector("[data-cameo-link]");
    if (link) {
      link.href = event.url;
      link.classList.toggle("hidden", event.status !== "active");
    }
    const final = FINAL.includes(event.status);
    if (final && root.dataset.refresh && window.htmx) {
      // The server fragment adds what the event doesn't carry (e.g. "Record again").
      window.htmx.ajax("GET", root.dataset.refresh, { target: root, swap: "outerHTML" });
    }
    root.dispatchEvent(new CustomEvent("cameo:verdict", { detail: event, bubbles: true }));
  }

  function applyCameo(event) {
    latest[event.code] = event;
    document.querySelectorAll('[data-cameo="' + event.code + '"]').forEach((root) => render(root, event));
  }

  document.addEventListener("sora:event", (e) => {
    if (e.detail && e.detail.kind === "cameo") applyCameo(e.detail);
  });

  const recorder = document.getElementById("cameo-recorder");
  if (!recorder) return;

  const $ = (selector) => recorder.querySelector(selector);
  const seconds = Number(recorder.dataset.seconds) || 8;
  const countdown = Number(recorder.dataset.countdown) || 0;
  const minSeconds = Number(recorder.dataset.minSeconds) || 3;
  const maxBytes = Number(recorder.dataset.maxBytes) || 50e6;
  const startButton = $("[data-start]");
  const stopButton = $("[data-stop]");
  const errorBox = $("[data-recorder-error]");
  const stage = $("[data-stage]");
  const preview = $("[data-preview]");
  const countdownText = $("[data-countdown-text]");
  const timer = $("[data-timer]");
  const timerText = $("[data-timer-text]");
  const slot = $("[data-verdict-slot]");
  let stream = null;
  let mediaRecorder = null;
  let chunks = [];
  let ticking = null;
  let stopTimer = null;
  let pollTimer = null;
  let startedAt = 0;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const clock = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");

  function setState(state) {
    recorder.dataset.state = state;
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.classList.toggle("hidden", !text);
  }

  function messageFor(error) {
    if (error && error.name === "NotAllowedError") {
      return "Camera and microphone access was refused. Allow both for this site, then start again.";
    }
    if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) {
      return "No camera or microphone was found. Connect them, then start again.";
    }
    return (error && error.message) || "Something went wrong. Please start again.";
  }

  function mimeType() {
    const types = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"];
    return types.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      // A proxy's HTML error page: fall through to the generic message.
    }
    if (!response.ok) {
      throw new Error(data.error || "The server refused the request (" + response.status + "). Please try again.");
    }
    return data;
  }

  function tick() {
    const elapsed = (performance.now() - startedAt) / 1000;
    timerText.textContent = clock(Math.min(elapsed, seconds));
    stopButton.disabled = elapsed < minSeconds;
  }

  function stop() {
    if (mediaRecorder && mediaRecorder.state === "recording") mediaRecorder.stop();
  }

  function release() {
    clearInterval(ticking);
    clearTimeout(stopTimer);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    preview.srcObject = null;
    stage.classList.add("hidden");
    timer.classList.add("hidden");
    stopButton.classList.add("hidden");
  }

  function verdictBox(text) {
    const box = document.createElement("section");
    box.className = "cameo-status";
    box.setAttribute("data-testid", "cameo-verdict");
    box.setAttribute("aria-live", "polite");
    const line = document.createElement("p");
    const status = document.createElement("span");
    status.className = "status pending";
    status.setAttribute("data-cameo-status", "");
    status.textContent = text;
    line.append(status);
    const reasons = document.createElement("ul");
    reasons.className = "reasons";
    reasons.setAttribute("data-cameo-reasons", "");
    const link = document.createElement("a");
    link.className = "button hidden";
    link.setAttribute("data-cameo-link", "");
    link.textContent = "Open my cameo";
    box.append(line, reasons, link);
    slot.replaceChildren(box);
    return box;
  }

  function pollUntilFinal(statusUrl, code) {
    // Only a safety net for a missed WebSocket event: the first look comes after the check
    // would normally have finished.
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      if (latest[code] && FINAL.includes(latest[code].status)) return;
      try {
        const response = await fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) applyCameo(await response.json());
      } catch (e) {
        // Offline for a moment: try again below.
      }
      if (!latest[code] || !FINAL.includes(latest[code].status)) pollUntilFinal(statusUrl, code);
    }, 15000);
  }

  async function upload(nonce) {
    const type = (mediaRecorder.mimeType || "video/webm").split(";")[0];
    const blob = new Blob(chunks, { type: type });
    if (!blob.size) throw new Error("Nothing was recorded. Check your camera, then start again.");
    if (blob.size > maxBytes) throw new Error("The recording is too large. Please record a shorter clip.");
    setState("uploading");
    const box = verdictBox("Uploading…");
    const form = new FormData();
    form.append("challenge", nonce);
    form.append("recording", blob, type.includes("mp4") ? "recording.mp4" : "recording.webm");
    const event = await postJSON(recorder.dataset.uploadUrl, form);
    box.dataset.cameo = event.code;
    setState("checking");
    applyCameo(latest[event.code] || event);
    pollUntilFinal(event.status_url, event.code);
  }

  async function start() {
    showError("");
    slot.replaceChildren();
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      showError("This browser can't record video. Please use a recent Chrome, Firefox, Edge or Safari.");
      return;
    }
    startButton.disabled = true;
    try {
      const challenge = await postJSON(recorder.dataset.challengeUrl, null);
      $("[data-digits]").textContent = challenge.spoken;
      $("[data-turns]").textContent = challenge.turns.join(", then ");
      $("[data-challenge]").classList.remove("hidden");
      // The same prompt on the picture itself, so it stays in view while the person records. The
      // preview is mirrored, so the person's own left is the screen's left.
      const arrows = { left: "← left", right: "right →" };
      $("[data-prompt-digits]").textContent = "Say " + challenge.spoken;
      $("[data-prompt-turns]").textContent = "then look " + challenge.turns.map((t) => arrows[t] || t).join(", then ");
      stage.classList.remove("hidden");
      setState("countdown");
      countdownText.classList.remove("hidden");
      for (let n = countdown; n > 0; n -= 1) {
        countdownText.textContent = "Recording in " + n + "…";
        await sleep(1000);
      }
      countdownText.classList.add("hidden");
      // The camera opens when recording starts, so the clip begins with the challenge fresh.
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: true,
      });
      preview.srcObject = stream;
      const type = mimeType();
      mediaRecorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      chunks = [];
      mediaRecorder.ondataavailable = (e) => {
        if (e.data && e.data.size) chunks.push(e.data);
      };
      const stopped = new Promise((resolve) => {
        mediaRecorder.onstop = resolve;
      });
      mediaRecorder.start(250);
      startedAt = performance.now();
      setState("recording");
      timer.classList.remove("hidden");
      stopButton.classList.remove("hidden");
      stopButton.disabled = true;
      ticking = setInterval(tick, 200);
      stopTimer = setTimeout(stop, seconds * 1000);
      await stopped;
      release();
      await upload(challenge.nonce);
    } catch (error) {
      release();
      setState("error");
      slot.replaceChildren();
      showError(messageFor(error));
    } finally {
      startButton.disabled = false;
      startButton.textContent = "Start again";
    }
  }

  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", stop);
  document.addEventListener("cameo:verdict", (e) => {
    if (FINAL.includes(e.detail.status) && slot.contains(e.target)) {
      setState("done");
      // A verified cameo is finished: its link shows, and "Start again" would only confuse.
      startButton.classList.toggle("hidden", e.detail.status === "active");
    }
  });
  setState("idle");
})();
