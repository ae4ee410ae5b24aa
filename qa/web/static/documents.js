// The documents page: what is ingested (each opens in the source viewer), and adding files or
// a URL through POST /v1/documents.
import { api, el, openSource, outlet, published } from "./common.js";

const tbody = document.querySelector("#doc-table tbody");
const count = document.getElementById("doc-count");
const status = document.getElementById("add-status");

async function refresh() {
  try {
    const { documents } = await (await api("/v1/documents")).json();
    documents.sort((a, b) => (a.title || a.doc_id).localeCompare(b.title || b.doc_id));
    count.textContent = `(${documents.length})`;
    tbody.replaceChildren(
      ...documents.map((doc) =>
        el(
          "tr",
          { "data-doc-id": doc.doc_id },
          el("td", {}, el("button", { type: "button", class: "link", onclick: () => openSource(doc.doc_id) }, doc.title || doc.doc_id)),
          el("td", {}, outlet(doc)),
          el("td", {}, published(doc)),
          el("td", { class: "num" }, String(doc.line_count)),
          el("td", {}, el("code", {}, doc.doc_id)),
        ),
      ),
    );
    if (!documents.length) tbody.append(el("tr", {}, el("td", { colspan: "5" }, "Nothing ingested yet: add a file or a URL above.")));
  } catch (error) {
    count.textContent = "";
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: "5" }, `Could not list documents: ${error.message}`)));
  }
}

/** The article records in a file: a JSONL/JSON file holds records, any other file is one text. */
async function records(file) {
  const text = await file.text();
  const name = file.name.toLowerCase();
  if (name.endsWith(".jsonl")) {
    return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
  }
  if (name.endsWith(".json")) {
    const parsed = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed;
    return Array.isArray(parsed.documents) ? parsed.documents : [parsed];
  }
  return [{ id: file.name, source: file.name, body: text }];
}

function report(result) {
  const added = result.documents - result.unchanged;
  status.textContent = `Added or updated ${added} document(s), ${result.unchanged} unchanged, ${result.chunks} chunk(s): ${result.doc_ids.join(", ")}`;
}

async function submit(form, body) {
  const buttons = form.querySelectorAll("button");
  for (const b of buttons) b.disabled = true;
  status.textContent = "Adding…";
  try {
    report(await (await api("/v1/documents", { json: await body() })).json());
    form.reset();
    await refresh();
  } catch (error) {
    status.textContent = `Not added: ${error.message}`;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

document.getElementById("file-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const files = [...document.getElementById("files").files];
  submit(event.target, async () => ({ documents: (await Promise.all(files.map(records))).flat() }));
});

document.getElementById("url-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = document.getElementById("url").value.trim();
  submit(event.target, async () => ({ url }));
});

refresh();
