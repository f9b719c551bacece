// The composer, driven by the conversation's capabilities: reply or note, attach (upload,
// then sendMedia), templates, canned responses by `/` and a short code, reply-to. A denied
// action stays visible, disabled, with its reason.

import { gql, upload } from "./api.js";
import { $, h, fill, toast, idempotencyKey, why } from "./ui.js";
import { state } from "./state.js";
import * as dialogs from "./dialogs.js";
import { showMessage } from "./actions.js";

let host = null;
let mode = "reply";
let replying = null;
let attachment = null;
let canned = { open: false, items: [], index: 0 };
let draftFor = null;

export function mount(el) {
  host = el;
  if (draftFor !== state.openId) {
    mode = "reply";
    replying = null;
    attachment = null;
    draftFor = state.openId;
  }
  render();
}

export function focus() {
  $("#composer-text")?.focus();
}

export function replyTo(message) {
  replying = message;
  render();
  focus();
}

export function render() {
  const c = state.conversation;
  if (!host || !c) return;
  const caps = c.capabilities;
  const note = mode === "note";
  const allowed = note || caps.reply.allowed;
  const previous = $("#composer-text")?.value ?? "";
  const textarea = h("textarea", {
    id: "composer-text",
    rows: "3",
    "aria-label": note ? "Note for colleagues" : "Reply to the customer",
    placeholder: note ? "A note only your team sees…" : allowed ? "Reply… (type / for saved answers)" : "Replies are not possible here",
    disabled: !allowed,
    "aria-describedby": allowed ? null : "reply-denied",
    "aria-autocomplete": "list",
    "aria-controls": "canned-list",
    onkeydown: keydown,
    oninput: input,
  });
  textarea.value = previous;
  fill(
    host,
    h("div", { class: `composer${note ? " note-mode" : ""}` },
      canned.open ? cannedList() : null,
      h("div", { class: "modes", role: "group", "aria-label": "Composer mode" },
        h("button", { type: "button", "aria-pressed": String(!note), onclick: () => setMode("reply") }, "Reply"),
        h("button", { type: "button", "aria-pressed": String(note), onclick: () => setMode("note") }, "Note")),
      !allowed ? h("div", { class: "reason", id: "reply-denied", role: "note" }, why(caps.reply)) : null,
      replying ? h("div", { class: "replying" }, h("span", {}, `Replying to: ${replying.text ?? `[${replying.kind}]`}`),
        h("button", { type: "button", class: "ghost small", "aria-label": "Cancel the reply-to", onclick: () => { replying = null; render(); } }, "×")) : null,
      attachment ? h("div", { class: "attached" }, h("span", {}, `📎 ${attachment.name} · ${Math.ceil(attachment.size / 1024)} KB (the text becomes its caption)`),
        h("button", { type: "button", class: "ghost small", "aria-label": "Remove the attachment", onclick: () => { attachment = null; render(); } }, "×")) : null,
      textarea,
      h("div", { class: "composer-tools" },
        h("input", { type: "file", id: "composer-file", hidden: true, accept: "image/jpeg,image/png,video/mp4,audio/*,application/pdf,text/plain", onchange: chosen }),
        h("button", {
          type: "button", id: "attach", disabled: note || !caps.media.allowed,
          title: caps.media.allowed ? "Attach a file" : why(caps.media),
          "aria-describedby": caps.media.allowed ? null : "media-denied",
          onclick: () => $("#composer-file").click(),
        }, "Attach"),
        caps.media.allowed ? null : h("span", { id: "media-denied", hidden: true }, why(caps.media)),
        h("button", { type: "button", id: "templates-button", disabled: note, onclick: () => dialogs.templates() }, "Templates"),
        h("span", { class: "denied" }, note ? "Notes are never sent to the customer." : ""),
        h("button", { type: "button", class: "primary send", id: "send", disabled: !allowed, onclick: send, title: "Send (Ctrl+Enter)" }, note ? "Add note" : "Send"))),
  );
}

function setMode(next) {
  mode = next;
  canned.open = false;
  render();
  focus();
}

function chosen(event) {
  const file = event.target.files?.[0];
  if (!file) return;
  attachment = file;
  render();
  focus();
}

function input(event) {
  const value = event.target.value;
  const match = /^\/(\S*)$/.exec(value);
  const all = state.session.cannedResponses;
  if (match) {
    const items = all.filter((r) => r.shortCode.toLowerCase().startsWith(match[1].toLowerCase()));
    const wasOpen = canned.open;
    canned = { open: true, items, index: 0 };
    if (wasOpen) fill($("#canned-list") ?? h("ul"), cannedItems());
    else render();
    if (!wasOpen) { const t = $("#composer-text"); t.focus(); t.setSelectionRange(t.value.length, t.value.length); }
  } else if (canned.open) {
    canned.open = false;
    $("#canned-list")?.remove();
  }
}

function cannedList() {
  return h("ul", { class: "canned", id: "canned-list", role: "listbox", "aria-label": "Saved answers" }, cannedItems());
}

function cannedItems() {
  if (canned.items.length === 0) return [h("li", { class: "muted", role: "option", "aria-selected": "false" }, "No saved answer starts with that code.")];
  return canned.items.map((r, i) => h("li", {
    role: "option",
    id: `canned-${i}`,
    "aria-selected": String(i === canned.index),
    "aria-label": `/${r.shortCode}: ${r.text}`,
    onmousedown: (e) => { e.preventDefault(); insertCanned(r); },
  }, h("code", {}, `/${r.shortCode}`), h("span", { class: "text" }, r.text)));
}

function insertCanned(response) {
  const t = $("#composer-text");
  t.value = response.text;
  canned.open = false;
  $("#canned-list")?.remove();
  t.focus();
}

function keydown(event) {
  if (canned.open) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const n = canned.items.length;
      if (n) canned.index = (canned.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      fill($("#canned-list"), cannedItems());
      $("#composer-text").setAttribute("aria-activedescendant", `canned-${canned.index}`);
      return;
    }
    if ((event.key === "Enter" || event.key === "Tab") && canned.items.length) {
      event.preventDefault();
      insertCanned(canned.items[canned.index]);
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      canned.open = false;
      $("#canned-list")?.remove();
      return;
    }
  }
  if (event.key === "Escape") { event.target.blur(); return; }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  }
}

async function send() {
  const c = state.conversation;
  const t = $("#composer-text");
  const text = t.value.trim();
  const button = $("#send");
  if (!text && !attachment) return;
  button.disabled = true;
  try {
    let message;
    if (mode === "note") {
      message = (await gql("AddNote", { conversationId: c.id, text })).addNote;
    } else if (attachment) {
      const uploaded = await upload(attachment);
      message = (await gql("SendMedia", { conversationId: c.id, attachmentId: uploaded.id, caption: text || null, replyTo: replying?.id ?? null, key: idempotencyKey() })).sendMedia;
      attachment = null;
    } else {
      message = (await gql("SendMessage", { conversationId: c.id, text, replyTo: replying?.id ?? null, key: idempotencyKey() })).sendMessage;
    }
    t.value = "";
    replying = null;
    render();
    showMessage(message);
    focus();
  } catch (err) {
    toast(err.message, "error");
    button.disabled = false;
  }
}
