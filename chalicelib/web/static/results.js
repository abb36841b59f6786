// What a batch says, as the page shows it: what was detected in the file, the counts (each an
// element with `data-count="<name>"` whose text is the number alone), rejected by reason, and
// a first look at the rejected rows. Every value is rendered as text.

import { clear, count, el, scrollingTable, shown } from "./dom.js";

export function renderDetected(list, file) {
  clear(list);
  const delimiter = file.delimiter
    ? `${file.delimiter_name || "?"} (${visible(file.delimiter)})`
    : "–";
  const pairs = [
    ["Format", file.format],
    ["Compressed", file.compressed === undefined ? null : file.compressed ? "yes (gzip)" : "no"],
    ["Encoding", file.encoding],
    ["Delimiter", delimiter],
    ["Sheet", file.sheet],
    ["Mapping from", mappingFrom(file.mapping_from)],
  ];
  for (const [term, value] of pairs) {
    list.append(
      el(
        "div",
        {},
        el("dt", {}, term),
        el("dd", {}, value === null || value === undefined ? "–" : shown(value)),
      ),
    );
  }
}

function visible(delimiter) {
  return delimiter === "\t" ? "\\t" : delimiter;
}

function mappingFrom(from) {
  const words = {
    upload: "this upload's mapping",
    profile: "your profile",
    none: "column names (no mapping)",
  };
  return words[from] || from;
}

// The counts of a batch; `dry` words "stored" as "would be stored".
export function renderCounts(container, batch, { dry }) {
  clear(container);
  const byReason = batch.rejected_by_reason || {};
  const items = [
    ["total", "Orders in the file", batch.total],
    ["stored", dry ? "Would be stored" : "Stored", batch.stored],
    [
      "unchanged",
      dry ? "Already stored, unchanged" : "Unchanged (already stored)",
      batch.unchanged,
    ],
    [
      "conflict",
      "Conflicts (OrderId stored with other content)",
      byReason.conflict ?? (batch.rejected === null || batch.rejected === undefined ? null : 0),
    ],
    ["rejected", dry ? "Would be rejected" : "Rejected", batch.rejected],
  ];
  const list = el("dl", { class: "counts" });
  for (const [name, words, value] of items) {
    const number = value === null || value === undefined ? "–" : String(value);
    list.append(el("div", {}, el("dt", {}, words), el("dd", { "data-count": name }, number)));
  }
  container.append(list);
}

export function renderReasons(container, batch) {
  clear(container);
  const byReason = batch.rejected_by_reason || {};
  const entries = Object.entries(byReason).filter(([, n]) => n);
  if (!entries.length) return;
  container.append(el("h3", {}, "Rejected by reason"));
  const list = el("ul", { class: "reasons" });
  for (const [reason, n] of entries)
    list.append(el("li", {}, `${reason} (${REASON_WORDS[reason] || "other"}): ${count(n)}`));
  container.append(list);
}

export const REASON_WORDS = {
  invalid: "a value breaks a rule",
  conflict: "OrderId already stored with other content",
  store_failed: "could not be stored, try again later",
};

// The first rejected rows of a batch: one line per error.
export function renderFirstRejected(container, rejections, { caption }) {
  clear(container);
  if (!rejections.length) return;
  const { wrap, body } = scrollingTable(caption, [
    "Row",
    "Order",
    "Field",
    "Code",
    "Message",
    "Value as sent",
  ]);
  for (const rejection of rejections) {
    for (const error of rejection.errors || []) {
      body.append(
        el(
          "tr",
          {},
          el("td", { class: "num" }, String(rejection.row ?? "")),
          el("td", {}, shown(rejection.order_id ?? "")),
          el("td", {}, shown(error.field ?? "")),
          el("td", {}, el("code", {}, shown(error.code ?? ""))),
          el("td", {}, shown(error.message ?? "")),
          valueCell(error.value),
        ),
      );
    }
  }
  container.append(wrap);
}

export function valueCell(value) {
  if (value === null || value === undefined) return el("td", { class: "none" }, "(nothing)");
  if (value === "") return el("td", { class: "none" }, "(empty)");
  return el("td", { class: "value" }, shown(value));
}

export function statusWords(batch) {
  const words = {
    pending: "waiting for the file",
    running: "running",
    succeeded: "succeeded",
    failed: "failed",
    quarantined: "quarantined",
    expired: "expired (nothing was uploaded)",
  };
  return words[batch.status] || batch.status;
}
