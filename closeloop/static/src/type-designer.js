// The form designer of a work order type (administration/templates/administration/_type_designer.html).
// Fields are reordered by dragging (SortableJS; the keyboard buttons do the same); each new order is
// sent to the designer's order URL, which saves it through workorders.types_services and answers the
// refreshed preview. Typing in the "add a field" form refreshes the preview with the unsaved draft.
// Strict CSP: no inline handlers; everything is wired here from data- attributes.
import Sortable from "sortablejs";

const root = document.getElementById("type-designer");

if (root) {
  const list = document.getElementById("designer-fields");
  const preview = document.getElementById("type-preview");
  const status = document.getElementById("designer-status");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  const showStatus = (text, bad) => {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("text-danger", !!bad);
    status.classList.toggle("text-success", !bad);
  };

  async function post(url, body, json) {
    const headers = { "X-CSRFToken": csrf() };
    if (json) headers["Content-Type"] = "application/json";
    const r = await fetch(url, { method: "POST", headers, body, credentials: "same-origin" });
    const html = await r.text();
    if (preview && html) preview.innerHTML = html;
    return r.ok;
  }

  async function saveOrder() {
    const keys = Array.from(list.querySelectorAll("[data-field-key]"))
      .filter((li) => li.dataset.active === "1")
      .map((li) => li.dataset.fieldKey);
    const ok = await post(root.dataset.orderUrl, JSON.stringify({ keys }), true).catch(() => false);
    showStatus(ok ? root.dataset.tSaved : root.dataset.tFailed, !ok);
  }

  if (list) {
    Sortable.create(list, {
      handle: "[data-drag-handle]",
      draggable: "[data-active='1']",
      animation: 150,
      ghostClass: "cl-drag-ghost",
      onEnd: (e) => {
        if (e.oldIndex !== e.newIndex) saveOrder();
      },
    });
    // Keyboard and touch alternative: move up / down.
    list.addEventListener("click", (e) => {
      const btn = e.target.closest("[data-move]");
      if (!btn) return;
      e.preventDefault();
      const li = btn.closest("[data-field-key]");
      if (btn.dataset.move === "up" && li.previousElementSibling) {
        li.parentNode.insertBefore(li, li.previousElementSibling);
      } else if (btn.dataset.move === "down" && li.nextElementSibling && li.nextElementSibling.dataset.active === "1") {
        li.parentNode.insertBefore(li.nextElementSibling, li);
      } else {
        return;
      }
      btn.focus();
      saveOrder();
    });
  }

  // The add form: show the inputs its kind uses, and preview the draft while typing.
  const addForm = document.getElementById("add-field-form");
  function showKindRows(form) {
    const kind = (form.querySelector("[data-designer-kind]") || {}).value;
    form.querySelectorAll("[data-for-kinds]").forEach((row) => {
      row.hidden = !row.dataset.forKinds.split(" ").includes(kind);
    });
  }
  document.querySelectorAll("form[data-field-form]").forEach((form) => {
    showKindRows(form);
    form.addEventListener("change", (e) => {
      if (e.target.matches("[data-designer-kind]")) showKindRows(form);
    });
  });
  if (addForm && preview) {
    let timer;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        post(root.dataset.previewUrl, new FormData(addForm), false).catch(() => {});
      }, 250);
    };
    addForm.addEventListener("input", refresh);
    addForm.addEventListener("change", refresh);
  }
}

// The main line editor (administration/templates/administration/_main_line.html): blocks are dragged
// between the line and the palette of blocks not used (SortableJS, one shared group; the blocks every
// line has stay in the line; a dropped block snaps to its place in the lifecycle's order); the "Add" /
// "Leave out" buttons do the same from the keyboard. Each change
// refreshes the preview from the main line preview URL (nothing is written); "Save" posts the blocks in
// their order (their hidden `stages` inputs: only those inside the form, i.e. in the line, are sent).
const lineRoot = document.getElementById("main-line-editor");

if (lineRoot) {
  const form = document.getElementById("main-line");
  const line = document.getElementById("line-blocks");
  const palette = document.getElementById("line-palette");
  const preview = document.getElementById("line-preview");
  const status = document.getElementById("line-status");
  const csrf = () => (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const order = ["intake", "dispatch", "accept", "travel", "execution", "confirm", "invoice", "close"];

  // The lifecycle fixes the order of the stages: a dropped block snaps to its place (the server
  // checks the order too, 422 naming the block).
  const snap = (list) => {
    const blocks = Array.from(list.children).filter((b) => b.dataset.stage);
    const sorted = [...blocks].sort((a, b) => order.indexOf(a.dataset.stage) - order.indexOf(b.dataset.stage));
    if (sorted.some((b, i) => b !== blocks[i])) sorted.forEach((b) => list.appendChild(b));
  };

  let timer;
  function changed() {
    snap(line);
    snap(palette);
    if (status) {
      status.textContent = lineRoot.dataset.tChanged;
      status.classList.remove("text-danger");
      status.classList.add("text-warning");
    }
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const r = await fetch(lineRoot.dataset.previewUrl, {
          method: "POST", headers: { "X-CSRFToken": csrf() }, body: new FormData(form), credentials: "same-origin",
        });
        preview.innerHTML = await r.text();
      } catch (e) {
        if (status) {
          status.textContent = lineRoot.dataset.tFailed;
          status.classList.add("text-danger");
        }
      }
    }, 150);
  }

  const group = "main-line";
  Sortable.create(line, {
    group: { name: group, pull: (to, from, el) => el.dataset.mandatory !== "1", put: true },
    handle: "[data-drag-handle]", animation: 150, ghostClass: "cl-drag-ghost",
    onSort: changed,
  });
  Sortable.create(palette, {
    group: { name: group, pull: true, put: (to, from, el) => el.dataset.mandatory !== "1" },
    handle: "[data-drag-handle]", animation: 150, ghostClass: "cl-drag-ghost", sort: false,
    onSort: changed,
  });

  // Keyboard and touch alternative: "Add" puts the block at its place in the lifecycle's order.
  lineRoot.addEventListener("click", (e) => {
    const btn = e.target.closest("[data-line-move]");
    if (!btn) return;
    e.preventDefault();
    const block = btn.closest("[data-stage]");
    if (btn.dataset.lineMove === "out") {
      palette.appendChild(block);
    } else {
      const rank = order.indexOf(block.dataset.stage);
      const after = Array.from(line.children).find((b) => order.indexOf(b.dataset.stage) > rank);
      line.insertBefore(block, after || null);
    }
    const next = block.querySelector(btn.dataset.lineMove === "out" ? "[data-line-move=in]" : "[data-line-move=out]");
    if (next) next.focus();
    changed();
  });
  lineRoot.dataset.ready = "1"; // browser tests wait for this before dragging
  const steps = document.getElementById("line-steps");
  if (steps) steps.addEventListener("input", () => {
    if (status) status.textContent = lineRoot.dataset.tChanged;
  });
}
