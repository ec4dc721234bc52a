// The rule editor (closeloop/rules/templates/rules/edit.html): a visual condition builder
// (field, operator, value rows in and/or groups, nested two levels) that writes the CEL
// into the condition textarea through the server (/rules/builder/build, the same Python
// as POST /api/v1/conditions/build), an "edit as CEL" mode checked live by
// /api/v1/conditions/check (an error shows a caret under its column), an actions editor
// that writes the actions JSON textarea, and the dry run ("try it on a work order")
// without saving. Without this file the page still works: CEL and JSON textareas.
// No inline scripts, styles or handlers (strict CSP).

import { h } from "./lib/dom.js";

const root = document.getElementById("rule-editor");
const configEl = document.getElementById("rules-config");

if (root && configEl) {
  const config = JSON.parse(configEl.textContent);
  const form = document.getElementById("rule-form");
  const t = (key) => {
    const k = "t" + key.split("-").map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("");
    return root.dataset[k] || key;
  };
  const csrf = () => (form.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  const readonly = !!config.readonly;

  function select(options, value, onchange, attrs = {}) {
    const el = h("select", { class: "form-select form-select-sm", ...attrs, onchange: (e) => onchange(e.target.value) });
    let found = false;
    for (const [v, label] of options) {
      const selected = String(v) === String(value ?? "");
      found = found || selected;
      el.append(h("option", { value: v, selected }, label));
    }
    if (!found && value !== undefined && value !== null && value !== "") el.append(h("option", { value, selected: true }, value));
    return el;
  }

  function labelled(text, control, cls = "col-12 col-md-6") {
    return h("div", { class: cls }, h("label", { class: "d-block small mb-1" },
      h("span", { class: "text-secondary d-block" }, text), control));
  }

  async function post(url, body, extraHeaders = {}) {
    const isForm = body instanceof FormData;
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...(isForm ? {} : { "Content-Type": "application/json" }), "X-CSRFToken": csrf(), Accept: "application/json", ...extraHeaders },
      body: isForm ? body : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await resp.json();
    } catch {
      /* no JSON body */
    }
    return { ok: resp.ok, status: resp.status, data };
  }

  const splitList = (s) => String(s || "").split(/[,，、\n]/).map((x) => x.trim()).filter(Boolean);

  // ---- trigger-dependent inputs -------------------------------------------------------------------
  const triggerSel = form.querySelector("[name=trigger]");
  function showForTrigger() {
    for (const el of root.querySelectorAll("[data-show-for]")) {
      el.classList.toggle("d-none", !triggerSel || triggerSel.value !== el.dataset.showFor);
    }
  }
  if (triggerSel) triggerSel.addEventListener("change", showForTrigger);
  showForTrigger();

  // ---- condition: builder and CEL ------------------------------------------------------------------
  const cel = form.querySelector("[name=condition]");
  const builderEl = document.getElementById("cond-builder");
  const checkEl = document.getElementById("cond-check");
  const toggle = document.getElementById("cel-toggle");
  const fields = Object.fromEntries(config.fields.map((f) => [f.value, f]));
  const NO_VALUE = ["is_true", "is_false", "changed"];
  const LIST_OPS = ["in", "not_in"];
  let tree = config.tree;
  let celMode = !tree;
  if (!tree) tree = { all: [] };

  const scopeSel = form.querySelector("[name=scope_type]");
  if (scopeSel) scopeSel.addEventListener("change", () => { if (!celMode) renderBuilder(); });
  const isGroup = (n) => n && typeof n === "object" && ("all" in n || "any" in n);
  const itemsOf = (g) => (g.any !== undefined ? g.any : g.all);
  const newRow = () => ({ field: "", op: "", value: "" });

  function fieldSelect(row) {
    const el = h("select", { class: "form-select form-select-sm", "data-testid": "builder-field", "aria-label": t("field"),
      onchange: (e) => {
        const f = fields[e.target.value];
        const oldType = (fields[row.field] || {}).type;
        row.field = e.target.value;
        const ops = f ? f.ops : [];
        if (!ops.includes(row.op)) row.op = ops[0] || "";
        if (!f || f.type !== oldType) row.value = "";
        renderBuilder();
        changed();
      } });
    el.append(h("option", { value: "" }, t("choose")));
    const groups = new Map();
    const scope = scopeSel ? scopeSel.value : "";
    for (const f of config.fields) {
      // Custom fields: only the scoped type's (all types' when the rule is for every type).
      if (f.wo_type && scope && f.wo_type !== scope && f.value !== row.field) continue;
      if (!groups.has(f.group)) groups.set(f.group, h("optgroup", { label: f.group }));
      groups.get(f.group).append(h("option", { value: f.value, selected: f.value === row.field }, f.label));
    }
    for (const g of groups.values()) el.append(g);
    if (row.field && !fields[row.field]) el.append(h("option", { value: row.field, selected: true }, row.field));
    return el;
  }

  function valueControl(row, f) {
    if (!f || NO_VALUE.includes(row.op)) return null;
    const common = { "data-testid": "builder-value", "aria-label": t("value") };
    if (LIST_OPS.includes(row.op)) {
      return h("input", { type: "text", class: "form-control form-control-sm", ...common, placeholder: t("values-hint"),
        value: Array.isArray(row.value) ? row.value.join(", ") : row.value ?? "",
        oninput: (e) => { row.value = splitList(e.target.value); touch(e, row); changed(); } });
    }
    if (f.type === "choice" && f.choices) {
      const sel = select([["", t("choose")], ...f.choices], row.value, (v) => { row.value = v; touch({ target: sel }, row); changed(); }, common);
      return sel;
    }
    return h("input", { type: f.type === "number" ? "number" : "text", class: "form-control form-control-sm", ...common,
      value: row.value ?? "", oninput: (e) => { row.value = e.target.value; touch(e, row); changed(); } });
  }

  function touch(e, row) {
    const el = e.target.closest("[data-testid=builder-row]");
    if (el) el.classList.toggle("bg-yellow-lt", !leaf(row));
  }

  function rowEl(row, list, i) {
    const f = fields[row.field];
    const ops = f ? f.ops : [];
    if (Array.isArray(row.value) && !LIST_OPS.includes(row.op)) row.value = row.value[0] ?? "";
    const opSel = select(ops.map((o) => [o, config.operator_labels[o] || o]), row.op, (v) => {
      if (LIST_OPS.includes(v) && !Array.isArray(row.value)) row.value = splitList(row.value);
      row.op = v;
      renderBuilder();
      changed();
    }, { "data-testid": "builder-op", "aria-label": t("operator") });
    const value = valueControl(row, f);
    const incomplete = row.field && !leaf(row);
    return h("div", { class: "row g-1 mb-1 align-items-center rounded" + (incomplete ? " bg-yellow-lt" : ""), "data-testid": "builder-row" },
      h("div", { class: "col-12 col-md-5" }, fieldSelect(row)),
      h("div", { class: "col-5 col-md-2" }, opSel),
      h("div", { class: "col-6 col-md-4" }, value || ""),
      h("div", { class: "col-1 text-end" }, readonly ? "" : h("button", { type: "button", class: "btn btn-sm btn-ghost-danger px-1",
        title: t("remove"), "aria-label": t("remove"), "data-testid": "builder-remove",
        onclick: () => { list.splice(i, 1); renderBuilder(); changed(); } }, "×")));
  }

  function groupEl(group, depth, parentList, index) {
    const items = itemsOf(group);
    const joiner = select([["all", t("all")], ["any", t("any")]], group.any !== undefined ? "any" : "all", (v) => {
      const list = itemsOf(group);
      delete group.all;
      delete group.any;
      group[v] = list;
      changed();
    }, { "data-testid": "builder-joiner", "aria-label": t("all") });
    joiner.classList.add("w-auto");
    const head = h("div", { class: "d-flex gap-2 align-items-center mb-2" }, joiner,
      depth > 0 && !readonly ? h("button", { type: "button", class: "btn btn-sm btn-ghost-danger", "data-testid": "builder-remove-group",
        onclick: () => { parentList.splice(index, 1); renderBuilder(); changed(); } }, t("remove")) : null);
    const box = h("div", { class: "border-start border-3 ps-2 mb-2 " + (depth ? "border-info ms-2" : "border-primary"),
      "data-testid": "builder-group", "data-depth": depth }, head);
    if (!items.length && depth === 0) box.append(h("div", { class: "small text-secondary mb-2", "data-testid": "builder-empty" }, t("empty-builder")));
    items.forEach((item, i) => box.append(isGroup(item) ? groupEl(item, depth + 1, items, i) : rowEl(item, items, i)));
    if (!readonly) {
      const add = h("div", { class: "btn-list" },
        h("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-testid": "builder-add-row",
          onclick: () => { items.push(newRow()); renderBuilder(); } }, "+ " + t("add-row")));
      if (depth < 2) {
        add.append(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "builder-add-group",
          onclick: () => { items.push({ [group.any !== undefined ? "all" : "any"]: [newRow()] }); renderBuilder(); } }, "+ " + t("add-group")));
      }
      box.append(add);
    }
    return box;
  }

  // The tree as the server takes it: complete rows only, typed values.
  function leaf(row) {
    const f = fields[row.field];
    if (!f || !row.op) return null;
    if (NO_VALUE.includes(row.op)) return { field: row.field, op: row.op };
    if (LIST_OPS.includes(row.op)) {
      let vals = Array.isArray(row.value) ? row.value : splitList(row.value);
      if (f.type === "number") vals = vals.map(Number).filter((n) => !Number.isNaN(n));
      return vals.length ? { field: row.field, op: row.op, value: vals } : null;
    }
    if (row.value === undefined || row.value === null || String(row.value).trim() === "") return null;
    if (f.type === "number") {
      const n = Number(row.value);
      return Number.isNaN(n) ? null : { field: row.field, op: row.op, value: n };
    }
    return { field: row.field, op: row.op, value: String(row.value) };
  }

  function forServer(group, isRoot) {
    const key = group.any !== undefined ? "any" : "all";
    const out = [];
    let incomplete = 0;
    for (const item of itemsOf(group)) {
      if (isGroup(item)) {
        const [sub, bad] = forServer(item, false);
        incomplete += bad;
        if (sub) out.push(sub);
      } else {
        const l = leaf(item);
        if (l) out.push(l);
        else incomplete += 1;
      }
    }
    return [out.length || isRoot ? { [key]: out } : null, incomplete];
  }

  function renderBuilder() {
    builderEl.replaceChildren();
    builderEl.classList.toggle("d-none", celMode);
    cel.readOnly = readonly || !celMode;
    toggle.classList.toggle("d-none", readonly);
    toggle.textContent = celMode ? t("use-builder") : t("edit-cel");
    if (!celMode) builderEl.append(groupEl(tree, 0, null, 0));
  }

  let timer = null;
  let pending = null;
  function changed() {
    if (celMode) return;
    clearTimeout(timer);
    timer = setTimeout(() => { pending = rebuild().finally(() => { pending = null; }); }, 250);
  }

  async function rebuild() {
    timer = null;
    const [payload, incomplete] = forServer(tree, true);
    const r = await post(config.build_url, { tree: payload });
    if (r.ok) {
      cel.value = r.data.condition;
      await check();
      if (incomplete) showMessage(t("incomplete"), false);
    } else {
      showMessage(r.data.error || `HTTP ${r.status}`, false);
    }
  }

  async function flush() {
    if (timer) {
      clearTimeout(timer);
      pending = rebuild().finally(() => { pending = null; });
    }
    if (pending) await pending;
  }

  function showMessage(text, ok) {
    checkEl.className = ok ? "small text-success mt-1" : "invalid-feedback d-block";
    checkEl.replaceChildren(h("span", { "data-testid": ok ? "condition-valid" : "condition-message" }, text));
  }

  // Spaces as wide as the text before the column (CJK characters take two cells).
  const pad = (line, n) => [...line.slice(0, Math.max(0, n))].map((c) => (c.codePointAt(0) >= 0x2e80 ? "\u3000" : c === "\t" ? "\t" : " ")).join("");

  async function check() {
    const stale = document.querySelector("[data-testid=error-condition]");
    if (stale) stale.classList.add("d-none"); // the server's message is replaced by this live check
    cel.classList.remove("is-invalid", "is-valid");
    checkEl.replaceChildren();
    const hint = document.getElementById("cond-hint");
    if (!cel.value.trim()) return;
    const r = await post(config.check_url, { condition: cel.value });
    if (r.ok && r.data.ok) {
      cel.classList.add("is-valid");
      showMessage("✓ " + t("valid"), true);
      return;
    }
    const e = (r.data && r.data.error) || { message: (r.data && (r.data.detail || r.data.title)) || `HTTP ${r.status}` };
    cel.classList.add("is-invalid");
    if (hint) hint.classList.add("d-none");
    showMessage(e.message || "", false);
    if (e.line && e.column) {
      const line = cel.value.split("\n")[e.line - 1] || "";
      checkEl.append(h("span", { class: "ms-1", "data-testid": "condition-position" }, `(${t("line")} ${e.line}, ${t("column")} ${e.column})`));
      const pre = h("pre", { class: "small mb-0 mt-1", "data-testid": "condition-caret" });
      pre.textContent = `${line}\n${pad(line, e.column - 1)}^`;
      checkEl.append(pre);
    }
  }

  let checkTimer = null;
  cel.addEventListener("input", () => {
    if (!celMode) return;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 500);
  });
  cel.addEventListener("change", () => { if (celMode) { clearTimeout(checkTimer); check(); } });

  toggle.addEventListener("click", async () => {
    if (!celMode) {
      await flush();
      celMode = true;
      renderBuilder();
      cel.focus();
      return;
    }
    const r = await post(config.parse_url, { condition: cel.value });
    if (r.ok && r.data.tree) {
      tree = r.data.tree;
      celMode = false;
      renderBuilder();
      check();
    } else {
      showMessage(t("cannot-parse"), false);
    }
  });

  // ---- actions ----------------------------------------------------------------------------------------
  const actionsText = form.querySelector("[name=actions]");
  const actionsEl = document.getElementById("actions-editor");
  const jsonWrap = document.getElementById("actions-json-wrap");
  let actions = null;
  try {
    const parsed = JSON.parse(actionsText.value.trim() || "[]");
    if (Array.isArray(parsed) && parsed.every((a) => a && typeof a === "object" && !Array.isArray(a))) actions = parsed;
  } catch {
    actions = null; // broken JSON (from a form without JS): keep the textarea to fix it
  }
  let actionErrors = config.action_errors || {};
  const KNOWN = ["set_priority", "set_fields", "assign", "dispatch", "comment", "notify", "create_linked", "add_tags",
    "remove_tags", "add_watchers", "escalate", "webhook", "require_approval"];

  function sync() {
    actionsText.value = JSON.stringify(actions, null, 1);
  }

  function text(a, key, label, attrs = {}, cls) {
    return labelled(label, h("input", { type: "text", class: "form-control form-control-sm", value: a[key] ?? "",
      "data-testid": `action-${key}`, ...attrs, oninput: (e) => { a[key] = e.target.value; sync(); } }), cls);
  }
  function choose(a, key, label, options, cls) {
    return labelled(label, select(options, a[key] ?? "", (v) => { a[key] = v; sync(); }, { "data-testid": `action-${key}` }), cls);
  }
  function list(a, key, label, cls) {
    return labelled(label, h("input", { type: "text", class: "form-control form-control-sm", value: (a[key] || []).join(", "),
      "data-testid": `action-${key}`, oninput: (e) => { a[key] = splitList(e.target.value); sync(); } }), cls);
  }
  function check1(a, key, label) {
    return h("div", { class: "col-12" }, h("label", { class: "form-check small" },
      h("input", { type: "checkbox", class: "form-check-input", checked: !!a[key], "data-testid": `action-${key}`,
        onchange: (e) => { a[key] = e.target.checked; sync(); } }),
      h("span", { class: "form-check-label" }, label)));
  }
  function recipients(a) {
    const rec = Array.isArray(a.recipients) ? a.recipients : (a.recipients = ["team_lead"]);
    const roles = [["team_lead", t("team_lead")], ["assignee", t("assignee-r")], ["creator", t("creator")]];
    const box = h("div", { class: "col-12" }, h("div", { class: "small text-secondary" }, t("recipients")));
    for (const [v, label] of roles) {
      box.append(h("label", { class: "form-check form-check-inline small" },
        h("input", { type: "checkbox", class: "form-check-input", checked: rec.includes(v), "data-testid": `action-recipient-${v}`,
          onchange: (e) => {
            a.recipients = a.recipients.filter((r) => r !== v);
            if (e.target.checked) a.recipients.unshift(v);
            sync();
          } }),
        h("span", { class: "form-check-label" }, label)));
    }
    const others = rec.filter((r) => !roles.some(([v]) => v === r));
    box.append(h("input", { type: "text", class: "form-control form-control-sm", value: others.join(", "), "aria-label": t("usernames"),
      placeholder: t("usernames"), "data-testid": "action-usernames",
      oninput: (e) => {
        a.recipients = [...a.recipients.filter((r) => roles.some(([v]) => v === r)), ...splitList(e.target.value)];
        sync();
      } }));
    return box;
  }
  function channels(a) {
    const ch = Array.isArray(a.channels) ? a.channels : (a.channels = ["inbox"]);
    const box = h("div", { class: "col-12" }, h("div", { class: "small text-secondary" }, t("channels")));
    for (const c of config.channels) {
      box.append(h("label", { class: "form-check form-check-inline small" },
        h("input", { type: "checkbox", class: "form-check-input", checked: ch.includes(c), "data-testid": `action-channel-${c}`,
          onchange: (e) => {
            a.channels = a.channels.filter((x) => x !== c);
            if (e.target.checked) a.channels.push(c);
            sync();
          } }),
        h("span", { class: "form-check-label" }, c)));
    }
    return box;
  }
  function setFields(a) {
    if (!a.fields || typeof a.fields !== "object") a.fields = {};
    const custom = Object.keys(fields).filter((k) => k.startsWith("wo.custom.")).map((k) => k.slice(3));
    const keys = [...config.settable, ...custom];
    const rows = [...Object.entries(a.fields).filter(([k]) => k !== "custom"),
      ...Object.entries(a.fields.custom || {}).map(([k, v]) => [`custom.${k}`, v])];
    const write = () => {
      a.fields = {};
      for (const [k, v] of rows) {
        if (!k) continue;
        if (k.startsWith("custom.")) (a.fields.custom = a.fields.custom || {})[k.slice(7)] = v;
        else a.fields[k] = v;
      }
      sync();
    };
    const box = h("div", { class: "col-12" });
    rows.forEach((row, i) => {
      box.append(h("div", { class: "row g-1 mb-1", "data-testid": "set-field-row" },
        h("div", { class: "col-5" }, select([["", t("choose")], ...keys.map((k) => [k, k])], row[0], (v) => { row[0] = v; write(); },
          { "aria-label": t("field") })),
        h("div", { class: "col-6" }, h("input", { type: "text", class: "form-control form-control-sm", value: row[1] ?? "",
          "aria-label": t("value"), oninput: (e) => { row[1] = e.target.value; write(); } })),
        h("div", { class: "col-1" }, h("button", { type: "button", class: "btn btn-sm btn-ghost-danger px-1", "aria-label": t("remove"),
          onclick: () => { rows.splice(i, 1); write(); renderActions(); } }, "×"))));
    });
    box.append(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", "data-testid": "add-set-field",
      onclick: () => { rows.push(["", ""]); write(); renderActions(); } }, "+ " + t("add-field")));
    // rows with an empty key are kept only on screen until a field is chosen
    return box;
  }

  const priorities = () => config.priorities;
  function body(a) {
    const row = h("div", { class: "row g-2" });
    switch (a.type) {
      case "set_priority":
        row.append(choose(a, "priority", t("priority"), priorities()));
        break;
      case "set_fields":
        row.append(setFields(a));
        break;
      case "assign":
        row.append(text(a, "assignee", t("assignee"), { list: "rules-engineers" }));
        break;
      case "dispatch":
        row.append(choose(a, "mode", t("mode"), [["best", t("mode-best")], ["setting", t("mode-setting")], ["round_robin", t("mode-round_robin")]]));
        break;
      case "comment":
        row.append(labelled(t("body"), h("textarea", { class: "form-control form-control-sm", rows: 2, "data-testid": "action-body",
          oninput: (e) => { a.body = e.target.value; sync(); } }, a.body || ""), "col-12"));
        row.append(check1(a, "public", t("public")));
        break;
      case "notify":
        row.append(recipients(a), channels(a), text(a, "message", t("message"), {}, "col-12"));
        break;
      case "create_linked":
        row.append(choose(a, "wo_type", t("wo-type"), [["", t("same")], ...config.types]),
          choose(a, "priority", t("priority"), [["", t("same")], ...priorities()]),
          text(a, "title", t("title")), choose(a, "link", t("link"), config.links));
        break;
      case "add_tags":
      case "remove_tags":
        row.append(list(a, "tags", t("tags"), "col-12"));
        break;
      case "add_watchers":
        row.append(list(a, "watchers", t("watchers"), "col-12"));
        break;
      case "escalate":
        row.append(check1(a, "raise_priority", t("raise")), choose(a, "team", t("team"), [["", t("none")], ...config.teams]),
          recipients(a), channels(a), text(a, "message", t("message"), {}, "col-12"));
        break;
      case "webhook":
        row.append(text(a, "url", t("url"), { type: "url" }), text(a, "secret", t("secret"), { autocomplete: "off" }));
        break;
      case "require_approval": {
        row.append(text(a, "action", t("approval-action")));
        const amount = (a.data && a.data.amount) ?? "";
        row.append(labelled(t("amount"), h("input", { type: "number", min: 0, step: "0.01", class: "form-control form-control-sm",
          value: amount, "data-testid": "action-amount",
          oninput: (e) => {
            a.data = { ...(a.data || {}) };
            if (e.target.value === "") delete a.data.amount;
            else a.data.amount = Number(e.target.value);
            sync();
          } })));
        break;
      }
      default: {
        const area = h("textarea", { class: "form-control form-control-sm font-monospace", rows: 3, "aria-label": t("raw"),
          oninput: (e) => {
            try {
              const v = JSON.parse(e.target.value);
              if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("object");
              for (const k of Object.keys(a)) delete a[k];
              Object.assign(a, v);
              area.classList.remove("is-invalid");
              sync();
            } catch {
              area.classList.add("is-invalid");
            }
          } }, JSON.stringify(a));
        row.append(labelled(t("raw"), area, "col-12"));
      }
    }
    return row;
  }

  function defaults(type) {
    return {
      set_priority: { priority: "urgent" }, set_fields: { fields: {} }, assign: { assignee: "" }, dispatch: { mode: "best" },
      comment: { body: "", public: false }, notify: { recipients: ["team_lead"], channels: ["inbox"], message: "" },
      create_linked: { title: "{title}", link: "related" }, add_tags: { tags: [] }, remove_tags: { tags: [] },
      add_watchers: { watchers: [] },
      escalate: { raise_priority: true, team: "", recipients: ["team_lead"], channels: ["inbox"], message: "" },
      webhook: { url: "", secret: "" }, require_approval: { action: "purchase_part", data: { amount: 0 } },
    }[type] || {};
  }

  function move(i, j) {
    actions.splice(j, 0, actions.splice(i, 1)[0]);
    actionErrors = {};
    sync();
    renderActions();
  }

  function renderActions() {
    actionsEl.replaceChildren();
    if (!actions.length) actionsEl.append(h("div", { class: "small text-secondary mb-2", "data-testid": "no-actions" }, t("no-actions")));
    actions.forEach((a, i) => {
      const errs = actionErrors[i] || actionErrors[String(i)] || [];
      const label = KNOWN.includes(a.type) ? t("a-" + a.type) : a.type || "?";
      const head = h("div", { class: "d-flex gap-2 align-items-center mb-2" },
        h("span", { class: "badge bg-blue-lt" }, String(i + 1)), h("strong", { class: "me-auto" }, label));
      if (!readonly) {
        head.append(
          h("button", { type: "button", class: "btn btn-sm btn-ghost-secondary px-1", title: t("up"), "aria-label": t("up"),
            "data-testid": "action-up", disabled: i === 0, onclick: () => move(i, i - 1) }, "↑"),
          h("button", { type: "button", class: "btn btn-sm btn-ghost-secondary px-1", title: t("down"), "aria-label": t("down"),
            "data-testid": "action-down", disabled: i === actions.length - 1, onclick: () => move(i, i + 1) }, "↓"),
          h("button", { type: "button", class: "btn btn-sm btn-ghost-danger px-1", title: t("remove"), "aria-label": t("remove"),
            "data-testid": "action-remove", onclick: () => { actions.splice(i, 1); actionErrors = {}; sync(); renderActions(); } }, "×"));
      }
      const card = h("div", { class: "card card-sm mb-2" + (errs.length ? " border-danger" : ""), "data-testid": "action",
        "data-type": a.type || "" }, h("div", { class: "card-body" }, head, body(a)));
      for (const e of errs) {
        card.firstChild.append(h("div", { class: "invalid-feedback d-block", "data-testid": "action-error" }, `${t("action")} ${i + 1}: ${e}`));
      }
      actionsEl.append(card);
    });
    if (!readonly) {
      const types = config.action_types.map((ty) => [ty, KNOWN.includes(ty) ? t("a-" + ty) : ty]);
      let chosen = types.length ? types[0][0] : "";
      const sel = select(types, chosen, (v) => { chosen = v; }, { "data-testid": "add-action-type", "aria-label": t("add-action") });
      sel.classList.add("w-auto");
      actionsEl.append(h("div", { class: "d-flex gap-2" }, sel, h("button", { type: "button", class: "btn btn-sm btn-outline-primary",
        "data-testid": "add-action", onclick: () => {
          actions.push({ type: chosen, ...structuredClone(defaults(chosen)) });
          sync();
          renderActions();
        } }, "+ " + t("add-action"))));
    } else {
      actionsEl.querySelectorAll("input, select, textarea, button").forEach((el) => { el.disabled = true; });
    }
  }

  if (actions) {
    jsonWrap.classList.add("d-none");
    document.body.append(h("datalist", { id: "rules-engineers" }, ...config.engineers.map((u) => h("option", { value: u }))));
    renderActions();
  }

  // ---- save and try -------------------------------------------------------------------------------
  let submitting = false;
  form.addEventListener("submit", async (event) => {
    const tryClicked = event.submitter && event.submitter.name === "_try";
    if (tryClicked) {
      event.preventDefault();
      event.stopImmediatePropagation();
      await flush();
      const out = document.getElementById("try-result");
      out.replaceChildren(h("div", { class: "text-secondary small" }, t("trying")));
      const fd = new FormData(form);
      fd.set("_try", "1");
      const r = await post(form.action, fd);
      if (!r.ok) {
        out.replaceChildren(h("div", { class: "alert alert-danger mb-0", "data-testid": "try-error" }, `HTTP ${r.status}`));
        return;
      }
      const tmp = document.createElement("template");
      tmp.innerHTML = r.data.html || "";
      out.replaceChildren(tmp.content);
      const errors = Object.entries(r.data.errors || {});
      if (errors.length) {
        out.append(h("ul", { class: "text-danger small mb-0 ps-3", "data-testid": "try-form-errors" },
          ...errors.map(([k, v]) => h("li", {}, `${k === "__all__" ? "" : k + ": "}${v.join(" ")}`))));
      }
      if (actions && r.data.action_errors && Object.keys(r.data.action_errors).length) {
        actionErrors = r.data.action_errors;
        renderActions();
      }
      return;
    }
    if (submitting || (!timer && !pending)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    await flush();
    submitting = true;
    form.submit();
  }, true);

  renderBuilder();
  if (!config.tree && cel.value.trim() && !document.querySelector("[data-testid=error-condition]")) {
    check().then(() => {
      if (cel.classList.contains("is-valid")) checkEl.append(h("div", { class: "text-secondary" }, t("cannot-parse")));
    });
  }
  if (readonly) builderEl.querySelectorAll("input, select, button").forEach((el) => { el.disabled = true; });
}
