// The voice passage recorder on the cameo page: microphone only, a timer that shows the 30-60 s
// window, upload with a progress bar, then the page follows the {"kind": "cameo"} events (or a
// reload) for the verdict. Without JavaScript or a microphone the plain upload form still works.
(function () {
  "use strict";
  const box = document.querySelector("[data-voice-recorder]");
  const section = document.querySelector("[data-voice]");

  // A verdict on the reading arrives as a cameo event: re-render the page's truth from the server.
  document.addEventListener("sora:event", (e) => {
    const event = e.detail;
    if (!section || !event || event.kind !== "cameo" || event.code !== section.dataset.voice) return;
    if (event.voice_status && event.voice_status !== section.dataset.voiceStatus) location.reload();
  });

  if (!box || !navigator.mediaDevices || !window.MediaRecorder) return;
  box.classList.remove("hidden");
  const start = box.querySelector("[data-voice-start]");
  const stop = box.querySelector("[data-voice-stop]");
  const timer = box.querySelector("[data-voice-timer]");
  const error = box.querySelector("[data-voice-error]");
  const progress = box.querySelector("[data-voice-progress]");
  const bar = box.querySelector("[data-voice-bar]");
  const maxSeconds = Number(box.dataset.maxSeconds);
  const minSeconds = Number(box.dataset.minSeconds);
  let recorder = null;
  let ticking = null;

  function csrfToken() {
    return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
  }

  function mimeType() {
    const types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
    return types.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  }

  function upload(blob) {
    const form = new FormData();
    const extension = blob.type.includes("mp4") ? "m4a" : blob.type.includes("ogg") ? "ogg" : "webm";
    form.append("recording", blob, "passage." + extension);
    const request = new XMLHttpRequest();
    request.open("POST", box.dataset.upload);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    progress.classList.remove("hidden");
    request.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.style.width = Math.round((100 * e.loaded) / e.total) + "%";
    };
    request.onload = () => {
      if (request.status === 202) {
        timer.textContent = "Uploaded: checking your reading…";
        location.reload();
        return;
      }
      let message = "The upload failed. Please try again.";
      try { message = JSON.parse(request.responseText).error || message; } catch (e) { /* not JSON */ }
      error.textContent = message;
      start.disabled = false;
    };
    request.onerror = () => { error.textContent = "The upload failed. Check your connection and try again."; start.disabled = false; };
    request.send(form);
  }

  start.addEventListener("click", async () => {
    error.textContent = "";
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      error.textContent = "We need your microphone to record the reading. Allow it, or upload a file below.";
      return;
    }
    const type = mimeType();
    const chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      clearInterval(ticking);
      stream.getTracks().forEach((track) => track.stop());
      stop.classList.add("hidden");
      upload(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
    };
    const began = Date.now();
    recorder.start(1000);
    start.disabled = true;
    stop.classList.remove("hidden");
    ticking = setInterval(() => {
      const seconds = Math.floor((Date.now() - began) / 1000);
      timer.textContent = seconds < minSeconds
        ? seconds + " s — keep reading (at least " + minSeconds + " s)"
        : seconds + " s — press Done when you finish";
      if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
    }, 250);
  });

  stop.addEventListener("click", () => { if (recorder && recorder.state === "recording") recorder.stop(); });
})();
