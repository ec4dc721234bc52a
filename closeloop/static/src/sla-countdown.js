// SLA countdowns: <span data-countdown="ISO due time" data-left-text data-overdue-text>.
// Text only (no inline styles: strict CSP); refreshed every second and after htmx swaps.
function fmt(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return (d ? `${d}d ` : "") + `${pad(h)}:${pad(m)}:${pad(s % 60)}`;
}

function tick() {
  const now = Date.now();
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const left = (Date.parse(el.dataset.countdown) - now) / 1000;
    if (Number.isNaN(left)) return;
    el.textContent = left >= 0 ? `${fmt(left)} ${el.dataset.leftText || ""}` : `${el.dataset.overdueText || ""} ${fmt(left)}`;
    el.classList.toggle("text-danger", left < 0);
    el.classList.toggle("fw-bold", left < 0);
  });
}

tick();
setInterval(tick, 1000);
document.addEventListener("htmx:afterSwap", tick);
