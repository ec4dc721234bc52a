import htmx from "htmx.org";
import "@tabler/core/dist/js/tabler.min.js";

// Our CSP allows only nonce'd scripts and styles: htmx must neither eval nor
// inject its indicator <style>, and nothing here may use inline handlers.
htmx.config.includeIndicatorStyles = false;
htmx.config.allowEval = false;
htmx.config.allowScriptTags = false;
window.htmx = htmx;

// Copy buttons: <button data-copy-target="#id">, e.g. the API token shown once.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copyTarget);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = () => {
    button.classList.add("copied");
    const label = button.querySelector("[data-copy-label]");
    if (label && button.dataset.copiedText) label.textContent = button.dataset.copiedText;
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {
      source.select?.();
    });
  } else {
    source.select?.();
    try {
      document.execCommand("copy");
      done();
    } catch {
      /* the text stays selected for a manual copy */
    }
  }
});

// One click, one request: a form posted twice on a slow network would take the
// action twice (the second is refused by the version check, but confuses people).
// Disabled after the submit event so the clicked button's name/value is still sent.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.hasAttribute("hx-post") || form.dataset.noDisable !== undefined) return;
  const buttons = form.querySelectorAll("button[type=submit], button:not([type])");
  setTimeout(() => buttons.forEach((b) => b.setAttribute("disabled", "disabled")), 0);
});

// Fields that ask for confirmation: <form data-confirm="...">.
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
import "./sla-countdown.js";

// Top bar: one line at any desktop width and language. Each entry is drawn in the bar and, hidden,
// under "More"; from the end of the bar (never the first entry nor the active one), hide what does
// not fit and show it under "More" instead. Below md the toggler's collapsed menu lists everything.
function fitNav() {
  const bar = document.querySelector("[data-nav-bar]");
  const more = bar?.querySelector("[data-nav-more]");
  if (!bar || !more) return;
  const items = [...bar.querySelectorAll(":scope > li[data-nav-item]")];
  const inMore = new Map([...more.querySelectorAll("[data-nav-item]")].map((a) => [a.dataset.navItem, a]));
  items.forEach((li) => li.classList.remove("d-none"));
  inMore.forEach((a) => a.classList.add("d-none"));
  more.classList.add("d-none");
  more.querySelector(".nav-link")?.classList.remove("active");
  const toggler = document.querySelector(".navbar-toggler");
  if (toggler && getComputedStyle(toggler).display !== "none") return;
  const limit = () => bar.parentElement.getBoundingClientRect().right;
  const end = () => Math.max(...[...bar.children].map((li) => li.getBoundingClientRect().right));
  const hideable = items.slice(1).filter((li) => !li.classList.contains("active")).reverse();
  for (const li of hideable) {
    if (end() <= limit() + 0.5) break;
    li.classList.add("d-none");
    inMore.get(li.dataset.navItem)?.classList.remove("d-none");
    more.classList.remove("d-none");
  }
}
let fitNavFrame = 0;
const scheduleFitNav = () => {
  cancelAnimationFrame(fitNavFrame);
  fitNavFrame = requestAnimationFrame(fitNav);
};
fitNav();
window.addEventListener("resize", scheduleFitNav);
document.fonts?.ready.then(scheduleFitNav);
import "./picker.js";
