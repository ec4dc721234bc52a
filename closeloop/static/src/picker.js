// Search-as-you-type pickers: <input data-picker-url="/pick/customers" name="customer">.
// The input keeps its plain value (a code, a serial, a username), so the form works without
// JavaScript; this island only suggests matches from the picker endpoint (administration.views.pick)
// as the user types (two Chinese characters are enough) and fills in the chosen value.
// `data-picker-with="site:customer"` sends the value of another input (here: the customer) along.

const DELAY_MS = 150;
let serial = 0;

function setup(input) {
  if (input.dataset.pickerReady) return;
  input.dataset.pickerReady = "1";
  const id = `cl-picker-${++serial}`;
  const wrap = document.createElement("div");
  wrap.className = "position-relative";
  input.parentNode.insertBefore(wrap, input);
  wrap.appendChild(input);
  const menu = document.createElement("div");
  menu.className = "dropdown-menu w-100 cl-picker-menu";
  menu.id = id;
  menu.setAttribute("role", "listbox");
  wrap.appendChild(menu);
  const chosen = document.createElement("small");
  chosen.className = "form-hint cl-picker-chosen";
  chosen.setAttribute("aria-live", "polite");
  wrap.appendChild(chosen);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", id);
  input.setAttribute("autocomplete", "off");

  let timer = null;
  let items = [];
  let active = -1;
  let asked = "";

  const close = () => {
    menu.classList.remove("show");
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const highlight = (i) => {
    active = i;
    [...menu.children].forEach((el, j) => el.classList.toggle("active", j === i));
    if (i >= 0) input.setAttribute("aria-activedescendant", `${id}-${i}`);
  };
  const pick = (i) => {
    const item = items[i];
    if (!item) return;
    input.value = item.value;
    asked = item.value;
    chosen.textContent = item.label + (item.detail && item.detail !== item.value ? ` · ${item.detail}` : "");
    close();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const render = () => {
    menu.replaceChildren();
    items.forEach((item, i) => {
      const el = document.createElement("button");
      el.type = "button";
      el.className = "dropdown-item d-flex justify-content-between gap-2";
      el.id = `${id}-${i}`;
      el.setAttribute("role", "option");
      el.tabIndex = -1;
      const label = document.createElement("span");
      label.textContent = item.label;
      const detail = document.createElement("span");
      detail.className = "text-secondary small";
      detail.textContent = item.detail || "";
      el.append(label, detail);
      el.addEventListener("mousedown", (e) => {
        e.preventDefault(); // keep the focus in the input
        pick(i);
      });
      menu.appendChild(el);
    });
    if (!items.length) {
      const empty = document.createElement("span");
      empty.className = "dropdown-item-text text-secondary";
      empty.textContent = input.dataset.pickerEmpty || "—";
      menu.appendChild(empty);
    }
    menu.classList.add("show");
    input.setAttribute("aria-expanded", "true");
    highlight(items.length ? 0 : -1);
  };
  const search = async () => {
    const q = input.value.trim();
    if (!q || q === asked) return;
    asked = q;
    const url = new URL(input.dataset.pickerUrl, window.location.href);
    url.searchParams.set("q", q);
    for (const pair of (input.dataset.pickerWith || "").split(",").filter(Boolean)) {
      const [param, name] = pair.split(":");
      const other = input.form?.elements.namedItem(name);
      if (other?.value) url.searchParams.set(param, other.value);
    }
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      if (input.value.trim() !== q) return; // typed on meanwhile
      items = data.results || [];
      render();
    } catch {
      /* offline: the plain input still works */
    }
  };

  input.addEventListener("input", () => {
    chosen.textContent = "";
    clearTimeout(timer);
    if (!input.value.trim()) {
      asked = "";
      close();
      return;
    }
    timer = setTimeout(search, DELAY_MS);
  });
  // IME: Chinese is composed first; search once the characters are committed.
  input.addEventListener("compositionend", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DELAY_MS);
  });
  input.addEventListener("keydown", (e) => {
    if (!menu.classList.contains("show")) return;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      highlight(Math.min(active + 1, items.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      highlight(Math.max(active - 1, 0));
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      pick(active);
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
}

function scan(root) {
  root.querySelectorAll?.("input[data-picker-url]").forEach(setup);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => scan(document));
} else {
  scan(document);
}
document.addEventListener("htmx:afterSwap", (e) => scan(e.target));
