// A preview of a chosen file's first rows, from its first 64 KiB only (`file.slice`): the page
// never reads a file whole. CSV/TSV (delimiter sniffed on the first line), JSON ({"orders": [...]}
// or a list) and JSON Lines; a workbook or a gzip stream answers a note instead (they cannot be
// read from their first part). Only a guide: the pipeline decides what the file holds.

const PREVIEW_BYTES = 65536;
const ROWS = 10;

export async function preview(file) {
  const head = new Uint8Array(await file.slice(0, PREVIEW_BYTES).arrayBuffer());
  const truncated = file.size > PREVIEW_BYTES;
  if (isPacked(file.name, head)) {
    return {
      note: "A workbook or a compressed file has no preview before upload: check the file to see what it holds.",
    };
  }
  const text = decode(head);
  const name = file.name.toLowerCase();
  const first = text.trimStart()[0];
  if (/\.(jsonl|ndjson)$/.test(name)) return table(jsonLines(text, truncated));
  if (name.endsWith(".json") || first === "{" || first === "[") return table(jsonItems(text));
  const delimiter = name.endsWith(".tsv") ? "\t" : sniff(text);
  const records = parseDelimited(text, delimiter, ROWS + 1, truncated);
  if (!records.length) return { note: "The file's first part holds no rows." };
  return { headers: records[0], rows: records.slice(1), delimiter };
}

function isPacked(name, head) {
  if (/\.(xlsx|xlsm|xls|gz|zip|ods)$/i.test(name)) return true;
  const zip = head[0] === 0x50 && head[1] === 0x4b;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  return zip || gzip;
}

function decode(head) {
  if (head[0] === 0xff && head[1] === 0xfe) return new TextDecoder("utf-16le").decode(head);
  if (head[0] === 0xfe && head[1] === 0xff) return new TextDecoder("utf-16be").decode(head);
  try {
    // a multi-byte character cut at 64 KiB is not an encoding error: drop the last 3 bytes' worth
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(head, {
      stream: true,
    });
  } catch {
    return new TextDecoder("windows-1252").decode(head);
  }
}

// The delimiter the first line uses most, outside quotes: , ; tab |
function sniff(text) {
  const counts = { ",": 0, ";": 0, "\t": 0, "|": 0 };
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && Object.hasOwn(counts, c)) counts[c] += 1;
  }
  let best = ",";
  for (const [c, n] of Object.entries(counts)) if (n > counts[best]) best = c;
  return best;
}

export const DELIMITER_NAMES = { ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe" };

// RFC 4180 records (quotes, doubled quotes, newlines inside quotes), at most `most`; when the
// text was cut, the last (perhaps partial) record is dropped.
function parseDelimited(text, delimiter, most, truncated) {
  const records = [];
  let record = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length && records.length < most; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) {
      record.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      record.push(field);
      if (record.length > 1 || record[0] !== "") records.push(record);
      record = [];
      field = "";
    } else field += c;
  }
  const ended = i >= text.length;
  if (ended && !truncated && (field !== "" || record.length) && records.length < most) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function jsonLines(text, truncated) {
  const lines = text.split(/\r?\n/);
  if (truncated) lines.pop();
  const items = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      items.push(JSON.parse(line));
    } catch {
      items.push({ "(line that is not JSON)": line });
    }
    if (items.length >= ROWS) break;
  }
  return items;
}

// The first complete elements of the orders list (or top-level list), found by scanning
// brackets and strings: the 64 KiB may end in the middle of the document.
function jsonItems(text) {
  let start = text.indexOf("[");
  const ordersKey = /"orders"\s*:\s*\[/.exec(text);
  if (text.trimStart()[0] === "{" && ordersKey) start = ordersKey.index + ordersKey[0].length - 1;
  if (start < 0) return [];
  const items = [];
  let depth = 0;
  let quoted = false;
  let from = -1;
  for (let i = start + 1; i < text.length && items.length < ROWS; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i += 1;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "{" || c === "[") {
      if (depth === 0) from = i;
      depth += 1;
    } else if (c === "}" || c === "]") {
      if (depth === 0) break; // the list's end
      depth -= 1;
      if (depth === 0) items.push(parseOr(text.slice(from, i + 1)));
    }
  }
  return items;
}

function parseOr(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { "(item that is not JSON)": text };
  }
}

// Items as a table: groups (`order-info`, `contact-info`) flattened to `group.field`.
function table(items) {
  if (!items.length) return { note: "No orders were found in the file's first part." };
  const headers = [];
  const rows = items.map((item) => {
    const flat = Object.create(null); // a key such as "__proto__" is a column like any other
    if (item === null || typeof item !== "object" || Array.isArray(item)) flat["(value)"] = item;
    else {
      for (const [key, value] of Object.entries(item)) {
        if (value && typeof value === "object" && !Array.isArray(value)) {
          for (const [inner, v] of Object.entries(value)) flat[`${key}.${inner}`] = v;
        } else flat[key] = value;
      }
    }
    for (const key of Object.keys(flat)) if (!headers.includes(key)) headers.push(key);
    return flat;
  });
  const cut = headers.slice(0, 30);
  const cells = (flat) => cut.map((h) => (Object.hasOwn(flat, h) ? flat[h] : null));
  return { headers: cut, rows: rows.map(cells) };
}
