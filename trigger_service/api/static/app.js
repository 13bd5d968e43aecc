// The status page: a listing of recent executions, kept live by Server-Sent Events.
// Every value from the service is put into the page with textContent or as a URL-encoded
// path segment: keys and messages are user data and never become markup.
"use strict";

const FINAL = new Set(["succeeded", "failed"]);
const LIMIT = 50;
const MAX_ROWS = 200; // the oldest rows leave past this, so a page left open stays small
const records = new Map(); // id -> {record, sequence}
const rows = new Map(); // id -> <tr>
const workflows = new Set();
let stream = null;

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function filters() {
  return { workflow: $("filter-workflow").value, status: $("filter-status").value };
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

function bytes(n) {
  if (n == null) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function seconds(start, end) {
  if (!start) return "";
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : Date.now();
  return `${Math.max(0, (to - from) / 1000).toFixed(1)} s`;
}

function isImage(record) {
  // Image stages are decode/encode, or branch.decode/branch.encode in a fan-out.
  return record.steps.some((step) => /(^|\.)(decode|encode)$/.test(step.name));
}

function previewUrl(record, side, max) {
  return `/executions/${encodeURIComponent(record.id)}/preview?side=${side}&max=${max}`;
}

function outputsOf(record) {
  // A fan-out names each output; a single-output workflow has one, unnamed.
  if (record.outputs && record.outputs.length) return record.outputs;
  return record.output ? [record.output] : [];
}

function objectCell(record) {
  const cell = el("td", { className: "objects" });
  const sides = [["input", record.input, null]];
  for (const ref of outputsOf(record)) sides.push(["output", ref, ref.name || null]);
  sides.forEach(([side, ref, name], index) => {
    if (index) cell.append(el("span", { className: "muted", text: index === 1 ? " → " : ", " }));
    const label = `${name ? name + ": " : ""}s3://${ref.bucket}/${ref.key}`;
    const href = previewUrl(record, side, 1024) + (name ? `&output=${encodeURIComponent(name)}` : "");
    const link = isImage(record) && (side === "input" || record.status === "succeeded")
      ? el("a", { href, target: "_blank", rel: "noopener", text: label })
      : el("span", { text: label });
    link.classList.add(`object-${side}`);
    cell.append(link);
  });
  return cell;
}

function statusCell(record) {
  const cell = el("td", { className: "status-cell" },
    el("span", { className: "status", dataset: { status: record.status }, text: record.status }));
  if (record.attempts > 1) cell.append(el("span", { className: "muted", text: ` attempt ${record.attempts}` }));
  if (record.error) {
    cell.append(el("div", { className: "error" },
      el("span", { className: "error-code", text: record.error.code }),
      el("span", { text: `: ${record.error.message}` }),
      record.error.step ? el("span", { className: "muted", text: ` (step ${record.error.step})` }) : null));
  }
  if (record.status === "failed") {
    const button = el("button", { type: "button", className: "retry", text: "Re-run" });
    button.addEventListener("click", () => retry(record.id, button));
    cell.append(button);
  }
  return cell;
}

function stepsCell(record) {
  const cell = el("td", { className: "steps" });
  const total = record.input && record.input.size;
  for (const step of record.steps) {
    const done = step.name === "read" ? step.bytes_out : step.bytes_in;
    // A finished step is full; a running one shows how much of the input it has taken.
    const finished = step.status === "succeeded";
    const fraction = finished ? 1 : total ? Math.min(1, done / total) : 0;
    const bar = el("div", { className: "bar", role: "progressbar",
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(fraction * 100)) },
      el("span", {}));
    bar.firstChild.style.width = `${(fraction * 100).toFixed(1)}%`;
    let detail = `in ${bytes(step.bytes_in)} · out ${bytes(step.bytes_out)}`;
    if (step.details && step.details.parts_uploaded != null) detail += ` · ${step.details.parts_uploaded} parts`;
    cell.append(el("div", { className: "step", dataset: { status: step.status, step: step.name } },
      el("span", { className: "step-name", title: step.name, text: step.name }), bar,
      el("span", { className: "muted", text: detail })));
  }
  return cell;
}

function thumbsCell(record, previous) {
  const cell = el("td", { className: "thumbs-cell" });
  if (!isImage(record)) return cell;
  const thumbs = el("div", { className: "thumbs" });
  for (const side of ["input", "output"]) {
    const ready = side === "input" || (record.status === "succeeded" && outputsOf(record).length);
    if (!ready) continue;
    const old = previous && previous.querySelector(`img.thumb-${side}`);
    let img = old;
    if (!img) {
      img = el("img", { className: `thumb-${side}`, alt: "", title: `${side}`,
        src: previewUrl(record, side, 256), loading: "lazy" });
      img.addEventListener("error", () => img.classList.add("unavailable"));
    }
    thumbs.append(img);
  }
  cell.append(thumbs);
  return cell;
}

function render(record) {
  workflows.add(record.workflow);
  const previous = rows.get(record.id);
  const row = el("tr", { dataset: { id: record.id, status: record.status, workflow: record.workflow } },
    el("td", { className: "muted" },
      el("a", { href: `/executions/${encodeURIComponent(record.id)}`, title: record.id,
        className: "record-link", text: new Date(record.created_at).toLocaleTimeString() })),
    el("td", { text: record.workflow }),
    objectCell(record),
    statusCell(record),
    el("td", { className: "duration", text: seconds(record.started_at, record.finished_at) }),
    stepsCell(record),
    thumbsCell(record, previous));
  const wanted = filters();
  row.hidden = (wanted.status && record.status !== wanted.status) ||
    (wanted.workflow && record.workflow !== wanted.workflow);
  if (previous) previous.replaceWith(row);
  else place(row, record);
  rows.set(record.id, row);
  trim();
  $("empty").hidden = rows.size > 0;
  refreshWorkflows();
}

function place(row, record) {
  const body = $("rows");
  for (const other of body.children) {
    const shown = records.get(other.dataset.id);
    if (shown && shown.record.created_at < record.created_at) { body.insertBefore(row, other); return; }
  }
  body.append(row);
}

function trim() {
  const body = $("rows");
  while (body.children.length > MAX_ROWS) {
    const oldest = body.lastElementChild;
    rows.delete(oldest.dataset.id);
    records.delete(oldest.dataset.id);
    oldest.remove();
  }
}

function upsert(record, sequence) {
  const known = records.get(record.id);
  if (known) {
    if (sequence && known.sequence >= sequence) return;
    const regress = FINAL.has(known.record.status) && !FINAL.has(record.status) &&
      record.attempts <= known.record.attempts;
    if (!sequence && regress) return;
  }
  records.set(record.id, { record, sequence: sequence || (known ? known.sequence : 0) });
  render(record);
}

function refreshWorkflows() {
  const select = $("filter-workflow");
  const present = new Set([...select.options].map((option) => option.value));
  for (const name of [...workflows].sort()) {
    if (!present.has(name)) select.append(el("option", { value: name, text: name }));
  }
}

async function loadList() {
  const response = await fetch(`/executions${query({ ...filters(), limit: LIMIT })}`);
  if (!response.ok) { notice(await errorText(response)); return; }
  const page = await response.json();
  for (const record of page.executions) upsert(record, 0);
}

function connect() {
  if (stream) stream.close();
  stream = new EventSource(`/executions/stream${query({ workflow: filters().workflow })}`);
  stream.addEventListener("open", () => setConnection("live", "live"));
  stream.addEventListener("error", () => {
    setConnection("error", "reconnecting…");
    // Refused (e.g. 503 when every stream is taken): EventSource gives up, so try later.
    if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 10000);
  });
  stream.addEventListener("progress", (event) => upsert(JSON.parse(event.data), Number(event.lastEventId)));
  stream.addEventListener("reset", () => loadList());
}

function setConnection(state, text) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = text;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${body.error.code}: ${body.error.message}`;
  } catch (error) {
    return `HTTP ${response.status}`;
  }
}

function notice(text) {
  const node = $("notice");
  node.textContent = text;
  node.hidden = !text;
}

async function retry(id, button) {
  button.disabled = true;
  const response = await fetch(`/executions/${encodeURIComponent(id)}/retry`, {
    method: "POST", headers: { "X-Bucketstream-Page": "1" },
  });
  if (response.ok) { notice(""); upsert(await response.json(), 0); }
  else { notice(await errorText(response)); button.disabled = false; }
}

function restart() {
  for (const row of rows.values()) row.remove();
  rows.clear();
  records.clear();
  connect();
  loadList();
}

function tick() {
  for (const [id, row] of rows) {
    const shown = records.get(id);
    if (shown && shown.record.status === "running") {
      row.querySelector(".duration").textContent = seconds(shown.record.started_at, null);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("filter-workflow").addEventListener("change", restart);
  $("filter-status").addEventListener("change", restart);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  connect();
  loadList();
  setInterval(tick, 1000);
});
