// The chat page: ask (streamed over /v1/ask/stream), render [n] markers and sources that open
// the source viewer, follow-ups in one conversation, and thumbs up/down feedback.
import { api, documentInfo, el, events, metaNodes, openSource, safeUrl } from "./common.js";

const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const input = document.getElementById("question");
const button = document.getElementById("ask-button");
const hint = document.getElementById("empty-hint");
let conversationId = null;

function citeButton(citation) {
  return el(
    "button",
    {
      type: "button",
      class: "cite",
      "data-n": citation.n,
      "aria-label": `Source ${citation.n}: ${citation.title}, lines ${citation.line_start} to ${citation.line_end}`,
      onclick: () => openSource(citation.doc_id, citation.line_start, citation.line_end),
    },
    `[${citation.n}]`,
  );
}

/** The answer text with each known [n] as a button; everything else stays plain text. */
function answerText(text, citations) {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const citation = byNumber.get(Number(match[1]));
    if (!citation) continue;
    parts.push(text.slice(last, match.index), citeButton(citation));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** A link to the passage on the web, when the server gives one (`link`, e.g. a text fragment). */
function passageLink(citation) {
  const url = citation.link && safeUrl(citation.link);
  if (!url) return null;
  return el("a", { class: "passage-link", href: url, target: "_blank", rel: "noopener noreferrer" }, "Read it at the source ↗");
}

function sourceItem(citation) {
  const meta = el("span", { class: "meta" }, citation.source);
  documentInfo(citation.doc_id)
    .then((info) => meta.replaceChildren(...metaNodes(info)))
    .catch(() => {});
  const lines =
    citation.line_start === citation.line_end
      ? `line ${citation.line_start}`
      : `lines ${citation.line_start}–${citation.line_end}`;
  return el(
    "li",
    { "data-n": citation.n },
    el(
      "button",
      {
        type: "button",
        class: "source",
        onclick: () => openSource(citation.doc_id, citation.line_start, citation.line_end),
      },
      el("span", { class: "num" }, `[${citation.n}]`),
      " ",
      el("span", { class: "title" }, citation.title),
      el("span", { class: "lines-label" }, ` (${lines})`),
    ),
    el("div", {}, meta),
    el("blockquote", {}, citation.quote),
    passageLink(citation),
  );
}

function feedbackBar(question, answer) {
  const status = el("span", { class: "thanks", role: "status" });
  const send = async (verdict, pressed) => {
    for (const b of bar.querySelectorAll("button")) b.disabled = true;
    pressed.setAttribute("aria-pressed", "true");
    try {
      await api("/v1/feedback", {
        json: {
          conversation_id: answer.conversation_id,
          question,
          answer: answer.answer,
          citations: answer.citations,
          verdict,
        },
      });
      status.textContent = "Thanks for the feedback.";
    } catch (error) {
      status.textContent = `Feedback not saved: ${error.message}`;
      for (const b of bar.querySelectorAll("button")) b.disabled = false;
      pressed.setAttribute("aria-pressed", "false");
    }
  };
  // 👍/👎 drawn as an icon: many machines have no emoji font.
  const vote = (verdict, label) => {
    const b = el(
      "button",
      { type: "button", class: `vote ${verdict}`, "aria-label": label, title: label, "aria-pressed": "false", onclick: () => send(verdict, b) },
      el("img", { src: "/static/web/thumb.svg", alt: "", width: "18", height: "18" }),
    );
    return b;
  };
  const up = vote("up", "Good answer");
  const down = vote("down", "Bad answer");
  const bar = el("div", { class: "feedback" }, up, down, status);
  return bar;
}

function renderAnswer(article, question, answer) {
  article.classList.toggle("abstained", !answer.answerable);
  const body = article.querySelector(".text");
  body.replaceChildren(...answerText(answer.answer, answer.citations));
  if (!answer.answerable) {
    article.insertBefore(el("p", { class: "badge" }, "No answer in the articles"), body);
  }
  if (answer.citations.length) {
    const documents = new Set(answer.citations.map((c) => c.doc_id)).size;
    const heading = documents > 1 ? `Sources (${documents} articles: compare outlet and date)` : "Sources";
    article.append(el("h3", { class: "sources-heading" }, heading), el("ol", { class: "sources" }, answer.citations.map(sourceItem)));
  }
  const notes = [];
  if (answer.confidence !== null && answer.confidence !== undefined) notes.push(`confidence ${answer.confidence.toFixed(2)}`);
  if (answer.degraded && answer.degraded_reason) notes.push(answer.degraded_reason);
  if (notes.length) article.append(el("p", { class: "note" }, notes.join(" · ")));
  if (answer.conversation_id) article.append(feedbackBar(question, answer));
}

async function ask(question) {
  hint.hidden = true;
  log.append(el("div", { class: "turn user" }, el("p", {}, question)));
  const text = el("p", { class: "text" });
  const article = el("article", { class: "turn answer", "aria-busy": "true" }, text);
  log.append(article);
  article.scrollIntoView({ block: "end" });
  let final = null;
  try {
    // The first question starts a conversation (stored for follow-ups); later ones continue it.
    const body = conversationId ? { question, conversation_id: conversationId } : { question, conversation: true };
    const response = await api("/v1/ask/stream", { json: body });
    for await (const { event, data } of events(response)) {
      if (event === "delta") text.append(data.text);
      else if (event === "answer") final = data;
      else if (event === "error") throw new Error(data.error.message);
    }
    if (!final) throw new Error("the answer stream ended early");
    conversationId = final.conversation_id || conversationId;
    renderAnswer(article, question, final);
  } catch (error) {
    article.classList.add("failed");
    text.textContent = `Sorry, that failed: ${error.message}`;
  } finally {
    article.setAttribute("aria-busy", "false");
    article.scrollIntoView({ block: "end" });
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question || button.disabled) return;
  input.value = "";
  button.disabled = true;
  try {
    await ask(question);
  } finally {
    button.disabled = false;
    input.focus();
  }
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.getElementById("new-conversation").addEventListener("click", () => {
  conversationId = null;
  log.replaceChildren();
  hint.hidden = false;
  input.focus();
});

input.focus();
