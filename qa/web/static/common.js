// Shared by the chat and documents pages: DOM building, API calls (with an optional API
// key kept in sessionStorage), document metadata and the source viewer.
// Document text is untrusted: it only ever reaches the page as text nodes, never as HTML.

const KEY_STORAGE = "qa.apiKey";

/** Build an element; string children become text nodes, `on*` attributes add listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
    return JSON.stringify(body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

let keyDialog = null;

/** Ask for an API key in a modal dialog; resolves true when one was entered. */
function askForKey(reason) {
  if (!keyDialog) {
    const input = el("input", { type: "password", id: "api-key", autocomplete: "off", required: true });
    keyDialog = el(
      "dialog",
      { class: "key-dialog", "aria-labelledby": "key-title" },
      el(
        "form",
        { method: "dialog" },
        el("h2", { id: "key-title" }, "API key"),
        el("p", { class: "key-reason" }),
        el("label", { for: "api-key" }, "Key (kept in this tab only)"),
        input,
        el(
          "div",
          { class: "row" },
          el("button", { type: "submit", value: "ok" }, "Use key"),
          el("button", { type: "submit", value: "cancel", formnovalidate: true }, "Cancel"),
        ),
      ),
    );
    document.body.append(keyDialog);
  }
  keyDialog.querySelector(".key-reason").textContent = reason;
  const input = keyDialog.querySelector("input");
  input.value = "";
  keyDialog.returnValue = "";
  keyDialog.showModal();
  return new Promise((resolve) => {
    keyDialog.addEventListener(
      "close",
      () => {
        const key = input.value.trim();
        if (keyDialog.returnValue === "ok" && key) {
          sessionStorage.setItem(KEY_STORAGE, key);
          resolve(true);
        } else {
          resolve(false);
        }
      },
      { once: true },
    );
  });
}

/** fetch() against this server: JSON bodies, the API key when one is needed, errors thrown. */
export async function api(path, { method, json } = {}) {
  for (;;) {
    const headers = new Headers();
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set("Authorization", `Bearer ${key}`);
    if (json !== undefined) headers.set("Content-Type", "application/json");
    const response = await fetch(path, {
      method: method || (json === undefined ? "GET" : "POST"),
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    if (response.status === 401) {
      if (key) sessionStorage.removeItem(KEY_STORAGE);
      const reason = key ? "That key was not accepted; try another." : "This server needs an API key.";
      if (await askForKey(reason)) continue;
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    return response;
  }
}

/** Server-Sent Events from a fetch response: yields {event, data} with data parsed as JSON. */
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      yield { event, data: data.length ? JSON.parse(data.join("\n")) : null };
    }
  }
}

/** A document id as a URL path (ids may contain "/", which the routes accept). */
export function docPath(docId) {
  return docId.split("/").map(encodeURIComponent).join("/");
}

const infoCache = new Map();

/** GET /v1/documents/{id}, once per page. */
export function documentInfo(docId) {
  if (!infoCache.has(docId)) {
    const info = api(`/v1/documents/${docPath(docId)}`).then((r) => r.json());
    info.catch(() => infoCache.delete(docId));
    infoCache.set(docId, info);
  }
  return infoCache.get(docId);
}

/** Only http(s) links are followed; anything else in a document's url is shown as text. */
export function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function outlet(info) {
  if (info.publisher) return info.publisher;
  const url = info.url && safeUrl(info.url);
  return url ? new URL(url).hostname.replace(/^www\./, "") : info.source;
}

export function published(info) {
  return info.published_at ? info.published_at.slice(0, 10) : "undated";
}

/** "Outlet · 2021-07-06" and the link, for the viewer and source lists. */
export function metaNodes(info) {
  const nodes = [el("span", { class: "outlet" }, outlet(info)), " · ", el("time", {}, published(info))];
  const url = info.url && safeUrl(info.url);
  if (url) nodes.push(" · ", el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
  else if (info.url) nodes.push(" · ", info.url);
  return nodes;
}

let viewer = null;

function viewerDialog() {
  if (viewer) return viewer;
  viewer = el(
    "dialog",
    { id: "viewer", class: "viewer", "aria-labelledby": "viewer-title" },
    el(
      "header",
      {},
      el("div", {}, el("h2", { id: "viewer-title" }), el("p", { class: "meta", id: "viewer-meta" })),
      el("button", { type: "button", class: "close", "aria-label": "Close the source", onclick: () => viewer.close() }, "✕"),
    ),
    el("p", { class: "range", id: "viewer-range" }),
    el("div", { class: "lines", id: "viewer-lines", tabindex: "0", "aria-label": "Document lines" }),
  );
  // A click on the backdrop (outside the box) closes it too.
  viewer.addEventListener("click", (event) => {
    if (event.target === viewer) viewer.close();
  });
  document.body.append(viewer);
  return viewer;
}

/** Open the original document with numbered lines; lines first..last highlighted and shown. */
export async function openSource(docId, first = null, last = null) {
  const dialog = viewerDialog();
  const title = dialog.querySelector("#viewer-title");
  const meta = dialog.querySelector("#viewer-meta");
  const range = dialog.querySelector("#viewer-range");
  const lines = dialog.querySelector("#viewer-lines");
  title.textContent = "Loading…";
  meta.replaceChildren();
  range.textContent = "";
  lines.replaceChildren();
  if (!dialog.open) dialog.showModal();
  try {
    const [info, body] = await Promise.all([
      documentInfo(docId),
      api(`/v1/documents/${docPath(docId)}/lines`).then((r) => r.json()),
    ]);
    title.textContent = info.title || info.source;
    meta.replaceChildren(...metaNodes(info));
    if (first !== null) range.textContent = first === last ? `Cited: line ${first}` : `Cited: lines ${first}–${last}`;
    const rows = body.lines.map((line) => {
      const cited = first !== null && line.n >= first && line.n <= last;
      return el(
        "div",
        { class: cited ? "line cited" : "line", "data-line": line.n },
        el("span", { class: "n", "aria-hidden": "true" }, String(line.n)),
        el(cited ? "mark" : "span", { class: "text" }, line.text || "\u00a0"),
      );
    });
    lines.replaceChildren(...rows);
    const target = lines.querySelector(".cited");
    if (target) target.scrollIntoView({ block: "center" });
    lines.focus({ preventScroll: true });
  } catch (error) {
    title.textContent = "Could not open the source";
    range.textContent = error.message;
  }
}
