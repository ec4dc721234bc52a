// The approval flow designer (closeloop/approvals/templates/approvals/designer.html).
// A small hand-written island over the DOM: the flow tree (see approvals/tree.py) is
// edited in memory, rendered as nested cards, and sent to the approvals API
// (/api/v1/approval-flows/{id}/draft | validate | preview | publish) with the session
// cookie and the CSRF token. No inline scripts, styles or handlers (strict CSP).

import Sortable from "sortablejs";

import { h } from "./lib/dom.js";

const root = document.getElementById("designer");
const configEl = document.getElementById("designer-config");

if (root && configEl) {
  const config = JSON.parse(configEl.textContent);
  const t = (key) => root.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
  let tree = config.tree && Array.isArray(config.tree.nodes) ? config.tree : { settings: {}, auto_approve: [], nodes: [] };
  const treeEl = document.getElementById("designer-tree");
  const statusEl = document.getElementById("d-status");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  const newId = (prefix) => `${prefix}-${Math.random().toString(36).slice(2, 7)}`;

  function select(options, value, onchange, attrs = {}) {
    const el = h("select", { class: "form-select form-select-sm", ...attrs, onchange: (e) => onchange(e.target.value) });
    for (const [v, label] of options) {
      el.append(h("option", { value: v, selected: String(v) === String(value) }, label));
    }
    return el;
  }

  function labelled(text, control) {
    return h("label", { class: "d-block mb-2 small" }, h("span", { class: "text-secondary d-block" }, text), control);
  }

  async function api(method, path, body, base = config.api) {
    const resp = await fetch(base + path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await resp.json();
    } catch {
      /* empty body */
    }
    return { ok: resp.ok, status: resp.status, data };
  }

  // ---- nodes -------------------------------------------------------------------------------------

  function makeNode(type) {
    if (type === "approver") return { id: newId("a"), type, name: t("approver"), approvers: { kind: "supervisor", levels: 1 }, mode: "any" };
    if (type === "cc") return { id: newId("cc"), type, name: t("cc"), approvers: { kind: "role", role: "manager" } };
    if (type === "condition")
      return {
        id: newId("c"), type, name: t("condition"),
        branches: [
          { id: newId("b"), name: t("branch") + " 1", condition: "amount < 500", nodes: [] },
          { id: newId("b"), name: t("default"), default: true, nodes: [] },
        ],
      };
    return {
      id: newId("p"), type: "parallel", name: t("parallel"),
      branches: [
        { id: newId("b"), name: t("branch") + " 1", nodes: [] },
        { id: newId("b"), name: t("branch") + " 2", nodes: [] },
      ],
    };
  }

  function whoEditor(node) {
    const spec = node.approvers || (node.approvers = { kind: "role", role: "manager" });
    const box = h("div", { class: "row g-2" });
    const kind = select(
      [["user", t("user")], ["role", t("role")], ["supervisor", t("supervisor")], ["department_head", t("head")]],
      spec.kind,
      (v) => {
        node.approvers = v === "user" ? { kind: v, users: [] } : v === "role" ? { kind: v, role: "manager" }
          : v === "supervisor" ? { kind: v, levels: 1 } : { kind: v };
        render();
      },
      { "data-testid": "who-kind" },
    );
    box.append(h("div", { class: "col-12 col-md-5" }, labelled(node.type === "cc" ? t("whoCc") : t("who"), kind)));
    let detail = null;
    if (spec.kind === "user") {
      detail = h("select", {
        class: "form-select form-select-sm", multiple: true, "data-testid": "who-users",
        onchange: (e) => { spec.users = [...e.target.selectedOptions].map((o) => o.value); },
      });
      for (const [u, name] of config.users) {
        detail.append(h("option", { value: u, selected: (spec.users || []).includes(u) }, `${name} (${u})`));
      }
      detail = labelled(t("user"), detail);
    } else if (spec.kind === "role") {
      detail = labelled(t("role"), select(config.roles, spec.role, (v) => { spec.role = v; }, { "data-testid": "who-role" }));
    } else if (spec.kind === "supervisor") {
      detail = labelled(t("levels"), h("input", {
        type: "number", min: 1, max: 10, class: "form-control form-control-sm", value: spec.levels || 1,
        "data-testid": "who-levels", onchange: (e) => { spec.levels = parseInt(e.target.value, 10) || 1; },
      }));
    } else {
      detail = labelled(t("team"), select([["", "—"], ...config.teams], spec.team || "", (v) => {
        if (v) spec.team = v; else delete spec.team;
      }));
    }
    box.append(h("div", { class: "col-12 col-md-7" }, detail));
    return box;
  }

  function approverExtras(node) {
    const row = h("div", { class: "row g-2" });
    row.append(h("div", { class: "col-6 col-md-3" }, labelled(t("mode"), select(
      [["any", t("any")], ["all", t("all")], ["percent", t("percent")]], node.mode || "any",
      (v) => { node.mode = v; if (v === "percent" && !node.percent) node.percent = 60; render(); },
      { "data-testid": "mode" },
    ))));
    if (node.mode === "percent") {
      row.append(h("div", { class: "col-6 col-md-2" }, labelled("%", h("input", {
        type: "number", min: 1, max: 100, class: "form-control form-control-sm", value: node.percent || 60,
        onchange: (e) => { node.percent = parseInt(e.target.value, 10) || 0; },
      }))));
    }
    const timer = node.timer || {};
    row.append(h("div", { class: "col-6 col-md-3" }, labelled(t("timer"), h("input", {
      type: "number", min: 0, step: "0.5", class: "form-control form-control-sm", value: timer.hours || "",
      onchange: (e) => {
        const v = parseFloat(e.target.value);
        if (v > 0) node.timer = { hours: v, action: (node.timer || {}).action || "remind" };
        else delete node.timer;
        render();
      },
    }))));
    if (node.timer) {
      row.append(h("div", { class: "col-6 col-md-4" }, labelled("→", select(
        [["remind", t("remind")], ["approve", t("approve")], ["escalate", t("escalate")]], node.timer.action,
        (v) => { node.timer.action = v; },
      ))));
    }
    row.append(h("div", { class: "col-12" }, h("label", { class: "form-check small" },
      h("input", { type: "checkbox", class: "form-check-input", checked: node.bypassable !== false,
        onchange: (e) => { if (e.target.checked) delete node.bypassable; else node.bypassable = false; } }),
      h("span", { class: "form-check-label" }, t("bypassable")))));
    return row;
  }

  function conditionInput(branch) {
    const err = h("div", { class: "invalid-feedback d-block", "data-testid": "condition-error" });
    const input = h("input", {
      type: "text", class: "form-control form-control-sm font-monospace", value: branch.condition || "",
      placeholder: t("conditionText"), "data-testid": "condition", maxlength: 4000,
      oninput: (e) => { branch.condition = e.target.value; },
      onchange: () => checkCondition(input, err),
    });
    return h("div", {}, input, conditionBuilder(branch, input, err), err);
  }

  // A small builder: field, operator, value -> a CEL clause added with &&.
  const FIELDS = [
    ["amount", "amount", "number"], ["impact", "impact", "text"], ["safety", "safety", "text"],
    ["wo.priority", "wo.priority", "text"], ["wo.type", "wo.type", "text"], ["wo.customer.tier", "wo.customer.tier", "text"],
    ["wo.region", "wo.region", "text"], ["requester.role", "requester.role", "text"], ["requester.team", "requester.team", "text"],
  ];
  function conditionBuilder(branch, input, err) {
    let field = FIELDS[0];
    let op = "<";
    const value = h("input", { type: "text", class: "form-control form-control-sm", "aria-label": t("value"), "data-testid": "builder-value" });
    const fieldSel = select(FIELDS.map((f) => [f[0], f[1]]), field[0], (v) => { field = FIELDS.find((f) => f[0] === v); },
      { "data-testid": "builder-field", "aria-label": t("field") });
    const opSel = select([["<", "<"], ["<=", "≤"], [">", ">"], [">=", "≥"], ["==", "="], ["!=", "≠"]], op, (v) => { op = v; },
      { "data-testid": "builder-op", "aria-label": t("operator") });
    const add = h("button", {
      type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "builder-add",
      onclick: () => {
        const raw = value.value.trim();
        if (!raw) return;
        const num = field[2] === "number" && !Number.isNaN(Number(raw));
        const literal = num ? String(Number(raw)) : JSON.stringify(raw);
        const clause = `${field[0]} ${op} ${literal}`;
        branch.condition = branch.condition && branch.condition.trim() ? `${branch.condition.trim()} && ${clause}` : clause;
        input.value = branch.condition;
        value.value = "";
        checkCondition(input, err);
      },
    }, "+ " + t("clause"));
    return h("div", { class: "row g-1 mt-1" }, h("div", { class: "col-12 col-sm-4" }, fieldSel),
      h("div", { class: "col-4 col-sm-2" }, opSel), h("div", { class: "col-8 col-sm-4" }, value),
      h("div", { class: "col-12 col-sm-2" }, add));
  }

  async function checkCondition(input, err) {
    err.textContent = "";
    input.classList.remove("is-invalid", "is-valid");
    if (!input.value.trim()) return;
    const r = await api("POST", "", { condition: input.value }, config.check);
    if (r.ok && r.data.ok) {
      input.classList.add("is-valid");
      return;
    }
    const e = (r.data && r.data.error) || { message: r.data.title || "error" };
    input.classList.add("is-invalid");
    err.append(e.message || "");
    if (e.column) {
      // Show where: the source with a caret under the column.
      const pre = h("pre", { class: "small mb-0 mt-1", "data-testid": "condition-caret" });
      const line = input.value.split("\n")[(e.line || 1) - 1] || "";
      pre.textContent = `${line}\n${" ".repeat(Math.max(0, e.column - 1))}^`;
      err.append(pre);
      if (typeof e.offset === "number") input.setSelectionRange(e.offset, Math.min(input.value.length, e.offset + 1));
    }
  }

  function branchList(node) {
    const wrap = h("div", { class: "row g-2 mt-1" });
    node.branches.forEach((br, i) => {
      const head = h("div", { class: "d-flex gap-2 align-items-center mb-2" },
        h("input", { type: "text", class: "form-control form-control-sm", value: br.name || "", "aria-label": t("name"),
          oninput: (e) => { br.name = e.target.value; } }),
        h("button", { type: "button", class: "btn btn-sm btn-ghost-danger", title: t("delete"), "data-testid": "delete-branch",
          onclick: () => { node.branches.splice(i, 1); render(); } }, "×"),
      );
      const col = h("div", { class: "col-12", "data-testid": "branch", "data-branch": br.id },
        h("div", { class: "border-start border-3 ps-3 py-1" + (br.default ? " border-secondary" : " border-warning") }, head));
      const body = col.firstChild;
      if (node.type === "condition") {
        if (!br.default) body.append(conditionInput(br));
        body.append(h("label", { class: "form-check small mt-1" },
          h("input", { type: "checkbox", class: "form-check-input", checked: !!br.default, "data-testid": "branch-default",
            onchange: (e) => { if (e.target.checked) { br.default = true; delete br.condition; } else { delete br.default; br.condition = ""; } render(); } }),
          h("span", { class: "form-check-label" }, t("default"))));
      }
      body.append(nodeList(br.nodes || (br.nodes = [])));
      wrap.append(col);
    });
    wrap.append(h("div", { class: "col-12" }, h("button", {
      type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "add-branch",
      onclick: () => {
        const nb = { id: newId("b"), name: `${t("branch")} ${node.branches.length + 1}`, nodes: [] };
        if (node.type === "condition") {
          nb.condition = "";
          const d = node.branches.findIndex((b) => b.default);
          node.branches.splice(d >= 0 ? d : node.branches.length, 0, nb);
        } else node.branches.push(nb);
        render();
      },
    }, "+ " + t("addBranch"))));
    return wrap;
  }

  function nodeCard(node, list, i) {
    const badge = { approver: "bg-blue-lt", cc: "bg-secondary-lt", condition: "bg-yellow-lt", parallel: "bg-purple-lt" }[node.type] || "";
    const head = h("div", { class: "d-flex gap-2 align-items-center mb-2" },
      h("span", { class: "cl-drag-handle text-secondary", "data-drag-handle": "", "data-testid": "drag-node",
        title: t("drag"), "aria-hidden": "true" }, "⠿"),
      h("span", { class: "badge " + badge }, t(node.type)),
      h("input", { type: "text", class: "form-control form-control-sm", value: node.name || "", "aria-label": t("name"),
        "data-testid": "node-name", oninput: (e) => { node.name = e.target.value; } }),
      h("button", { type: "button", class: "btn btn-sm btn-ghost-secondary", title: t("up"), "aria-label": t("up"),
        "data-testid": "move-up", disabled: i === 0, onclick: () => { list.splice(i - 1, 0, list.splice(i, 1)[0]); render(); } }, "↑"),
      h("button", { type: "button", class: "btn btn-sm btn-ghost-secondary", title: t("down"), "aria-label": t("down"),
        "data-testid": "move-down", disabled: i === list.length - 1, onclick: () => { list.splice(i + 1, 0, list.splice(i, 1)[0]); render(); } }, "↓"),
      h("button", { type: "button", class: "btn btn-sm btn-ghost-danger", title: t("delete"), "aria-label": t("delete"),
        "data-testid": "delete-node", onclick: () => { list.splice(i, 1); render(); } }, "×"),
    );
    const card = h("div", { class: "card card-sm mb-2 cl-flow-node", "data-testid": "node", "data-node": node.id, "data-type": node.type },
      h("div", { class: "card-body" }, head));
    const body = card.firstChild;
    if (node.type === "approver" || node.type === "cc") body.append(whoEditor(node));
    if (node.type === "approver") body.append(approverExtras(node));
    if (node.type === "condition" || node.type === "parallel") body.append(branchList(node));
    body.append(h("div", { class: "invalid-feedback d-block", "data-problems": node.id }));
    return card;
  }

  // Drag and drop (SortableJS): a node moves by its handle within its list, or into another list
  // (a branch, the top level); the tree in memory follows, then everything is drawn again. The
  // arrows above do the same by keyboard.
  const listOf = new WeakMap();

  function nodeList(list) {
    const box = h("div", { class: "cl-flow-list" });
    listOf.set(box, list);
    if (!list.length) box.append(h("div", { class: "small text-secondary mb-2 cl-flow-empty" }, t("empty")));
    list.forEach((node, i) => box.append(nodeCard(node, list, i)));
    Sortable.create(box, {
      group: "flow-nodes",
      handle: "[data-drag-handle]",
      draggable: ".cl-flow-node",
      animation: 150,
      ghostClass: "cl-drag-ghost",
      forceFallback: true,  // pointer events, the same with a mouse, a finger and a test driver
      fallbackOnBody: true,
      onEnd: (e) => {
        const from = listOf.get(e.from);
        const to = listOf.get(e.to);
        if (!from || !to || (e.from === e.to && e.oldDraggableIndex === e.newDraggableIndex)) return;
        const [moved] = from.splice(e.oldDraggableIndex, 1);
        to.splice(Math.min(e.newDraggableIndex, to.length), 0, moved);
        render();
      },
    });
    const add = h("div", { class: "btn-list mb-1", role: "group", "data-testid": "add-node" });
    for (const type of ["approver", "cc", "condition", "parallel"]) {
      add.append(h("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-add": type,
        onclick: () => { list.push(makeNode(type)); render(); } }, "+ " + t(type)));
    }
    box.append(add);
    return box;
  }

  // Flow settings: who may bypass, the justification deadline, auto-approval rules.
  function settingsCard() {
    const st = tree.settings || (tree.settings = {});
    if (!Array.isArray(st.bypass_roles)) st.bypass_roles = ["admin", "manager"];
    if (!st.justify_hours) st.justify_hours = 24;
    const autos = Array.isArray(tree.auto_approve) ? tree.auto_approve : (tree.auto_approve = []);
    const box = h("div", { class: "card card-sm mb-3", "data-testid": "flow-settings" }, h("div", { class: "card-body" }));
    const body = box.firstChild;
    const roles = h("div", { class: "mb-2" }, h("div", { class: "small text-secondary" }, t("bypassRoles")));
    for (const [value, label] of config.roles) {
      roles.append(h("label", { class: "form-check form-check-inline small" },
        h("input", { type: "checkbox", class: "form-check-input", value, checked: st.bypass_roles.includes(value),
          "data-testid": "bypass-role",
          onchange: (e) => {
            st.bypass_roles = st.bypass_roles.filter((r) => r !== value);
            if (e.target.checked) st.bypass_roles.push(value);
          } }),
        h("span", { class: "form-check-label" }, label)));
    }
    body.append(roles);
    body.append(labelled(t("justifyHours"), h("input", {
      type: "number", min: 0.1, step: "0.5", class: "form-control form-control-sm w-auto", value: st.justify_hours,
      "data-testid": "justify-hours", onchange: (e) => { st.justify_hours = parseFloat(e.target.value) || 0; },
    })));
    body.append(h("div", { class: "small text-secondary" }, t("autoRules")));
    autos.forEach((rule, i) => {
      const err = h("div", { class: "invalid-feedback d-block" });
      const input = h("input", {
        type: "text", class: "form-control form-control-sm font-monospace", value: rule.condition || "",
        placeholder: t("conditionText"), "data-testid": "auto-condition", maxlength: 4000,
        oninput: (e) => { rule.condition = e.target.value; }, onchange: () => checkCondition(input, err),
      });
      body.append(h("div", { class: "row g-1 mb-1", "data-testid": "auto-rule" },
        h("div", { class: "col-12 col-sm-4" }, h("input", { type: "text", class: "form-control form-control-sm",
          value: rule.name || "", "aria-label": t("name"), maxlength: 100, oninput: (e) => { rule.name = e.target.value; } })),
        h("div", { class: "col-10 col-sm-7" }, input, err),
        h("div", { class: "col-2 col-sm-1" }, h("button", { type: "button", class: "btn btn-sm btn-ghost-danger",
          "aria-label": t("delete"), onclick: () => { autos.splice(i, 1); render(); } }, "×"))));
    });
    body.append(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "add-auto-rule",
      onclick: () => { autos.push({ name: "", condition: "" }); render(); } }, "+ " + t("addAutoRule")));
    return box;
  }

  function render() {
    treeEl.replaceChildren(settingsCard(), nodeList(tree.nodes));
  }

  // ---- validate, preview, save, publish -------------------------------------------------------------

  function showProblems(problems, okText) {
    statusEl.replaceChildren();
    treeEl.querySelectorAll(".border-danger").forEach((n) => n.classList.remove("border-danger"));
    treeEl.querySelectorAll("[data-problems]").forEach((n) => { n.textContent = ""; });
    if (!problems.length) {
      statusEl.append(h("div", { class: "text-success", "data-testid": "valid" }, "✓ " + okText));
      return;
    }
    const ul = h("ul", { class: "text-danger mb-0 ps-3", "data-testid": "problems" });
    for (const p of problems) {
      ul.append(h("li", { "data-node": p.node || "" }, (p.node ? `[${p.node}] ` : "") + p.message));
      if (p.node) {
        const card = treeEl.querySelector(`.cl-flow-node[data-node="${CSS.escape(p.node)}"]`);
        if (card) {
          card.classList.add("border-danger");
          const slot = card.querySelector(`[data-problems="${CSS.escape(p.node)}"]`);
          if (slot) slot.append(h("div", {}, p.message));
          if (p.branch) {
            const br = card.querySelector(`[data-branch="${CSS.escape(p.branch)}"] > div`);
            if (br) br.classList.add("border-danger");
          }
        }
      }
    }
    statusEl.append(ul);
  }

  function errorText(r) {
    if (r.data && r.data.problems) return null;
    return (r.data && (r.data.detail || r.data.title)) || `HTTP ${r.status}`;
  }

  document.getElementById("d-validate").addEventListener("click", async () => {
    const r = await api("POST", "/validate", { tree });
    if (r.ok) showProblems(r.data.problems, t("ok"));
    else showProblems([{ message: errorText(r) }]);
  });

  document.getElementById("d-save").addEventListener("click", async () => {
    const r = await api("PUT", "/draft", { tree });
    statusEl.replaceChildren(h("div", { class: r.ok ? "text-success" : "text-danger", "data-testid": "saved" },
      r.ok ? t("saved") : errorText(r)));
  });

  document.getElementById("d-publish").addEventListener("click", async () => {
    const note = document.getElementById("d-note").value;
    const r = await api("POST", "/publish", { tree, note });
    if (r.ok) {
      statusEl.replaceChildren(h("div", { class: "text-success", "data-testid": "published" }, `${t("published")} v${r.data.version}`));
      const cur = document.querySelector("[data-testid=current-version]");
      if (cur) cur.textContent = `v${r.data.version}`;
    } else if (r.data && r.data.problems) showProblems(r.data.problems, t("ok"));
    else showProblems([{ message: errorText(r) }]);
  });

  const requesterSel = document.getElementById("d-requester");
  for (const [u, name] of config.users) requesterSel.append(h("option", { value: u }, `${name} (${u})`));

  function pathItems(items) {
    const ol = h("ol", { class: "mb-0" });
    for (const it of items) {
      if (it.t === "branch") ol.append(h("li", { class: "text-secondary small", "data-testid": "preview-branch", "data-branch": it.branch }, "↳ " + it.name));
      else if (it.t === "auto") ol.append(h("li", { "data-testid": "preview-auto" }, "✓ " + it.name));
      else if (it.t === "par") {
        const li = h("li", { "data-testid": "preview-parallel" }, it.name);
        for (const br of it.branches) li.append(pathItems(br));
        ol.append(li);
      } else {
        ol.append(h("li", { "data-testid": "preview-step", "data-key": it.key },
          h("strong", {}, it.name), " — ", (it.approvers || []).map((a) => a.name).join(", ")));
      }
    }
    return ol;
  }

  document.getElementById("d-preview").addEventListener("click", async () => {
    const body = { tree, data: { amount: parseFloat(document.getElementById("d-amount").value) || 0 },
      requester: requesterSel.value || null };
    const wo = document.getElementById("d-wo").value.trim();
    if (wo) body.work_order = wo;
    const r = await api("POST", "/preview", body);
    const out = document.getElementById("d-path");
    if (r.ok) out.replaceChildren(...pathItems(r.data.path).children);
    else if (r.data && r.data.problems) showProblems(r.data.problems, t("ok"));
    else out.replaceChildren(h("li", { class: "text-danger" }, errorText(r)));
  });

  // Load a published version into the draft (e.g. to roll back: load, then publish).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-load-version]");
    if (!button) return;
    const r = await api("GET", `/versions/${button.dataset.loadVersion}`);
    if (!r.ok) return showProblems([{ message: errorText(r) }]);
    tree = r.data.tree;
    render();
    statusEl.replaceChildren(h("div", { class: "text-info", "data-testid": "loaded" }, `v${r.data.version}: ${t("loaded")}`));
  });

  render();
}
