// The public API, from the page. Guarantees: every URL is relative to the page's own
// directory (`/` locally, `/api/` behind API Gateway's stage); the key or upload link lives only
// in this tab's sessionStorage and travels only in the `x-api-key` header (never in a URL);
// every failure becomes an ApiError {status, code, message}, the API's own code and message
// when it sent its error shape.

const KEY = "orderflow.key";

const REFUSED = "This key or link was refused (unknown, rotated, disabled or expired).";

export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// The directory the page lives in, e.g. "/" or "/api/".
function base() {
  return location.pathname.replace(/[^/]*$/, "") || "/";
}

function url(path, query = {}) {
  const target = new URL(base() + path.replace(/^\//, ""), location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") target.searchParams.set(name, value);
  }
  return target.pathname + target.search;
}

export const credential = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
  isLink: () => (sessionStorage.getItem(KEY) || "").startsWith("ofl_"),
};

// The sender a link names (its payload's `s`), read without trusting it: the server decides.
export function linkSender(token) {
  try {
    const payload = token.slice(4).split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(payload + "=".repeat((4 - (payload.length % 4)) % 4));
    const sender = JSON.parse(text).s;
    return typeof sender === "string" ? sender : null;
  } catch {
    return null;
  }
}

export async function call(method, path, { query, body, anonymous = false } = {}) {
  const headers = { accept: "application/json" };
  const key = credential.get();
  if (key && !anonymous) headers["x-api-key"] = key;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (error) {
    throw new ApiError(
      0,
      "network",
      "The API could not be reached; check the connection and try again.",
    );
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok) return data;
  throw failure(response.status, data);
}

function failure(status, data) {
  if (status === 401 || status === 403) return new ApiError(status, "refused", REFUSED);
  const error = data && typeof data === "object" ? data.error : null;
  if (error && typeof error.code === "string") {
    return new ApiError(status, error.code, String(error.message ?? ""), error.details ?? null);
  }
  return new ApiError(status, `http_${status}`, `The API answered ${status}.`);
}

// Every page of a paged list, or up to `most` items.
export async function allPages(path, member, { query = {}, most = 5000 } = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await call("GET", path, { query: { ...query, cursor } });
    items.push(...(page[member] || []));
    cursor = page.next || null;
  } while (cursor && items.length < most);
  return items;
}
