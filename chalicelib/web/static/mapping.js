// The column mapping editor: one select per order field ("Column for <field>"), offering the
// file's headers and "(not in the file)". Preselected with what the pipeline matched
// (`file.columns`), else its first suggestion (`file.suggestions[field]`), else nothing.
// `mappingFrom()` builds the API's mapping object: the mapping the dry run applied (its sheet,
// delimiter, encoding, header row kept) with `"columns": {field: header}` in place of its own,
// leaving out fields set to "(not in the file)"; `problems()` names a header chosen for two
// fields (the API would refuse it as `mapping.invalid`). The fields come from the server
// (fields.js).

import { clear, el, escapeInvisible } from "./dom.js";

const NONE = "";

// `fields`: the order's fields, in order (fields.js).
export function renderMapping(container, file, fields) {
  clear(container);
  const headers = unique((file && file.headers) || []);
  const columns = (file && file.columns) || {};
  const suggestions = (file && file.suggestions) || {};
  for (const field of fields) {
    const id = `map-${field}`;
    const wanted = headers.includes(columns[field])
      ? columns[field]
      : (suggestions[field] || []).find((h) => headers.includes(h));
    const select = el("select", { id, "data-field": field });
    select.append(el("option", { value: NONE }, "(not in the file)"));
    for (const header of headers)
      select.append(el("option", { value: header }, visibleHeader(header)));
    select.value = wanted === undefined ? NONE : wanted;
    const hint =
      columns[field] !== undefined ? "matched by the pipeline" : suggestionHint(suggestions[field]);
    const hintId = `${id}-hint`;
    select.setAttribute("aria-describedby", hintId);
    container.append(
      el(
        "div",
        { class: "map-row" },
        el("label", { for: id }, `Column for ${field}`),
        select,
        el("span", { id: hintId, class: "hint" }, hint),
      ),
    );
  }
}

function suggestionHint(list) {
  if (!list || !list.length) return "no column matched";
  return `suggested: ${list.map(visibleHeader).join(", ")}`;
}

// A header as an option's text: invisible characters escaped (an option cannot hold markup).
function visibleHeader(header) {
  return escapeInvisible(header) || "(empty)";
}

function unique(list) {
  return [...new Set(list.filter((h) => typeof h === "string" && h !== ""))];
}

// The mapping the editor shows: `base` (the mapping the dry run applied, with its sheet,
// delimiter, encoding or header row; may be null) with the editor's columns in place of its own.
export function mappingFrom(container, base) {
  const columns = {};
  for (const select of container.querySelectorAll("select[data-field]")) {
    if (select.value !== NONE) columns[select.dataset.field] = select.value;
  }
  return { ...(base || {}), columns };
}

export function problems(mapping) {
  const byHeader = new Map();
  for (const [field, header] of Object.entries(mapping.columns)) {
    byHeader.set(header, [...(byHeader.get(header) || []), field]);
  }
  const found = [];
  for (const [header, fields] of byHeader) {
    if (fields.length > 1)
      found.push(
        `The column "${visibleHeader(header)}" is chosen for ${fields.join(" and ")}: choose one column per field.`,
      );
  }
  if (!Object.keys(mapping.columns).length) found.push("Choose the column of at least one field.");
  return found;
}
