// The engineer's phone (/m/): actions go through an ordered outbox kept in IndexedDB, each
// with its own Idempotency-Key, so a flaky network neither loses nor doubles anything. A
// refused action (409 conflict, 412, 422...) is shown and kept on screen until dismissed:
// never silently dropped. No inline scripts or handlers (strict CSP).

import jsQR from "jsqr";

const $ = (sel, root = document) => root.querySelector(sel);
const i18n = () => $("#i18n")?.dataset || {};
const csrf = () => $("input[name=csrfmiddlewaretoken]")?.value || "";
const FAILED_KEY = "closeloop-m-failed";

// ---- the queue (IndexedDB, falling back to memory) ------------------------------------
let memQueue = [];
let dbPromise = null;
function db() {
  if (!("indexedDB" in window)) return Promise.resolve(null);
  if (!dbPromise) {
    dbPromise = new Promise((resolve) => {
      const req = indexedDB.open("closeloop-m", 1);
      req.onupgradeneeded = () => req.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
    });
  }
  return dbPromise;
}
function tx(mode, fn) {
  return db().then(
    (d) =>
      new Promise((resolve, reject) => {
        if (!d) {
          resolve(fn(null));
          return;
        }
        const t = d.transaction("queue", mode);
        const store = t.objectStore("queue");
        let result;
        const r = fn(store);
        if (r && "onsuccess" in r) r.onsuccess = () => (result = r.result);
        t.oncomplete = () => resolve(result);
        t.onerror = () => reject(t.error);
      }),
  );
}
const qAdd = (item) => tx("readwrite", (s) => (s ? s.add(item) : memQueue.push({ ...item, seq: Date.now() + Math.random() })));
const qAll = () => tx("readonly", (s) => (s ? s.getAll() : memQueue.slice()));
const qDel = (seq) => tx("readwrite", (s) => (s ? s.delete(seq) : (memQueue = memQueue.filter((i) => i.seq !== seq))));

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// ---- failures shown until dismissed -----------------------------------------------------
function failures() {
  try {
    return JSON.parse(localStorage.getItem(FAILED_KEY) || "[]");
  } catch {
    return [];
  }
}
function saveFailures(list) {
  localStorage.setItem(FAILED_KEY, JSON.stringify(list.slice(-20)));
  renderFailures();
}
function renderFailures() {
  const box = $("#errors");
  if (!box) return;
  box.replaceChildren();
  failures().forEach((f, idx) => {
    const div = document.createElement("div");
    div.className = "alert alert-danger d-flex align-items-start gap-2";
    div.dataset.testid = "action-error";
    const text = document.createElement("div");
    text.className = "flex-fill";
    text.textContent = `${i18n().conflict || "Not applied"} (${f.status}) ${f.label}: ${f.detail}`;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "btn btn-sm btn-outline-danger";
    btn.textContent = i18n().dismiss || "Dismiss";
    btn.addEventListener("click", () => saveFailures(failures().filter((_x, j) => j !== idx)));
    div.append(text, btn);
    box.append(div);
  });
}

// ---- sending, in order ------------------------------------------------------------------
let sending = false;
let reloadWhenDone = false;
// Handlers still preparing an action (reading GPS, a file): the page must not reload under them.
let preparing = 0;

function maybeReload(left) {
  if (left === 0 && reloadWhenDone && preparing === 0 && !sending) {
    reloadWhenDone = false;
    window.location.reload();
  }
}

async function status(n) {
  const badge = $("#queue-badge");
  const net = $("#net-status");
  if (badge) {
    badge.hidden = n === 0;
    badge.textContent = String(n);
  }
  if (net) {
    net.hidden = n === 0;
    const tmpl = navigator.onLine ? i18n().sending : i18n().offline;
    net.textContent = (tmpl || "{n}").replace("{n}", String(n));
  }
}

// ---- the offline banner -----------------------------------------------------------------
// Shown while the browser says it is offline, or after a request failed to reach the server
// (the radio says "online" but nothing gets through), until a request gets through again.
let unreachable = false;
function showNet() {
  const banner = $("#offline-banner");
  if (banner) banner.hidden = navigator.onLine && !unreachable;
}
function reached(ok) {
  unreachable = !ok;
  showNet();
}

function buildRequest(item) {
  const headers = { "X-CSRFToken": csrf(), Accept: "application/json" };
  let body;
  if (item.form) {
    // Photos: the server stores an upload once per content (a retry returns the same photo);
    // a multipart body is too large for the Idempotency-Key record.
    body = new FormData();
    for (const [k, v] of Object.entries(item.form.fields || {})) if (v !== null && v !== undefined) body.append(k, v);
    if (item.form.file) body.append("file", item.form.file, item.form.filename || "photo.jpg");
  } else {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = item.key;
    body = JSON.stringify(item.json || {});
  }
  return fetch(item.url, { method: item.method || "POST", headers, body, credentials: "same-origin" });
}

async function flush() {
  if (sending) return;
  sending = true;
  try {
    // Always the oldest first; items queued while sending are picked up in this same pass.
    for (;;) {
      const items = await qAll();
      status(items.length);
      const item = items[0];
      if (!item) break;
      let resp;
      try {
        resp = await buildRequest(item);
      } catch {
        reached(false);
        break; // offline: keep it, try again later, in the same order
      }
      reached(true);
      let detail = "";
      let body = null;
      try {
        body = await resp.clone().json();
        detail = body.detail || body.title || "";
      } catch {
        /* not JSON */
      }
      const inProgress = resp.status === 409 && body && body.title === "Request in progress";
      if (resp.status >= 500 || resp.status === 429 || inProgress) break;
      await qDel(item.seq);
      if (resp.ok) {
        reloadWhenDone = true;
      } else {
        saveFailures([...failures(), { status: resp.status, label: item.label, detail, at: new Date().toISOString() }]);
      }
    }
  } finally {
    sending = false;
  }
  const left = (await qAll()).length;
  status(left);
  maybeReload(left);
}

async function enqueue(item) {
  await qAdd({ ...item, key: uuid(), queuedAt: new Date().toISOString() });
  await flush();
}

// Wrap a handler that awaits something (GPS, a file) before queueing: no reload meanwhile.
function preparingWhile(fn) {
  return async (...args) => {
    preparing += 1;
    try {
      await fn(...args);
    } finally {
      preparing -= 1;
      if (preparing === 0) flush();
    }
  };
}

// ---- GPS -----------------------------------------------------------------------------------
function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: 8000, maximumAge: 30000 },
    );
  });
}

// ---- signature pad ----------------------------------------------------------------------
function signaturePad(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.strokeStyle = "#111";
  let drawing = false;
  let strokes = 0;
  const pt = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    strokes += 1;
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...pt(e));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    ctx.lineTo(...pt(e));
    ctx.stroke();
  });
  const end = () => (drawing = false);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return {
    clear() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      strokes = 0;
    },
    empty: () => strokes === 0,
    png: () => canvas.toDataURL("image/png"),
  };
}

// ---- QR scanning: the camera in the browser. BarcodeDetector where the browser has one,
// else jsQR (npm, bundled) on video frames; typing the code is the fallback. ----------------
async function startScan(video, onCode) {
  if (!navigator.mediaDevices?.getUserMedia) {
    saveFailures([...failures(), { status: "—", label: "QR", detail: i18n().noCamera || "", at: "" }]);
    return;
  }
  let detector = null;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      detector = null;
    }
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let done = false;
  const stop = () => {
    done = true;
    stream.getTracks().forEach((t) => t.stop());
    video.hidden = true;
  };
  const decode = async () => {
    if (detector) {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : null;
    }
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    canvas.width = w;
    canvas.height = h;
    ctx.drawImage(video, 0, 0, w, h);
    const img = ctx.getImageData(0, 0, w, h);
    const found = jsQR(img.data, w, h, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  };
  const tick = async () => {
    if (done) return;
    let text = null;
    try {
      text = await decode();
    } catch {
      /* frame not ready */
    }
    if (text) {
      stop();
      onCode(text);
      return;
    }
    setTimeout(tick, 200);
  };
  tick();
}

// ---- the work order page ------------------------------------------------------------------
function workOrderPage(root) {
  const code = root.dataset.code;
  const base = `/api/v1/work-orders/${encodeURIComponent(code)}`;

  root.querySelectorAll("[data-action]").forEach((btn) =>
    btn.addEventListener("click", () => {
      btn.disabled = true;
      enqueue({ url: `${base}/actions/${btn.dataset.action}`, json: {}, label: `${code} ${btn.textContent.trim()}` });
    }),
  );

  const checkin = $("#checkin-form", root);
  if (checkin) {
    const submit = preparingWhile(async (text) => {
      const pos = await position();
      enqueue({
        url: `${base}/checkins`,
        label: `${code} QR`,
        json: { qr: text.trim(), device_time: new Date().toISOString(), ...(pos || {}) },
      });
    });
    checkin.addEventListener("submit", (e) => {
      e.preventDefault();
      submit($("#qr-input", root).value);
    });
    $("#scan-start", root)?.addEventListener("click", () =>
      startScan($("#scan-video", root), (text) => {
        $("#qr-input", root).value = text;
        submit(text);
      }).catch(() => undefined),
    );
  }

  root.querySelectorAll("[data-step]").forEach((btn) =>
    btn.addEventListener("click", () => {
      const index = Number(btn.dataset.step);
      const follow = root.querySelector(`[data-followup="${index}"]`);
      const result = btn.dataset.result;
      enqueue({
        url: `${base}/steps`,
        label: `${code} #${index + 1}`,
        json: { index, result, followup: result === "fail" && !!follow?.checked },
      });
    }),
  );

  // The type's fields (fieldwork/mobile/_details.html): saved as the work order's custom values.
  $("#details-form", root)?.addEventListener("submit", (e) => {
    e.preventDefault();
    const custom = {};
    e.target.querySelectorAll("[name]").forEach((el) => {
      if (el.disabled) return;
      if (el.dataset.kind === "boolean") custom[el.name] = el.value === "" ? "" : el.value === "true";
      else custom[el.name] = el.value;
    });
    enqueue({ url: base, method: "PATCH", label: `${code} details`, json: { custom } });
  });

  $("#closure-form", root)?.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = {};
    e.target.querySelectorAll("[name]").forEach((el) => {
      if (el.value === "") return;
      data[el.name] = el.dataset.kind === "boolean" ? el.value === "true" : el.value;
    });
    enqueue({ url: `${base}/closure-form`, label: `${code} form`, json: { data } });
  });

  const photoForm = $("#photo-form", root);
  photoForm?.addEventListener("submit", (e) => e.preventDefault());
  photoForm?.addEventListener("submit", preparingWhile(async (e) => {
    const file = e.target.file.files[0];
    if (!file) return;
    const pos = await position();
    enqueue({
      url: `${base}/photos`,
      label: `${code} photo`,
      form: {
        fields: { kind: e.target.kind.value, latitude: pos?.latitude, longitude: pos?.longitude },
        file,
        filename: file.name,
      },
    });
  }));

  $("#part-form", root)?.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target;
    enqueue({
      url: `${base}/parts`,
      label: `${code} ${f.name.value}`,
      json: { name: f.name.value, part_number: f.part_number.value, quantity: f.quantity.value },
    });
  });

  $("#note-form", root)?.addEventListener("submit", (e) => {
    e.preventDefault();
    enqueue({ url: `${base}/comments`, label: `${code} note`, json: { body: e.target.body.value } });
  });

  $("#complete-form", root)?.addEventListener("submit", (e) => {
    e.preventDefault();
    enqueue({ url: `${base}/actions/complete`, label: `${code} complete`, json: { resolution: e.target.resolution.value } });
  });

  const canvas = $("#sign-pad", root);
  if (canvas) {
    const pad = signaturePad(canvas);
    $("#sign-clear", root).addEventListener("click", () => pad.clear());
    $("#sign-submit", root).addEventListener("click", () => {
      const name = $("#signer-name", root).value.trim();
      if (!name || pad.empty()) return;
      enqueue({
        url: `${base}/signatures`,
        label: `${code} signature`,
        json: { signer_name: name, image_png: pad.png(), version: Number(root.dataset.version) },
      });
    });
  }
}

// ---- the customer's signing page (link) ----------------------------------------------------
function signLinkPage(card) {
  const canvas = $("#sign-pad");
  const pad = signaturePad(canvas);
  $("#sign-clear").addEventListener("click", () => pad.clear());
  $("#sign-submit").addEventListener("click", async () => {
    const name = $("#signer-name").value.trim();
    if (!name || pad.empty()) return;
    const resp = await fetch(card.dataset.post, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ signer_name: name, image_png: pad.png(), version: Number(card.dataset.version) }),
    });
    if (resp.ok) {
      $("#sign-done").hidden = false;
      $("#sign-submit").disabled = true;
    } else {
      let detail = "";
      try {
        detail = (await resp.json()).detail || "";
      } catch {
        /* not JSON */
      }
      saveFailures([...failures(), { status: resp.status, label: "", detail }]);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  renderFailures();
  const sw = document.body.dataset.sw;
  if (sw && "serviceWorker" in navigator) navigator.serviceWorker.register(sw, { scope: "/m/" }).catch(() => undefined);
  const wo = $("#wo");
  if (wo) workOrderPage(wo);
  const link = $("#sign-link");
  if (link) signLinkPage(link);
  document.body.dataset.ready = "1";
  showNet();
  window.addEventListener("offline", showNet);
  window.addEventListener("online", () => {
    unreachable = false;
    showNet();
  });
  flush();
  window.addEventListener("online", flush);
  setInterval(flush, 15000);
});

window.closeloopMobile = { flush, queue: qAll };
