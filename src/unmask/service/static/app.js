// The unmask page: plain JavaScript, no build step. Everything goes through the versioned JSON API with
// the key the user typed (kept in sessionStorage, i.e. this tab only). Text goes into the page with
// textContent only, never innerHTML, so a file name cannot inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("unmask-key") || "", offset: 0, limit: 10, total: 0, polling: null };
const WORDS = {
  fake: "Likely fake: this sounds like synthetic speech",
  real: "Likely real: no sign of synthetic speech",
  uncertain: "Uncertain: the model cannot tell either way",
  error: "Could not be judged",
};

function setStatus(text) { $("status").textContent = text; }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + state.key }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
    throw new Error(response.status + ": " + detail);
  }
  return body;
}

function percent(p) { return (100 * p).toFixed(p >= 0.995 || p <= 0.005 ? 1 : 0) + "%"; }

function colour(p) {  // green (real) through amber to red (fake)
  const hue = Math.round(120 * (1 - p));
  return "hsl(" + hue + ", 70%, 42%)";
}

// -- upload ----------------------------------------------------------------------------------------
function upload(file) {
  if (!state.key) { setStatus("Enter your API key first."); $("api-key").focus(); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/scans");
  xhr.setRequestHeader("Authorization", "Bearer " + state.key);
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) {
      const value = Math.round((100 * event.loaded) / event.total);
      $("upload-progress").value = value;
      $("upload-progress").textContent = value + "%";
    }
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
    if (xhr.status !== 202) {
      setStatus("Upload refused (" + xhr.status + "): " + (body.detail || xhr.statusText));
      return;
    }
    $("upload-progress").value = 100;
    setStatus("Uploaded " + body.filename + ". Queued for scoring...");
    poll(body.id);
  };
  xhr.onerror = () => setStatus("The upload failed: the server could not be reached.");
  setStatus("Uploading " + file.name + "...");
  $("upload-progress").value = 0;
  xhr.send(form);
}

function poll(id) {
  clearTimeout(state.polling);
  api("/v1/scans/" + id).then((scan) => {
    if (scan.status === "queued" || scan.status === "running") {
      setStatus(scan.filename + ": " + (scan.status === "queued" ? "waiting for a worker..." : "scoring..."));
      state.polling = setTimeout(() => poll(id), 700);
      return;
    }
    showScan(scan);
    loadHistory();
  }).catch((err) => setStatus("Could not fetch the result: " + err.message));
}

// -- result ----------------------------------------------------------------------------------------
function showScan(scan) {
  const result = scan.result || { verdict: "error", timeline: [], error: scan.error };
  $("result").hidden = false;
  const verdict = result.verdict || "error";
  $("verdict").dataset.verdict = verdict;
  $("verdict").textContent = WORDS[verdict] + " (" + scan.filename + ")";
  const kind = (result.parts || []).some((p) => p.content === "music") ? "content" : "speech";
  if (result.fake_probability !== null && result.fake_probability !== undefined) {
    $("probability").textContent = "Probability that this is synthetic " + kind + ": " + percent(result.fake_probability) +
      " (calibrated; " + (result.duration_s || 0).toFixed(1) + " s analysed by " + result.model + ").";
  } else {
    $("probability").textContent = "Reason: " + (scan.error || result.error || "unknown");
  }
  setStatus(scan.status === "done" ? "Scored " + scan.filename + "." : "Failed: " + (scan.error || ""));
  drawParts(result);
  drawTimeline(result);
  drawSpectrogram(scan);
  $("verdict-heading").focus({ preventScroll: true });
}

// A routed scan (--model auto) says which detector judged which stretch, and why a part was not judged.
function drawParts(result) {
  const list = $("parts");
  list.replaceChildren();
  const parts = result.parts || [];
  list.hidden = parts.length === 0;
  for (const p of parts) {
    const item = document.createElement("li");
    let what = "no evidence either way";
    if (p.fake_probability !== null && p.fake_probability !== undefined) {
      what = "judged by " + p.model + ": " + percent(p.fake_probability) + " likely synthetic";
    } else if (p.note) {
      what = "not judged (" + p.note + ")";
    }
    item.textContent = p.start_s.toFixed(1) + " to " + p.end_s.toFixed(1) + " s, " + p.content + ": " + what;
    list.appendChild(item);
  }
}

function drawTimeline(result) {
  const box = $("timeline");
  box.replaceChildren();
  const body = $("timeline-table").tBodies[0];
  body.replaceChildren();
  const windows = result.timeline || [];
  let peak = null;
  for (const w of windows) {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.height = Math.max(2, 100 * w.fake_probability) + "%";
    bar.style.background = colour(w.fake_probability);
    bar.title = w.start_s.toFixed(2) + "-" + w.end_s.toFixed(2) + " s: " + percent(w.fake_probability);
    box.appendChild(bar);
    const row = body.insertRow();
    for (const value of [w.start_s.toFixed(2), w.end_s.toFixed(2), percent(w.fake_probability)]) {
      row.insertCell().textContent = value;
    }
    if (!peak || w.fake_probability > peak.fake_probability) peak = w;
  }
  const axis = $("timeline-axis").children;
  axis[0].textContent = windows.length ? "0 s" : "";
  axis[1].textContent = windows.length ? windows[windows.length - 1].end_s.toFixed(1) + " s" : "";
  box.setAttribute("aria-label", windows.length
    ? windows.length + " windows; the most suspicious is " + peak.start_s.toFixed(1) + " to " +
      peak.end_s.toFixed(1) + " s at " + percent(peak.fake_probability)
    : "no windows were scored");
}

const PALETTE = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
  [250, 193, 39], [252, 255, 164]];  // dark to bright

function paletteAt(v) {
  const x = (v / 255) * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const t = x - i;
  return PALETTE[i].map((c, k) => Math.round(c + t * (PALETTE[i + 1][k] - c)));
}

function drawSpectrogram(scan) {
  const canvas = $("spectrogram");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  $("spectrogram-note").textContent = "";
  if (scan.status !== "done") { $("spectrogram-note").textContent = "No spectrogram for a failed scan."; return; }
  api("/v1/scans/" + scan.id + "/spectrogram").then((s) => {
    const bytes = Uint8Array.from(atob(s.data), (c) => c.charCodeAt(0));
    if (!s.frames) return;
    canvas.width = s.frames;
    canvas.height = s.bands;
    const image = context.createImageData(s.frames, s.bands);
    for (let t = 0; t < s.frames; t++) {
      for (let b = 0; b < s.bands; b++) {
        const [r, g, bl] = paletteAt(bytes[t * s.bands + b]);
        const o = ((s.bands - 1 - b) * s.frames + t) * 4;
        image.data[o] = r; image.data[o + 1] = g; image.data[o + 2] = bl; image.data[o + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    $("spectrogram-note").textContent = "0 to " + s.duration_s.toFixed(1) + " s, 0 to " + s.max_hz / 1000 +
      " kHz (mel scale), " + s.db_range + " dB range.";
  }).catch((err) => { $("spectrogram-note").textContent = "Spectrogram unavailable: " + err.message; });
}

// -- model card and history ------------------------------------------------------------------------
function addTerm(list, term, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = typeof value === "string" ? value : JSON.stringify(value);
  list.append(dt, dd);
}

function loadModels() {
  api("/v1/models").then((body) => {
    const list = $("model-card");
    list.replaceChildren();
    for (const m of body.models) {
      addTerm(list, "Model", m.name + " (version " + m.version + ", " + m.architecture + ")");
      addTerm(list, "Windows", m.window_s + " s, every " + m.hop_s + " s");
      addTerm(list, "Verdicts", "real below " + m.thresholds.real_below + ", fake at " +
        m.thresholds.fake_at_or_above + " and above, uncertain between");
      for (const key of ["summary", "training_data", "intended_use", "failure_modes", "licence"]) {
        addTerm(list, key.replace("_", " "), m.card[key]);
      }
    }
  }).catch((err) => setStatus("Could not load the model card: " + err.message));
}

function loadHistory() {
  const params = new URLSearchParams({ offset: state.offset, limit: state.limit });
  const filters = new FormData($("filters"));
  for (const [name, value] of filters.entries()) {
    if (!value) continue;
    params.set(name, name === "created_before" ? nextDay(value) : value);
  }
  api("/v1/scans?" + params).then((page) => {
    state.total = page.total;
    const body = $("history").tBodies[0];
    body.replaceChildren();
    for (const scan of page.items) {
      const row = body.insertRow();
      const p = scan.fake_probability;
      const cells = [scan.filename, scan.status, scan.verdict || "", p === null ? "" : percent(p), scan.model,
        new Date(scan.created_at).toLocaleString()];
      for (const value of cells) row.insertCell().textContent = value;
      const actions = row.insertCell();
      const view = document.createElement("button");
      view.type = "button";
      view.textContent = "View";
      view.setAttribute("aria-label", "View the result for " + scan.filename);
      view.addEventListener("click", () => api("/v1/scans/" + scan.id).then(showScan));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Delete";
      remove.setAttribute("aria-label", "Delete the scan of " + scan.filename);
      remove.addEventListener("click", () => api("/v1/scans/" + scan.id, { method: "DELETE" }).then(loadHistory));
      actions.append(view, " ", remove);
    }
    const last = Math.min(page.total, state.offset + page.items.length);
    $("page-info").textContent = page.total ? (state.offset + 1) + "-" + last + " of " + page.total : "No scans yet.";
    $("prev-page").disabled = state.offset === 0;
    $("next-page").disabled = page.next_offset === null;
  }).catch((err) => setStatus("Could not load the history: " + err.message));
}

function nextDay(date) {  // "To" includes the whole day
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// -- wiring ----------------------------------------------------------------------------------------
function useKey(key) {
  state.key = key.trim();
  sessionStorage.setItem("unmask-key", state.key);
  loadModels();
  loadHistory();
}

document.addEventListener("DOMContentLoaded", () => {
  $("verdict-heading").tabIndex = -1;
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); useKey($("api-key").value); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; loadHistory(); });
  $("prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadHistory(); });
  $("next-page").addEventListener("click", () => { state.offset += state.limit; loadHistory(); });
  $("file-input").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
  const zone = $("drop-zone");
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.remove("dragging"); });
  }
  zone.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]); });
  if (state.key) { $("api-key").value = state.key; useKey(state.key); }
});
