// matcalc's page: the editor, the variables, the result, the steps and the code.
// State lives in the URL (?expr=…&wrt=X&kind=hessian&v.X=matrix:m,n), so a link reproduces the
// page. Typing updates the result after a pause (debounced); an older answer never overwrites a
// newer one. No inline script or style: the Content-Security-Policy forbids both.
"use strict";

const DEBOUNCE_MS = 250;
const TYPES = ["auto", "scalar", "vector", "matrix", "symmetric"];
const DEFAULT_DIMS = {scalar: "", vector: "n", matrix: "m,n", symmetric: "n,n"};
const ERROR_LABELS = {ParseError: "parse error", ShapeError: "shape error",
                      DifferentiationError: "differentiation error", RuleError: "rule error",
                      LimitError: "limit", BadRequest: "bad request", Busy: "busy",
                      InternalError: "internal error"};

const $ = (id) => document.getElementById(id);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// decl: name → {type, dims}, a map without a prototype (a name such as __proto__ is a name)
const state = {expr: "", wrt: [], hessian: false, decl: Object.create(null), tab: "numpy",
               code: {}};
let sequence = 0;          // the number of the latest update; answers to older ones are dropped
let timer = null;
let controller = null;

// -- the URL ----------------------------------------------------------------------------------
function readUrl() {
  const params = new URLSearchParams(window.location.search);
  state.expr = params.get("expr") ?? "w'*w where w = sigmoid(X'*a)";
  state.wrt = (params.get("wrt") || "").split(",").filter(Boolean);
  state.hessian = params.get("kind") === "hessian";
  state.decl = Object.create(null);
  for (const [key, value] of params) {
    const name = key.slice(2);
    if (!key.startsWith("v.") || !NAME.test(name)) continue;
    const [type, ...dims] = value.split(":");
    if (TYPES.includes(type)) state.decl[name] = {type, dims: dims.join(":")};
  }
}

function writeUrl() {
  const params = new URLSearchParams();
  params.set("expr", state.expr);
  if (state.wrt.length) params.set("wrt", state.wrt.join(","));
  if (state.hessian) params.set("kind", "hessian");
  for (const [name, d] of Object.entries(state.decl)) {
    if (d.type !== "auto" || d.dims) params.set(`v.${name}`, `${d.type}:${d.dims}`);
  }
  history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

// -- requests ---------------------------------------------------------------------------------
function mentioned(name) {
  return NAME.test(name) && new RegExp(`(^|[^A-Za-z0-9_])${name}($|[^A-Za-z0-9_])`)
    .test(state.expr);
}

function declarations() {
  const shapes = {};
  const symmetric = [];
  for (const [name, d] of Object.entries(state.decl)) {
    if (!mentioned(name)) continue;
    if (d.type === "symmetric") symmetric.push(name);
    if (d.type === "scalar") shapes[name] = "scalar";
    else if (d.dims.trim()) shapes[name] = d.dims.trim();
  }
  return {shapes, symmetric};
}

async function post(path, body, signal) {
  const response = await fetch(path, {method: "POST", signal, body: JSON.stringify(body),
                                      headers: {"Content-Type": "application/json"}});
  let payload;
  try {
    payload = await response.json();
  } catch {
    payload = {error: {type: "InternalError", message: `the server answered ${response.status}`}};
  }
  return {ok: response.ok, payload};
}

function schedule() {
  document.body.dataset.state = "pending";
  clearTimeout(timer);
  timer = setTimeout(update, DEBOUNCE_MS);
}

async function update() {
  const mine = ++sequence;
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  document.body.dataset.state = "busy";
  writeUrl();
  if (!state.expr.trim()) {
    showError(null);
    clearResults();
    renderVariables([]);
    return finish("Type an expression, e.g. w'*w where w = sigmoid(X'*a).");
  }
  $("status").textContent = "deriving…";
  try {
    const {shapes, symmetric} = declarations();
    const vars = await post("/api/variables", {expr: state.expr, shapes, symmetric}, signal);
    if (mine !== sequence) return;
    if (!vars.ok) {
      showError(vars.payload.error);
      clearResults();
      return finish("");
    }
    showError(null);
    renderVariables(vars.payload.variables);
    const names = vars.payload.variables.map((v) => v.name);
    state.wrt = state.wrt.filter((w) => names.includes(w));
    writeUrl();
    if (!state.wrt.length) {
      clearResults();
      return finish(names.length ? "Tick a variable to differentiate by." :
                                   "The expression has no variables.");
    }
    const body = {expr: state.expr, wrt: state.wrt.length === 1 ? state.wrt[0] : state.wrt,
                  shapes, symmetric, hessian: state.hessian, extras: true};
    const result = await post("/api/derive", body, signal);
    if (mine !== sequence) return;
    if (!result.ok) {
      showError(result.payload.error);
      clearResults();
      return finish("");
    }
    renderResults(Array.isArray(result.payload) ? result.payload : [result.payload]);
    finish("");
  } catch (error) {
    if (error.name === "AbortError" || mine !== sequence) return;
    showError({type: "InternalError", message: `no answer from the server (${error.message})`});
    finish("");
  }
}

function finish(status) {
  $("status").textContent = status;
  document.body.dataset.state = "idle";
}

// -- errors -----------------------------------------------------------------------------------
function showError(error) {
  const box = $("error");
  $("expr").classList.toggle("invalid", Boolean(error));
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.dataset.type = error.type;
  box.textContent = `${ERROR_LABELS[error.type] || error.type}: ${error.message}`;
}

// -- variables --------------------------------------------------------------------------------
function describe(v) {
  if (v.shape.length === 0) return "scalar";
  if (v.shape.length === 1) return `vector, ${v.shape[0]}`;
  return `${v.shape[0]} × ${v.shape[1]}${v.type === "symmetric" ? ", symmetric" : ""}`;
}

function renderVariables(variables) {
  const body = $("variables").tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.name, row]));
  variables.forEach((v, i) => {
    let row = rows.get(v.name);
    if (!row) row = makeRow(v.name);
    rows.delete(v.name);
    row.querySelector(".inferred").textContent = describe(v);
    row.querySelector("select").options[0].textContent = `auto (${v.type})`;
    row.querySelector("input[type=checkbox]").checked = state.wrt.includes(v.name);
    if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
  });
  for (const row of rows.values()) row.remove();
}

function makeRow(name) {
  const row = document.createElement("tr");
  row.dataset.name = name;
  const decl = state.decl[name] || {type: "auto", dims: ""};

  const wrt = document.createElement("input");
  wrt.type = "checkbox";
  wrt.setAttribute("aria-label", `differentiate by ${name}`);
  wrt.addEventListener("change", () => {
    state.wrt = state.wrt.filter((w) => w !== name);
    if (wrt.checked) state.wrt.push(name);
    schedule();
  });

  const type = document.createElement("select");
  type.setAttribute("aria-label", `type of ${name}`);
  for (const t of TYPES) type.add(new Option(t === "symmetric" ? "symmetric matrix" : t, t));
  type.value = decl.type;

  const dims = document.createElement("input");
  dims.type = "text";
  dims.className = "dims";
  dims.placeholder = "e.g. m,n";
  dims.value = decl.dims;
  dims.setAttribute("aria-label", `dimensions of ${name}`);
  const save = () => {
    state.decl[name] = {type: type.value, dims: dims.value};
    schedule();
  };
  type.addEventListener("change", () => {
    const count = dims.value.split(",").filter((d) => d.trim()).length;
    const wanted = {vector: 1, matrix: 2, symmetric: 2}[type.value];
    if (wanted && count !== wanted) dims.value = DEFAULT_DIMS[type.value];
    dims.disabled = type.value === "scalar";
    save();
  });
  dims.disabled = decl.type === "scalar";
  dims.addEventListener("input", save);

  const label = document.createElement("code");
  label.textContent = name;
  const inferred = document.createElement("span");
  inferred.className = "inferred";
  for (const element of [wrt, label, inferred, type, dims]) {
    const cell = document.createElement("td");
    cell.append(element);
    row.append(cell);
  }
  return row;
}

// -- results ----------------------------------------------------------------------------------
function typeset(tex, element, display = true) {
  try {
    katex.render(tex, element, {displayMode: display, throwOnError: true, output: "htmlAndMathml"});
    return true;
  } catch {
    element.textContent = tex;
    return false;
  }
}

function clearResults() {
  $("results").replaceChildren();
  $("steps-body").replaceChildren();
  $("code").hidden = true;
  $("steps").hidden = true;
}

function renderResults(derivations) {
  const results = $("results");
  results.replaceChildren();
  const steps = $("steps-body");
  steps.replaceChildren();
  for (const d of derivations) {
    const box = document.createElement("div");
    box.className = "result";
    box.dataset.kind = d.kind;
    const math = document.createElement("div");
    math.className = "math";
    typeset(d.latex, math);
    const text = document.createElement("p");
    text.className = "text";
    const code = document.createElement("code");
    code.textContent = d.text;
    text.append(`${d.kind} (${d.shape.length ? d.shape.join(" × ") : "scalar"}): `, code);
    const check = document.createElement("p");
    check.className = "check";
    check.textContent = d.check_error === null ? "not checked numerically" :
      `check: largest relative error against central finite differences: ` +
      `${d.check_error.toExponential(1)}`;
    box.append(math, text, check);
    for (const note of d.notes) {
      const p = document.createElement("p");
      p.className = "note";
      p.textContent = `note: ${note}`;
      box.append(p);
    }
    results.append(box);
    steps.append(renderSteps(d, derivations.length > 1));
  }
  $("steps").hidden = false;
  $("steps").querySelector("summary").textContent =
    `Derivation steps (${derivations.reduce((n, d) => n + d.steps.length, 0)})`;
  state.code = {...derivations[0].code,
                latex: derivations.map((d) => `${d.latex}\n\n${d.latex_steps}`).join("\n\n")};
  $("code").hidden = false;
  showTab(state.tab);
}

function renderSteps(d, titled) {
  const box = document.createElement("div");
  box.className = "derivation";
  if (titled) {
    const title = document.createElement("h3");
    title.textContent = `with respect to ${d.wrt}`;
    box.append(title);
  }
  const list = document.createElement("ol");
  for (const s of d.steps) {
    const item = document.createElement("li");
    const rule = document.createElement("span");
    rule.className = "rule";
    rule.textContent = s.rule;
    const line = document.createElement("code");
    line.textContent = `${s.lhs} = ${s.rhs}`;
    item.append(rule, line);
    if (s.note) {
      const note = document.createElement("span");
      note.className = "step-note";
      note.textContent = s.note;
      item.append(note);
    }
    list.append(item);
  }
  const math = document.createElement("div");
  math.className = "math steps-math";
  if (!typeset(d.latex_steps, math)) {
    box.append(list);       // KaTeX could not typeset it: the text is the derivation
    return box;
  }
  const asText = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "in the input language";
  asText.append(summary, list);
  box.append(math, asText);
  return box;
}

// -- code tabs --------------------------------------------------------------------------------
function showTab(tab) {
  state.tab = tab;
  for (const button of $("tabs").querySelectorAll("[role=tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  $("code-body").querySelector("code").textContent = state.code[tab] || "";
}

async function copyCode() {
  const text = state.code[state.tab] || "";
  const button = $("copy");
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

// -- start ------------------------------------------------------------------------------------
function start() {
  readUrl();
  const editor = $("expr");
  editor.value = state.expr;
  editor.addEventListener("input", () => {
    state.expr = editor.value;
    schedule();
  });
  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.checked = (radio.value === "hessian") === state.hessian;
    radio.addEventListener("change", () => {
      state.hessian = radio.value === "hessian" && radio.checked;
      schedule();
    });
  }
  for (const button of $("tabs").querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("copy").addEventListener("click", copyCode);
  clearResults();
  update();
}

document.addEventListener("DOMContentLoaded", start);
