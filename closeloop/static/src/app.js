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
