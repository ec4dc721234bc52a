// Customer portal: a signature pad (canvas -> PNG data URL in a hidden input).
// No inline handlers (strict CSP); the canvas says which input it fills.
function setupPad(canvas) {
  const input = document.getElementById(canvas.dataset.signatureFor);
  if (!input) return;
  const ctx = canvas.getContext("2d");
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.strokeStyle = "#1d273b";
  let drawing = false;
  let drawn = false;
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    const [x, y] = pos(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
    e.preventDefault();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = pos(e);
    ctx.lineTo(x, y);
    ctx.stroke();
    drawn = true;
    e.preventDefault();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    if (drawn) input.value = canvas.toDataURL("image/png");
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.style.touchAction = "none";
  const clear = document.querySelector(`[data-signature-clear="${canvas.dataset.signatureFor}"]`);
  if (clear) {
    clear.addEventListener("click", () => {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      input.value = "";
      drawn = false;
    });
  }
}

function init() {
  document.querySelectorAll("canvas[data-signature-for]").forEach(setupPad);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();

// Tracking page: the status block refreshes itself (htmx polling). When the work order
// enters or leaves "technically complete", reload so the confirm/reopen forms follow.
let shownStatus = null;
document.addEventListener("htmx:afterSwap", () => {
  const el = document.getElementById("portal-status");
  if (!el) return;
  const status = el.dataset.status;
  if (shownStatus === null) shownStatus = document.body.dataset.initialStatus || status;
  if (status !== shownStatus && (status === "resolved" || shownStatus === "resolved")) {
    window.location.reload();
  }
  shownStatus = status;
});
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("portal-status");
  if (el) shownStatus = el.dataset.status;
});
