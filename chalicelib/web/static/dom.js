// Tiny DOM helpers. Guarantee: every value reaches the page through textContent, value or
// setAttribute, never as markup (no innerHTML, insertAdjacentHTML, document.write or eval),
// so a cell holding `<script>` or `=HYPERLINK(...)` shows as itself; an address from the API
// becomes a link only when it is http(s) (`webAddress`).

export const $ = (id) => document.getElementById(id);

// el("td", {class: "num", "data-count": "total"}, "12", child, ...): attributes set one by
// one with setAttribute; children are nodes or text (null/undefined skipped).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) append(node, child);
  return node;
}

function append(node, child) {
  if (child === null || child === undefined) return;
  node.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

// Characters a person cannot see (C0/C1 controls but tab and line feed, DEL, zero-width and
// direction marks, line and paragraph separators, BOM): rendered as `\uXXXX` in a <code>, the
// rest as plain text (a line break in a cell shows as one; CR LF shows as a line break too).
const INVISIBLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, "g");

export function escapeInvisible(text) {
  return text.replace(INVISIBLE_ALL, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

// A value from a file or the API as a text node (or a fragment with visible escapes).
export function shown(value) {
  const text = asText(value).replace(/\r\n/g, "\n");
  if (!INVISIBLE.test(text)) return document.createTextNode(text);
  const fragment = document.createDocumentFragment();
  let plain = "";
  for (const c of text) {
    if (INVISIBLE.test(c)) {
      if (plain) fragment.append(document.createTextNode(plain));
      plain = "";
      fragment.append(el("code", { class: "ctl" }, escapeInvisible(c)));
    } else {
      plain += c;
    }
  }
  if (plain) fragment.append(document.createTextNode(plain));
  return fragment;
}

// Any JSON value as the text a person would type: strings as they are, null as "", the rest
// as JSON.
export function asText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let size = n / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

export function count(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
}

// A table inside a labelled, focusable wrapper that scrolls sideways on a narrow screen.
export function scrollingTable(caption, headers) {
  const label = `${caption} (table, scrolls sideways)`;
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)));
  const body = el("tbody");
  const table = el("table", {}, el("caption", {}, caption), el("thead", {}, head), body);
  const wrap = el(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    table,
  );
  return { wrap, table, body };
}

// An http(s) address as it is, else null: a `javascript:` or `data:` URL never becomes a link.
export function webAddress(text) {
  if (typeof text !== "string" || !text) return null;
  try {
    const { protocol } = new URL(text, location.href);
    return protocol === "https:" || protocol === "http:" ? text : null;
  } catch {
    return null;
  }
}

// Focus a step's heading (tabindex="-1") once the step before it has completed.
export function focusHeading(id) {
  const heading = $(id);
  if (heading) heading.focus();
}

// A failure of the page's own (no API code): the alert shows its message alone.
export function notice(message) {
  const error = new Error(message);
  error.code = "page";
  return error;
}

// A button that says what it is doing while its action runs, disabled meanwhile.
export async function busy(button, words, action) {
  const idle = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-disabled", "true");
  const note = el("span", { class: "busy" }, ` (${words})`);
  button.append(note);
  try {
    return await action();
  } finally {
    note.remove();
    button.textContent = idle;
    button.disabled = false;
    button.removeAttribute("aria-disabled");
  }
}
