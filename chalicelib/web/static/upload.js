// A file to S3 by presigned POST, and a batch followed to its end. Guarantees: the File object
// is appended to the form as it is, so the browser streams it from disk (the page never reads
// it whole); upload progress comes from XMLHttpRequest's upload events; polling is
// asynchronous (1 s, then 2 s after 30 polls) and stops when the batch has ended or `stop()`
// says so (sign-out, another file).

import { ApiError, call, credential } from "./api.js";

const TYPES = [
  [/\.csv$/i, "text/csv"],
  [/\.tsv$/i, "text/tab-separated-values"],
  [/\.json$/i, "application/json"],
  [/\.(jsonl|ndjson)$/i, "application/x-ndjson"],
  [/\.(xlsx|xlsm)$/i, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
  [/\.gz$/i, "application/gzip"],
];

function contentTypeFor(name) {
  const found = TYPES.find(([pattern]) => pattern.test(name));
  return found ? found[1] : "text/csv";
}

// POST /uploads, then the file to S3. `onProgress(sent, total)`. Answers the batch id.
export async function uploadFile(file, { dryRun, mapping, corrects, onProgress }) {
  const body = {
    filename: file.name.slice(0, 255),
    content_type: contentTypeFor(file.name),
    dry_run: dryRun,
  };
  if (mapping) body.mapping = mapping;
  if (corrects) body.corrects = corrects;
  const grant = await call("POST", "uploads", { body });
  await postToS3(grant.url, grant.fields, file, onProgress);
  return grant.batch_id;
}

function postToS3(target, fields, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", file); // last: S3 ignores fields after the file
    const xhr = new XMLHttpRequest();
    xhr.open("POST", target);
    xhr.upload.addEventListener("progress", (event) => {
      onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(s3Error(xhr.status, xhr.responseText || ""));
      }
    });
    xhr.addEventListener("error", () =>
      reject(
        new ApiError(
          0,
          "upload_failed",
          "The upload did not reach storage; check the connection and try again.",
        ),
      ),
    );
    xhr.addEventListener("abort", () =>
      reject(new ApiError(0, "upload_aborted", "The upload was stopped.")),
    );
    xhr.send(form);
  });
}

function s3Error(status, text) {
  const code = /<Code>([^<]{1,80})<\/Code>/.exec(text);
  const message = /<Message>([^<]{1,300})<\/Message>/.exec(text);
  if (code && code[1] === "EntityTooLarge") {
    return new ApiError(
      status,
      "file.upload_too_large",
      "The file is larger than your upload limit.",
    );
  }
  const words = message ? message[1] : `Storage answered ${status}.`;
  return new ApiError(status, code ? `s3.${code[1]}` : "upload_failed", words);
}

export const ENDED = (status) => status !== "pending" && status !== "running";

// Polls GET /batches/{id} until it has ended; `onUpdate(batch)` after every answer. A network
// hiccup is retried (up to 5 times in a row). `stopped()` true (by default: signed out) ends
// the loop (answers null).
export async function followBatch(batchId, { onUpdate, stopped = () => !credential.get() }) {
  let polls = 0;
  let failures = 0;
  for (;;) {
    if (stopped()) return null;
    let batch = null;
    try {
      batch = await call("GET", `batches/${encodeURIComponent(batchId)}`);
      failures = 0;
    } catch (error) {
      failures += 1;
      if (error.code === "refused" || failures > 5) throw error;
    }
    if (stopped()) return null;
    if (batch) {
      onUpdate(batch);
      if (ENDED(batch.status)) return batch;
    }
    polls += 1;
    await new Promise((done) => setTimeout(done, polls > 30 ? 2000 : 1000));
  }
}

// Orders per second from successive polls, smoothed.
export function rateMeter() {
  let last = null;
  let rate = null;
  return (done) => {
    const now = performance.now();
    if (last && done !== null && done > last.done) {
      const current = ((done - last.done) * 1000) / (now - last.at);
      rate = rate === null ? current : 0.5 * rate + 0.5 * current;
    }
    if (done !== null && (!last || done !== last.done)) last = { done, at: now };
    return rate;
  };
}
