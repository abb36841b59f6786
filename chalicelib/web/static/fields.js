// The order's fields as the server states them (`static/fields.json`, built from the reader's own
// list): `fields` in order, and `groups`, the group each field lives in within an order
// (`order-info` or `contact-info`). Fetched once per page (again only after a failure); the
// page keeps no list of its own, so it can never disagree with the server.

import { call } from "./api.js";
import { notice } from "./dom.js";

let loading = null;
let known = { fields: [], groups: Object.create(null) };

// Answers {fields, groups}; throws (and tries again next time) when the file cannot be read.
export function loadFields() {
  if (!loading) {
    loading = call("GET", "static/fields.json", { anonymous: true })
      .then(knownFrom)
      .catch((error) => {
        loading = null;
        throw error;
      });
  }
  return loading;
}

function knownFrom(answer) {
  if (!answer || !Array.isArray(answer.fields) || !answer.groups)
    throw notice("The page could not read its list of order fields: reload the page.");
  const groups = Object.create(null);
  for (const field of answer.fields)
    if (Object.hasOwn(answer.groups, field)) groups[field] = String(answer.groups[field]);
  known = { fields: answer.fields.map(String), groups };
  return known;
}

// The group of an order field ("qty" → "order-info"), or undefined for anything else.
export function groupOf(field) {
  return Object.hasOwn(known.groups, field) ? known.groups[field] : undefined;
}
