// The partners' page: sign-in and the messages every step uses. Guarantees: the API key or
// upload link is kept only in this tab's sessionStorage (a `#link=` fragment is moved there and
// stripped from the address at once); signing out forgets it and everything the page showed;
// what happens is said in the `status` live region, what went wrong in the `error` alert with
// the API's code and message.

import { call, credential, linkSender } from "./api.js";
import { $, busy, focusHeading, show } from "./dom.js";
import { refreshBatches, resetBatches, setupBatches } from "./batches.js";
import { linkMode, openBatch, resetFlow, setupFlow } from "./flow.js";
import { loadFields } from "./fields.js";
import { setupRejections } from "./rejections.js";

const SIGNED_IN_SECTIONS = ["upload", "batches"];

function say(words) {
  $("status").textContent = words;
}

function clearError() {
  $("error").textContent = "";
}

// An ApiError, a batch's {code, message} from a batch, or any other failure, in words.
function fail(error) {
  const code = error && error.code ? error.code : "error";
  const message = error && error.message ? error.message : String(error);
  $("error").textContent = code === "page" || code === "refused" ? message : `${code}: ${message}`;
}

async function signIn(token) {
  clearError();
  credential.set(token);
  try {
    await refreshBatches();
  } catch (error) {
    credential.clear();
    fail(error);
    return false;
  }
  const isLink = credential.isLink();
  let who = isLink ? linkSender(token) : null;
  if (!isLink) {
    try {
      who = (await call("GET", "profile")).sender_id;
    } catch {
      who = null;
    }
  }
  $("who").textContent = isLink
    ? `Signed in as upload link${who ? ` for ${who}` : ""}`
    : `Signed in as ${who || "this key's sender"}`;
  show($("link-note"), isLink);
  linkMode(isLink);
  show($("signin-form"), false);
  show($("signed-in"), true);
  for (const id of SIGNED_IN_SECTIONS) show($(id), true);
  say(`${$("who").textContent}. Choose a file to check.`);
  return true;
}

function signOut() {
  credential.clear();
  $("key").value = "";
  resetFlow();
  resetBatches();
  for (const id of SIGNED_IN_SECTIONS) show($(id), false);
  show($("signed-in"), false);
  show($("signin-form"), true);
  clearError();
  say("Signed out: the key is forgotten in this tab.");
  $("key").focus();
}

// `#link=<token>`: into sessionStorage, out of the address bar (and so of history).
function takeLinkFromAddress() {
  const match = /^#link=([A-Za-z0-9_.\-]+)$/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return match[1];
}

async function start() {
  setupFlow({ say, fail, clearError, batchesChanged: () => refreshBatches().catch(fail) });
  setupRejections({ say, fail, done: () => refreshBatches().catch(fail) });
  setupBatches({ fail, open: (id) => openBatch(id).catch(fail) });
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault(); // never submitted natively (form-action 'none')
    const key = $("key").value.trim();
    if (!key) {
      fail({ code: "page", message: "Paste your API key first." });
      $("key").focus();
      return;
    }
    const ok = await busy($("use-key"), "checking", () => signIn(key));
    if (ok) {
      $("key").value = "";
      focusHeading("h-upload");
    }
  });
  $("sign-out").addEventListener("click", signOut);
  loadFields().catch(() => {}); // early; asked again (and its failure shown) where it is needed
  const link = takeLinkFromAddress();
  const token = link || credential.get();
  if (token && (await signIn(token))) focusHeading("h-upload");
}

start();
