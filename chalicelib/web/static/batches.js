// Recent batches: GET /batches a page at a time (newest first), "Show more" while the API says
// `next`, and a "Show <batch id>" button per batch that opens it in the progress and
// rejected-rows views.

import { call } from "./api.js";
import { $, busy, clear, count, el, scrollingTable, shown, show } from "./dom.js";
import { statusWords } from "./results.js";

const PAGE = 10;
const state = { batches: [], next: null };
let ctx = null; // {fail, open(batchId)}

export function setupBatches(context) {
  ctx = context;
  $("refresh").addEventListener("click", () =>
    busy($("refresh"), "refreshing", () => refreshBatches()).catch(ctx.fail),
  );
  $("show-more").addEventListener("click", () =>
    busy($("show-more"), "loading", () => more()).catch(ctx.fail),
  );
}

export function resetBatches() {
  state.batches = [];
  state.next = null;
  clear($("batches-table"));
  show($("show-more"), false);
}

// The first page again (also the sign-in check: a refused key throws).
export async function refreshBatches() {
  const page = await call("GET", "batches", { query: { limit: PAGE } });
  state.batches = page.batches || [];
  state.next = page.next || null;
  render();
}

async function more() {
  const page = await call("GET", "batches", { query: { limit: PAGE, cursor: state.next } });
  state.batches.push(...(page.batches || []));
  state.next = page.next || null;
  render();
}

function render() {
  const container = clear($("batches-table"));
  show($("show-more"), Boolean(state.next));
  if (!state.batches.length) {
    container.append(el("p", {}, "No batches yet."));
    return;
  }
  const caption = "Your batches, newest first";
  const { wrap, body } = scrollingTable(caption, [
    "Batch",
    "Created",
    "Status",
    "Total",
    "Stored",
    "Rejected",
    "Corrects",
  ]);
  for (const batch of state.batches) {
    const open = el("button", { type: "button", class: "link" }, `Show ${batch.batch_id}`);
    open.addEventListener("click", () => ctx.open(batch.batch_id));
    const file = batch.file_name
      ? el("span", { class: "note block" }, shown(batch.file_name))
      : null;
    const status = `${statusWords(batch)}${batch.dry_run ? " (dry run)" : ""}`;
    body.append(
      el(
        "tr",
        {},
        el("td", {}, open, file),
        el("td", {}, when(batch.created_at)),
        el("td", {}, status),
        el("td", { class: "num" }, count(batch.total)),
        el("td", { class: "num" }, count(batch.stored)),
        el("td", { class: "num" }, count(batch.rejected)),
        el("td", {}, batch.corrects ? shown(batch.corrects) : "–"),
      ),
    );
  }
  container.append(wrap);
}

function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return el(
    "time",
    { datetime: iso },
    date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }),
  );
}
