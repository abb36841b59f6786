// The file's way through the page: choose or drop it, preview its first part, check it (a dry
// run uploaded by presigned POST), show what was detected, the mapping and the counts, then
// send it for real and follow the batch to its end. The same File object is uploaded each
// time: the browser streams it, the page never holds it. Once a real send of the file has
// started, "Send for real" stays disabled until the file is checked again (no file is sent
// twice by a second click); the mapping edited is the one the dry run applied (sheet,
// delimiter, encoding, header row kept) with the editor's columns.

import { call, credential } from "./api.js";
import {
  $,
  busy,
  bytes,
  clear,
  el,
  focusHeading,
  notice,
  scrollingTable,
  shown,
  show,
} from "./dom.js";
import { loadFields } from "./fields.js";
import { mappingFrom, problems, renderMapping } from "./mapping.js";
import { DELIMITER_NAMES, preview } from "./preview.js";
import { openRejections, resetRejections } from "./rejections.js";
import {
  renderCounts,
  renderDetected,
  renderFirstRejected,
  renderReasons,
  statusWords,
} from "./results.js";
import { ENDED, followBatch, rateMeter, uploadFile } from "./upload.js";

// mapping: the one this file is checked and sent with; applied: the one its last dry run applied
// (`file.mapping`); checked: that dry run read the file; sentForReal: a real send has started.
const FRESH = { file: null, mapping: null, applied: null, checked: false, sentForReal: false };
const state = { ...FRESH, generation: 0 };
let ctx = null; // {say, fail, clearError, batchesChanged}

export function setupFlow(context) {
  ctx = context;
  $("file").addEventListener("change", () => choose($("file").files[0] || null));
  const zone = $("dropzone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    $("file").files = files;
    choose(files[0]);
  });
  // a file dropped beside the zone must not replace the page
  for (const name of ["dragover", "drop"])
    window.addEventListener(name, (event) => event.preventDefault());
  $("check").addEventListener("click", () => run($("check"), "checking", () => check(null)));
  $("check-again").addEventListener("click", () => run($("check-again"), "checking", checkAgain));
  $("save-profile").addEventListener("click", () => run($("save-profile"), "saving", saveProfile));
  $("send").addEventListener("click", () => run($("send"), "sending", send).then(sendable));
}

function run(button, words, action) {
  ctx.clearError();
  return busy(button, words, action).catch(ctx.fail);
}

export function resetFlow() {
  state.generation += 1;
  Object.assign(state, FRESH);
  $("file").value = "";
  $("file-info").textContent = "";
  $("check").disabled = true;
  setUpload(0, 0, "not started");
  for (const id of ["preview", "detected", "mapping", "dryrun", "progress"]) show($(id), false);
  resetRejections();
}

// Under an upload link the profile cannot be saved: the button says why, next to it.
export function linkMode(isLink) {
  $("save-profile").disabled = isLink;
  $("profile-note").textContent = isLink
    ? "Saving a profile needs your API key: an upload link may only upload files and read their batches."
    : "Your profile is applied to every file you send without a mapping of its own.";
}

async function choose(file) {
  state.generation += 1;
  Object.assign(state, { ...FRESH, file });
  for (const id of ["detected", "mapping", "dryrun", "progress"]) show($(id), false);
  resetRejections();
  setUpload(0, 0, "not started");
  $("check").disabled = !file;
  if (!file) return;
  $("file-info").textContent = `${file.name}, ${bytes(file.size)}`;
  const body = clear($("preview-body"));
  show($("preview"), true);
  try {
    const seen = await preview(file);
    if (state.file !== file) return;
    if (seen.note) body.append(el("p", {}, seen.note));
    else body.append(previewTable(seen));
  } catch {
    body.append(el("p", {}, "This file cannot be previewed; check it to see what it holds."));
  }
  ctx.say(`${file.name} chosen (${bytes(file.size)}). Check the file when ready.`);
}

function previewTable({ headers, rows, delimiter }) {
  const caption = "First rows of the file";
  const { wrap, body } = scrollingTable(
    caption,
    headers.map((h) => shown(h)),
  );
  for (const row of rows)
    body.append(el("tr", {}, ...row.map((cell) => el("td", {}, shown(cell)))));
  const fragment = document.createDocumentFragment();
  if (delimiter)
    fragment.append(
      el("p", { class: "note" }, `Columns look separated by: ${DELIMITER_NAMES[delimiter]}.`),
    );
  fragment.append(wrap);
  return fragment;
}

function setUpload(sent, total, words) {
  const bar = $("upload-progress");
  const percent = total ? Math.floor((sent * 100) / total) : 0;
  bar.value = percent;
  const text = words || `${percent}% of ${bytes(total)}`;
  bar.setAttribute("aria-valuetext", text);
  $("upload-text").textContent = words ? "" : text;
}

async function upload(dryRun) {
  const generation = state.generation;
  const file = state.file;
  const batchId = await uploadFile(file, {
    dryRun,
    mapping: state.mapping,
    onProgress: (sent, total) => setUpload(sent, total),
  });
  ctx.say(`${file.name} uploaded. Reading…`);
  return { batchId, generation };
}

async function check(mapping) {
  if (!state.file) throw notice("Choose a file first.");
  state.generation += 1; // a check or send still followed stops: this one is what counts now
  if (mapping) state.mapping = mapping;
  Object.assign(state, { checked: false, sentForReal: false });
  for (const id of ["dryrun", "progress"]) show($(id), false);
  resetRejections();
  ctx.say(`Uploading ${state.file.name} for a dry run…`);
  const { batchId, generation } = await upload(true);
  const batch = await followBatch(batchId, {
    onUpdate: (b) => ctx.say(stepWords(b)),
    stopped: () => generation !== state.generation,
  });
  if (!batch) return;
  await showDryRun(batch);
}

function stepWords(batch) {
  if (batch.status === "pending") return "Waiting for the file to be picked up…";
  if (batch.total === null || batch.total === undefined) return "Reading…";
  return `Validating… ${batch.done ?? 0} of ${batch.total}`;
}

async function showDryRun(batch) {
  const file = batch.file || null;
  if (file) renderDetected($("detected-list"), file);
  show($("detected"), Boolean(file));
  state.applied = (file && file.mapping) || null;
  const headersKnown = Boolean(file && file.headers && file.headers.length);
  const mappable =
    headersKnown || Boolean(batch.error && batch.error.code === "file.missing_columns");
  if (mappable) renderMapping($("mapping-fields"), file || {}, (await loadFields()).fields);
  show($("mapping"), mappable);
  show($("mapping-problems"), false);
  show($("dryrun"), true);
  state.checked = batch.status === "succeeded";
  sendable();
  if (!state.checked) {
    await showUnread(batch, mappable);
    return;
  }
  $("dryrun-summary").textContent =
    `Dry run ${batch.batch_id}: nothing was stored. This is what sending the file would do.`;
  renderCounts($("dryrun-counts"), batch, { dry: true });
  renderReasons($("dryrun-reasons"), batch);
  clear($("dryrun-rejected"));
  if (batch.rejected) {
    const page = await call("GET", `batches/${encodeURIComponent(batch.batch_id)}/rejections`, {
      query: { limit: 10 },
    });
    renderFirstRejected($("dryrun-rejected"), page.rejections || [], {
      caption: "The first rows that would be rejected",
    });
  }
  $("send-note").textContent = state.mapping ? "It will be sent with the mapping above." : "";
  await ctx.batchesChanged();
  ctx.say(
    `Dry run done: ${batch.stored ?? 0} of ${batch.total ?? 0} orders would be stored, ${batch.rejected ?? 0} rejected.`,
  );
  focusHeading("h-dryrun");
}

// A dry run that could not read the file: what to do next (map its columns, or fix the file).
async function showUnread(batch, mappable) {
  clear($("dryrun-counts"));
  clear($("dryrun-reasons"));
  clear($("dryrun-rejected"));
  $("dryrun-summary").textContent =
    `Dry run ${batch.batch_id}: the file could not be read (${statusWords(batch)}). Nothing was stored.`;
  $("send-note").textContent = mappable
    ? "Map the columns above and check again before sending."
    : "Fix the file and choose it again before sending.";
  ctx.fail(batch.error || { code: batch.status, message: `The batch ended ${batch.status}.` });
  ctx.say(
    `Dry run ended: the file could not be read.${mappable ? " Map its columns and check again." : ""}`,
  );
  await ctx.batchesChanged();
  focusHeading(mappable ? "h-mapping" : "h-dryrun");
}

// "Send for real" is enabled for a file its dry run read, until a real send of it has started.
function sendable() {
  $("send").disabled = !state.checked || state.sentForReal;
}

async function checkAgain() {
  const mapping = mappingFrom($("mapping-fields"), state.applied);
  if (!guard(mapping)) return;
  await check(mapping);
}

function guard(mapping) {
  const found = problems(mapping);
  $("mapping-problems").textContent = found.join(" ");
  show($("mapping-problems"), found.length > 0);
  if (found.length) ctx.fail({ code: "mapping.invalid", message: found.join(" ") });
  return !found.length;
}

async function saveProfile() {
  if (credential.isLink()) throw notice("An upload link cannot save a profile.");
  const mapping = mappingFrom($("mapping-fields"), state.applied);
  if (!guard(mapping)) return;
  await call("PUT", "profile", { body: mapping });
  ctx.say("Saved as your profile: files you send without a mapping of their own will use it.");
}

async function send() {
  if (!state.file) throw notice("Choose a file first.");
  if (state.sentForReal) throw notice("This file was sent already: check it again first.");
  state.generation += 1;
  state.sentForReal = true; // from here on: a failed upload may still have reached storage
  $("send-note").textContent =
    "A real send of this file has started: to send it again, check the file again first.";
  resetRejections();
  show($("progress"), true);
  clear($("final-counts"));
  $("progress-title").textContent = `Sending ${state.file.name}`;
  $("progress-text").textContent = "Uploading the file…";
  ctx.say(`Uploading ${state.file.name} to send it for real…`);
  const { batchId, generation } = await upload(false);
  if (generation === state.generation)
    $("send-note").textContent =
      `Sent for real as batch ${batchId}: to send the file again, check it again first.`;
  await follow(batchId, generation, state.file.name);
}

// Follows a batch in "Batch progress": bar, "<done> of <total> orders, <rate> orders/s", then
// the final counts and its rejected rows.
async function follow(batchId, generation = state.generation, name = null) {
  show($("progress"), true);
  clear($("final-counts"));
  $("progress-title").textContent = `Batch ${batchId}${name ? ` (${name})` : ""}`;
  const rate = rateMeter();
  const bar = $("batch-progress");
  bar.removeAttribute("value");
  bar.setAttribute("aria-valuetext", "waiting");
  focusHeading("h-progress");
  const batch = await followBatch(batchId, {
    stopped: () => generation !== state.generation,
    onUpdate: (b) => progressTick(b, rate(b.done ?? null)),
  });
  if (!batch) return;
  await finished(batch, { refresh: true });
}

function progressTick(batch, rate) {
  const bar = $("batch-progress");
  const text = progressWords(batch, rate);
  if (batch.total) {
    bar.max = batch.total;
    bar.value = batch.done ?? 0;
  }
  bar.setAttribute("aria-valuetext", text);
  $("progress-text").textContent = text;
  if (!ENDED(batch.status)) ctx.say(batch.total ? `Sending: ${text}` : stepWords(batch));
}

function progressWords(batch, rate) {
  if (batch.total === null || batch.total === undefined)
    return batch.status === "pending" ? "Waiting for the file…" : "Reading the file…";
  const speed = rate === null ? "rate: measuring" : `${perSecond(rate)} orders/s`;
  return `${batch.done ?? 0} of ${batch.total} orders, ${speed}`;
}

function perSecond(rate) {
  return rate >= 10 ? Math.round(rate).toLocaleString("en") : rate.toFixed(1);
}

// The whole batch's rate, from its own start and end (whole seconds), when it took any.
function overall(batch) {
  const seconds = (Date.parse(batch.finished_at) - Date.parse(batch.started_at)) / 1000;
  if (!(seconds > 0) || !batch.done) return "";
  return ` in ${seconds} s, ${perSecond(batch.done / seconds)} orders/s`;
}

async function finished(batch, { refresh }) {
  const bar = $("batch-progress");
  if (batch.total) {
    bar.max = batch.total;
    bar.value = batch.done ?? batch.total;
  } else {
    bar.max = 1;
    bar.value = 1;
  }
  $("progress-text").textContent =
    `${batch.dry_run ? "Dry run" : "Batch"} ${statusWords(batch)}: ${batch.done ?? 0} of ${batch.total ?? 0} orders${overall(batch)}.`;
  bar.setAttribute("aria-valuetext", $("progress-text").textContent);
  renderCounts($("final-counts"), batch, { dry: Boolean(batch.dry_run) });
  if (batch.error) ctx.fail(batch.error);
  ctx.say(
    `Batch ${batch.batch_id} ${statusWords(batch)}: ${batch.stored ?? 0} stored, ${batch.rejected ?? 0} rejected.`,
  );
  focusHeading("h-progress");
  if (refresh) await ctx.batchesChanged();
  if (batch.status === "succeeded" || batch.status === "failed") await openRejections(batch);
}

// A batch chosen in "Recent batches": followed if it runs, else shown as it ended.
export async function openBatch(batchId) {
  ctx.clearError();
  state.generation += 1;
  resetRejections();
  const batch = await call("GET", `batches/${encodeURIComponent(batchId)}`);
  if (ENDED(batch.status)) {
    show($("progress"), true);
    $("progress-title").textContent =
      `Batch ${batch.batch_id}${batch.file_name ? ` (${batch.file_name})` : ""}`;
    clear($("final-counts"));
    await finished(batch, { refresh: false });
  } else {
    await follow(batch.batch_id, state.generation, batch.file_name);
  }
}
