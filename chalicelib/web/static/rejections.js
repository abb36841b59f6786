// The rejected rows of a batch: a table (one line per error: Row, Field, Code, Message, Value as
// sent, New value) paged with "Load more", filtered by reason (on the server) or by error code
// (in the page). Corrections, and every edited row itself, are kept across pages and filters:
// re-validating and resending take every edited row, shown or not. A corrected row is the order
// as the pipeline read it with the new values at their place (each field in its group, as
// `static/fields.json` says). Re-validation is a dry run of them (POST /orders?dry_run=true); a
// resend is a new batch naming the one it corrects (POST /orders?corrects=) holding only rows
// whose current values re-validated (never for a dry run: it stored nothing to correct). A row
// is "sent again" only when the new batch did not reject it; else its new errors show.

import { allPages, call } from "./api.js";
import {
  $,
  asText,
  busy,
  clear,
  el,
  notice,
  scrollingTable,
  shown,
  show,
  webAddress,
} from "./dom.js";
import { groupOf, loadFields } from "./fields.js";
import { REASON_WORDS, valueCell } from "./results.js";
import { followBatch } from "./upload.js";

const PAGE = 100;
const COLUMNS = ["Row", "Field", "Code", "Message", "Value as sent", "New value"];
const DRY_RUN =
  "This was a dry run: nothing was stored. Send the file for real, then fix its rejected rows here.";
const REPORT_FRESH_MS = 10 * 60 * 1000;

let seq = 0; // a page asked for before the last reset or filter change is dropped
const state = fresh();
let ctx = null; // {say, fail, done}

// Re-validating and resending are one at a time: while either runs, both buttons are disabled
// (a resend during a re-validation would start a second dry run of the same rows).
async function alone(button, words, action) {
  const other = button.id === "resend" ? $("revalidate") : $("resend");
  other.disabled = true;
  try {
    return await busy(button, words, action);
  } finally {
    other.disabled = false;
    resendable();
  }
}

// A dry run stored nothing: there is nothing to correct, so its rows cannot be resent.
function resendable() {
  const dry = Boolean(state.batch && state.batch.dry_run);
  $("resend").disabled = dry;
  $("resend-note").textContent = dry ? DRY_RUN : "";
  show($("resend-note"), dry);
}

export function setupRejections(context) {
  ctx = context;
  $("reason-filter").addEventListener("change", onFilter);
  $("load-more").addEventListener("click", () =>
    busy($("load-more"), "loading", () => loadPage()).catch(ctx.fail),
  );
  $("revalidate").addEventListener("click", () =>
    alone($("revalidate"), "re-validating", () => revalidate()).catch(ctx.fail),
  );
  $("resend").addEventListener("click", () =>
    alone($("resend"), "sending", () => resend()).catch(ctx.fail),
  );
  for (const event of ["focus", "mouseenter"])
    $("report-link").addEventListener(event, freshReport);
}

function fresh() {
  return {
    batch: null,
    rows: [],
    next: null,
    reason: "",
    shownReason: "",
    code: "",
    edits: new Map(), // row number → Map(path → new value)
    edited: new Map(), // row number → the rejection edited (kept whatever the filter shows)
    results: new Map(), // row number → {ok, errors, signature, batch?}
    sent: new Set(),
    reportAt: 0,
  };
}

export function resetRejections() {
  seq += 1;
  Object.assign(state, fresh());
  clear($("rejected-table"));
  $("resend-result").textContent = "";
  resendable();
  show($("rejected"), false);
}

// Shows the rejected rows of an ended batch.
export async function openRejections(batch) {
  resetRejections();
  state.batch = batch;
  show($("rejected"), true);
  setReport(batch);
  const n = batch.rejected || 0;
  $("rejected-summary").textContent = n
    ? `Batch ${batch.batch_id}: ${n} rejected ${n === 1 ? "row" : "rows"}.`
    : `Batch ${batch.batch_id} has no rejected rows.`;
  resendable();
  fillFilter();
  const mine = seq;
  await loadFields();
  if (mine !== seq) return;
  if (n) await loadPage();
  else render();
}

function setReport(batch) {
  const link = $("report-link");
  const csv = webAddress(batch.report && batch.report.csv);
  show(link, Boolean(csv));
  if (csv) link.setAttribute("href", csv);
  state.reportAt = Date.now();
}

async function freshReport() {
  if (!state.batch || Date.now() - state.reportAt < REPORT_FRESH_MS) return;
  state.reportAt = Date.now();
  try {
    setReport(await call("GET", `batches/${encodeURIComponent(state.batch.batch_id)}`));
  } catch {
    // the old link may still work; a later focus tries again
  }
}

async function loadPage() {
  const mine = seq;
  const id = state.batch.batch_id;
  const page = await call("GET", `batches/${encodeURIComponent(id)}/rejections`, {
    query: { limit: PAGE, reason: state.reason, cursor: state.next },
  });
  if (mine !== seq) return;
  state.rows.push(...(page.rejections || []));
  state.next = page.next || null;
  fillFilter();
  render();
  ctx.say(
    `${state.rows.length} rejected ${state.rows.length === 1 ? "row" : "rows"} shown${state.next ? "; more can be loaded" : ""}.`,
  );
}

function fillFilter() {
  const select = $("reason-filter");
  const current = select.value;
  const options = [["", "All"]];
  for (const reason of Object.keys((state.batch && state.batch.rejected_by_reason) || {}))
    options.push([`reason:${reason}`, `${reason} (reason, ${REASON_WORDS[reason] || reason})`]);
  const codes = new Set();
  for (const row of state.rows) for (const error of row.errors || []) codes.add(error.code);
  for (const code of [...codes].sort()) options.push([`code:${code}`, `${code} (error code)`]);
  clear(select);
  for (const [value, words] of options) select.append(el("option", { value }, words));
  select.value = options.some(([value]) => value === current) ? current : "";
}

async function onFilter() {
  const value = $("reason-filter").value;
  const reason = value.startsWith("reason:") ? value.slice(7) : "";
  state.code = value.startsWith("code:") ? value.slice(5) : "";
  state.shownReason = reason;
  const allLoaded = !state.next && !state.reason; // then the page filters what it holds
  if (!allLoaded && reason !== state.reason) {
    seq += 1;
    state.reason = reason;
    state.rows = [];
    state.next = null;
    show($("load-more"), false); // until this filter's first page: its cursor is not known yet
    await loadPage().catch(ctx.fail);
  } else {
    render();
  }
}

function render() {
  const container = clear($("rejected-table"));
  show($("load-more"), Boolean(state.next));
  const { wrap, body } = scrollingTable("Each error of each rejected row", COLUMNS);
  let lines = 0;
  for (const row of state.rows) {
    if (state.shownReason && row.reason !== state.shownReason) continue;
    const errors = (row.errors || []).filter((e) => !state.code || e.code === state.code);
    errors.forEach((error, index) => {
      body.append(errorLine(row, error, index === 0));
      lines += 1;
    });
  }
  if (!lines)
    body.append(
      el(
        "tr",
        {},
        el(
          "td",
          { colspan: "6" },
          state.rows.length ? "No row matches this filter." : "No rejected rows.",
        ),
      ),
    );
  container.append(wrap);
}

function errorLine(row, error, first) {
  const place = placeOf(row, error.field);
  const label = place ? place.leaf : String(error.field ?? "order");
  const cell = el("td", { class: "edit" });
  if (place) {
    const id = `new-${row.row}-${place.path}`;
    const input = el("input", {
      id,
      type: "text",
      "aria-label": `New value for ${label} in row ${row.row}`,
      spellcheck: "false",
      autocomplete: "off",
    });
    const kept = (state.edits.get(row.row) || new Map()).get(place.path);
    input.value = kept !== undefined ? kept : asText(error.value);
    input.disabled = state.sent.has(row.row);
    input.addEventListener("input", () => edit(row, place.path, input.value));
    cell.append(input);
  } else {
    cell.append(
      el(
        "span",
        { class: "note" },
        row.order_truncated
          ? "Too large to edit here: fix it in the file."
          : "Not a single value: fix it in the file.",
      ),
    );
  }
  if (first)
    cell.append(el("p", { class: "row-result", id: `result-${row.row}` }, resultWords(row)));
  return el(
    "tr",
    {},
    el("td", { class: "num" }, first ? String(row.row ?? "") : ""),
    el("td", {}, shown(label)),
    el("td", {}, el("code", {}, shown(error.code ?? ""))),
    el("td", {}, shown(error.message ?? "")),
    valueCell(error.value),
    cell,
  );
}

// Where an error's field lives in the order: "order-info.qty" or "qty" → {path, leaf}.
function placeOf(row, field) {
  if (!row.order || row.order_truncated || typeof field !== "string") return null;
  const parts = field.split(".");
  const leaf = parts[parts.length - 1];
  const group = parts.length === 2 ? parts[0] : parts.length === 1 ? groupOf(leaf) : null;
  if (!group || groupOf(leaf) !== group) return null;
  return { path: `${group}.${leaf}`, group, leaf };
}

function edit(row, path, value) {
  if (!state.edits.has(row.row)) state.edits.set(row.row, new Map());
  state.edits.get(row.row).set(path, value);
  state.edited.set(row.row, row);
  const result = $(`result-${row.row}`);
  if (result) result.textContent = resultWords(row);
}

function corrected(row) {
  const order = structuredClone(row.order);
  for (const [path, value] of state.edits.get(row.row) || []) {
    const [group, leaf] = path.split(".");
    if (!order[group] || typeof order[group] !== "object" || Array.isArray(order[group]))
      order[group] = {};
    order[group][leaf] = value;
  }
  return order;
}

function isCorrected(row) {
  if (state.sent.has(row.row) || !state.edits.has(row.row)) return false;
  return JSON.stringify(corrected(row)) !== JSON.stringify(row.order);
}

// Every edited row that differs from what was sent, in file order, whatever the filter shows.
function correctedRows() {
  return [...state.edited.values()].filter(isCorrected).sort((a, b) => a.row - b.row);
}

function resultWords(row) {
  if (state.sent.has(row.row))
    return `Sent again in batch ${state.results.get(row.row)?.batch || "(unknown)"}.`;
  const result = state.results.get(row.row);
  if (!result || result.signature !== JSON.stringify(corrected(row)))
    return isCorrected(row) ? "Changed: not re-validated yet." : "";
  if (result.ok) return "Would be stored.";
  const where = result.batch ? `Rejected again in batch ${result.batch}` : "Still rejected";
  return `${where}: ${result.errors}`;
}

// The errors of a batch of corrected rows, by position (its `row`: 1-based, in the orders sent).
async function errorsByPosition(batch) {
  const rejected = batch.rejected
    ? await allPages(`batches/${encodeURIComponent(batch.batch_id)}/rejections`, "rejections", {
        query: { limit: 500 },
      })
    : [];
  const words = (again) =>
    (again.errors || []).map((e) => `${e.code} (${e.message})`).join("; ") ||
    String(again.reason ?? "rejected");
  return new Map(rejected.map((again) => [again.row, words(again)]));
}

async function revalidate() {
  const opened = state.batch; // another batch opened meanwhile: its rows are not these
  const rows = correctedRows();
  if (!rows.length) throw notice("Change a value in the New value column first.");
  const orders = rows.map(corrected);
  ctx.say(`Re-validating ${rows.length} corrected ${rows.length === 1 ? "row" : "rows"}…`);
  const accepted = await call("POST", "orders", { query: { dry_run: "true" }, body: { orders } });
  const batch = await followBatch(accepted.batch_id, {
    onUpdate: (b) => ctx.say(`Re-validating: ${b.done ?? 0} of ${b.total ?? orders.length} rows…`),
  });
  if (!batch || state.batch !== opened) return []; // signed out, or another batch opened
  if (batch.status !== "succeeded")
    throw notice(
      `The re-validation ended ${batch.status}: ${batch.error ? batch.error.message : "try again"}.`,
    );
  const errors = await errorsByPosition(batch);
  if (state.batch !== opened) return [];
  rows.forEach((row, index) => {
    const again = errors.get(index + 1);
    const signature = JSON.stringify(orders[index]);
    state.results.set(row.row, { ok: again === undefined, errors: again || "", signature });
  });
  render();
  const good = rows.length - errors.size;
  ctx.say(
    `${good} of ${rows.length} corrected ${rows.length === 1 ? "row" : "rows"} would now be stored.`,
  );
  return rows;
}

async function resend() {
  if (state.batch.dry_run) throw notice(DRY_RUN);
  const opened = state.batch;
  let rows = correctedRows();
  if (!rows.length) throw notice("Change a value in the New value column first.");
  const stale = rows.some(
    (row) => state.results.get(row.row)?.signature !== JSON.stringify(corrected(row)),
  );
  if (stale && !(await revalidate()).length) return;
  rows = rows.filter((row) => {
    const result = state.results.get(row.row);
    return result && result.ok && result.signature === JSON.stringify(corrected(row));
  });
  if (!rows.length)
    throw notice(
      "No corrected row would be stored yet: fix the values marked still rejected, then try again.",
    );
  const original = state.batch.batch_id;
  const orders = rows.map(corrected);
  ctx.say(`Sending ${rows.length} corrected ${rows.length === 1 ? "row" : "rows"} as a new batch…`);
  const accepted = await call("POST", "orders", {
    query: { corrects: original },
    body: { orders },
  });
  const batch = await followBatch(accepted.batch_id, {
    onUpdate: (b) =>
      ctx.say(`Batch ${b.batch_id}: ${b.done ?? 0} of ${b.total ?? rows.length} orders…`),
  });
  if (!batch) return; // signed out meanwhile
  if (state.batch === opened) await markResent(rows, orders, batch);
  const words = `Batch ${batch.batch_id} (correcting ${original}) ${batch.status}: ${batch.stored ?? 0} stored, ${batch.unchanged ?? 0} unchanged, ${batch.rejected ?? 0} rejected.`;
  if (state.batch === opened) $("resend-result").textContent = words;
  ctx.say(words);
  await ctx.done(batch);
}

// After a resend: a row the new batch took is "sent again" (no longer editable); a row it
// rejected shows its new errors and stays editable. A batch that did not succeed may have left
// rows unprocessed: then no row counts as sent (its words say so).
async function markResent(rows, orders, batch) {
  if (batch.status !== "succeeded") return;
  const opened = state.batch;
  const errors = await errorsByPosition(batch);
  if (state.batch !== opened) return;
  rows.forEach((row, index) => {
    const again = errors.get(index + 1);
    if (again === undefined) state.sent.add(row.row);
    const result = { ok: again === undefined, errors: again || "", batch: batch.batch_id };
    state.results.set(row.row, { ...result, signature: JSON.stringify(orders[index]) });
  });
  render();
}
