// Staff console: kanban drag-and-drop, live updates, bulk selection, keyboard shortcuts.
// Strict CSP: no inline handlers, everything wired here from data- attributes.

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// Inputs each action needs that the board must ask for (the rest are optional).
const NEEDS = {
  assign: ["assignee"],
  complete: ["resolution"],
  invoice: ["invoice_number"],
  cancel: ["reason"],
  reopen: ["reason"],
};

function parseMoves(card) {
  const out = {};
  (card.dataset.moves || "").split(" ").filter(Boolean).forEach((pair) => {
    const [state, action] = pair.split("=");
    out[state] = action;
  });
  return out;
}

// ---- board: drag a card to a column where an action is allowed ------------------------------------
let dragged = null;

function setupBoard(board) {
  board.addEventListener("dragstart", (e) => {
    const card = e.target.closest("[data-testid=card]");
    if (!card) return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.code);
    const moves = parseMoves(card);
    $$("[data-drop]", board).forEach((col) => {
      const ok = col.dataset.drop in moves;
      col.classList.toggle("cl-drop-ok", ok);
      col.classList.toggle("cl-drop-forbidden", !ok && col.dataset.drop !== card.dataset.status);
    });
  });
  board.addEventListener("dragend", () => {
    dragged = null;
    $$("[data-drop]", board).forEach((c) => c.classList.remove("cl-drop-ok", "cl-drop-forbidden", "cl-drop-over"));
  });
  board.addEventListener("dragover", (e) => {
    const col = e.target.closest("[data-drop]");
    if (!col || !dragged || !(col.dataset.drop in parseMoves(dragged))) return; // not droppable
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    col.classList.add("cl-drop-over");
  });
  board.addEventListener("dragleave", (e) => {
    const col = e.target.closest("[data-drop]");
    if (col) col.classList.remove("cl-drop-over");
  });
  board.addEventListener("drop", (e) => {
    const col = e.target.closest("[data-drop]");
    if (!col || !dragged) return;
    const move = parseMoves(dragged)[col.dataset.drop];
    if (!move) return;
    e.preventDefault();
    startMove(dragged, move, col.dataset.drop);
  });
}

function startMove(card, move, targetState) {
  const [action, preset] = move.split(":");
  const dialog = $("#move-dialog");
  const form = $("#move-form");
  if (!dialog || !form) return;
  form.action = card.dataset.actionUrl.replace("ACTION", action);
  form.elements.version.value = card.dataset.version;
  const needs = NEEDS[action] || [];
  $$("[data-field]", form).forEach((wrap) => {
    const need = needs.includes(wrap.dataset.field);
    wrap.hidden = !need;
    $$("input, select, textarea", wrap).forEach((el) => {
      el.disabled = !need;
      el.required = need;
    });
  });
  let extra = $("input[name=reason][type=hidden]", form);
  if (action === "wait") {
    if (!extra) {
      extra = document.createElement("input");
      extra.type = "hidden";
      extra.name = "reason";
      form.appendChild(extra);
    }
    extra.value = preset;
    extra.disabled = false;
  } else if (extra) {
    extra.disabled = true;
  }
  const col = $(`[data-testid=column][data-state="${targetState}"] strong`);
  $("[data-move-title]", form).textContent = `${card.dataset.code} → ${col ? col.textContent : targetState}`;
  if (!needs.length) {
    form.requestSubmit();
    return;
  }
  dialog.showModal();
  const first = $("[data-field]:not([hidden]) select, [data-field]:not([hidden]) input, [data-field]:not([hidden]) textarea", form);
  if (first) first.focus();
}

document.addEventListener("click", (e) => {
  if (e.target.closest("[data-move-cancel]")) $("#move-dialog")?.close();
  if (e.target.closest("[data-shortcuts-help]")) $("#cl-shortcuts")?.showModal();
});

// ---- live updates: poll a cheap endpoint (204 when nothing changed) ---------------------------------
function setupLive(poller) {
  const tick = async () => {
    if (document.hidden) return;
    // The filters are those of the page as it is now (the list's filter form pushes them to the URL).
    const params = new URLSearchParams(location.search);
    params.delete("cursor");
    params.set("since", poller.dataset.since);
    const url = `${poller.dataset.liveUrl}&${params.toString()}`;
    let resp;
    try {
      resp = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
    } catch {
      return; // offline for a moment: next tick
    }
    if (resp.status !== 200) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const since = doc.querySelector("[data-since]");
    if (since) poller.dataset.since = since.dataset.since;
    doc.querySelectorAll("template[data-live]").forEach((tpl) => applyLive(tpl));
    document.dispatchEvent(new Event("htmx:afterSwap")); // SLA countdowns refresh
  };
  setInterval(tick, Number(poller.dataset.interval || 3000));
}

function adjustCount(col, delta) {
  const badge = col?.closest("[data-testid=column]")?.querySelector("[data-testid=column-count]");
  // A capped count ("1000+", data-capped) stays as it is.
  if (badge && !("capped" in badge.dataset)) badge.textContent = String(Math.max(0, Number(badge.textContent) + delta));
}

function applyLive(tpl) {
  const code = tpl.dataset.code;
  const match = tpl.dataset.match === "1";
  const fresh = tpl.content.querySelector("[data-code]");
  if (!fresh) return;
  if ($("#board")) {
    const old = document.getElementById(`card-${code}`);
    if (old) {
      adjustCount(old.parentElement, -1);
      old.remove();
    }
    const col = document.getElementById(`col-${tpl.dataset.status}`);
    if (match && col) {
      col.prepend(document.importNode(fresh, true));
      adjustCount(col, +1);
      document.getElementById(`card-${code}`)?.classList.add("cl-flash");
    }
    return;
  }
  const row = document.getElementById(`wo-row-${code}`);
  if (row) {
    if (match) {
      const checked = row.querySelector("input[name=codes]")?.checked;
      const node = document.importNode(fresh, true);
      row.replaceWith(node);
      const box = node.querySelector("input[name=codes]");
      if (box) box.checked = !!checked;
      node.classList.add("cl-flash");
    } else {
      row.remove();
    }
  } else if (match && !new URLSearchParams(location.search).get("cursor")) {
    const tbody = $("#wo-tbody");
    if (tbody) {
      const node = document.importNode(fresh, true);
      tbody.prepend(node);
      node.classList.add("cl-flash");
    }
  }
  updateSelected();
}

// ---- bulk selection ------------------------------------------------------------------------------------
function updateSelected() {
  const count = $("[data-selected-count]");
  if (count) count.textContent = String($$("input[name=codes]:checked").length);
}

document.addEventListener("change", (e) => {
  const all = e.target.closest("[data-select-all]");
  if (all) $$("input[name=codes]").forEach((b) => (b.checked = all.checked));
  if (e.target.closest("[data-bulk-action]")) {
    const action = e.target.value;
    $$("[data-bulk-field]").forEach((el) => {
      const on = el.dataset.bulkField === action;
      el.hidden = !on;
      el.disabled = !on;
    });
  }
  updateSelected();
});
document.addEventListener("htmx:afterSwap", updateSelected);

// ---- keyboard shortcuts -----------------------------------------------------------------------------------
let pendingG = false;
let cursor = -1;

function items() {
  return $$("#board [data-testid=card], #wo-tbody [data-testid=wo-row], [data-testid=lookup-wo]");
}

function focusItem(i) {
  const list = items();
  if (!list.length) return;
  cursor = Math.max(0, Math.min(list.length - 1, i));
  list.forEach((el) => el.classList.remove("cl-cursor"));
  const el = list[cursor];
  el.classList.add("cl-cursor");
  if (el.tabIndex < 0 || el.tagName === "A" || el.tabIndex >= 0) el.focus({ preventScroll: false });
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  const typing = t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  if (typing) {
    if (e.key === "Escape") t.blur();
    return;
  }
  if (pendingG) {
    pendingG = false;
    const to = { l: "/work-orders/", b: "/board/", d: "/dashboard/" }[e.key];
    if (to) {
      e.preventDefault();
      location.assign(to);
    }
    return;
  }
  switch (e.key) {
    case "/": {
      // the page's one search box: the list's filter, the lookup page's, else the top bar's
      const box = $("#f-q") || $("#lookup-q") || $("#cl-lookup");
      if (box) {
        e.preventDefault();
        box.focus();
        box.select();
      }
      break;
    }
    case "g":
      pendingG = true;
      setTimeout(() => (pendingG = false), 1200);
      break;
    case "j":
      e.preventDefault();
      focusItem(cursor + 1);
      break;
    case "k":
      e.preventDefault();
      focusItem(cursor - 1);
      break;
    case "Enter": {
      const el = items()[cursor];
      const link = el && (el.matches("a") ? el : el.querySelector("a[href]"));
      if (link && document.activeElement === el) {
        e.preventDefault();
        location.assign(link.href);
      }
      break;
    }
    case "x": {
      const el = items()[cursor];
      const box = el?.querySelector("input[name=codes]");
      if (box) {
        box.checked = !box.checked;
        updateSelected();
      }
      break;
    }
    case "?":
      $("#cl-shortcuts")?.showModal();
      break;
    default:
  }
});

function init() {
  const board = $("#board");
  if (board) setupBoard(board);
  const poller = $("#live-poller");
  if (poller) setupLive(poller);
  updateSelected();
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
