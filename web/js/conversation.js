// The open conversation: its header (who, the notice for a hidden number, the thread's
// origin, the service window), its messages, and the actions on it.

import { gql } from "./api.js";
import { $, h, fill, fullTime, shortTime, remaining, initials, handle, noPhoneIcon, toast, why } from "./ui.js";
import { state, on, emit } from "./state.js";
import * as composer from "./composer.js";
import * as dialogs from "./dialogs.js";
import { act, showMessage } from "./actions.js";

const PAGE = 50;
const EMOJIS = ["👍", "❤️", "😂", "😮", "🙏", "✅"];
const TICKS = {
  PENDING: ["◷", "Sending"],
  SENT: ["✓", "Sent"],
  DELIVERED: ["✓✓", "Delivered"],
  READ: ["✓✓", "Read"],
  FAILED: ["!", "Not delivered"],
};
let loadSeq = 0;
let refreshTimer = null;

export function mount() {
  renderEmpty();
  on("open", (id) => load(id));
  on("event", (event) => {
    if (!state.openId) return;
    const mine = event.conversationId === state.openId || (event.contactId && event.contactId === state.conversation?.contact?.id);
    if (mine) scheduleRefresh();
  });
  on("resync", () => state.openId && refresh());
  on("applied", (conversation) => applied(conversation));
  on("message", (message) => appendMessage(message));
  on("reload", () => refresh());
  // The window's countdown moves on by itself (no request).
  setInterval(() => state.conversation && renderWindow(), 30000);
}

function renderEmpty() {
  fill($("#conversation"), h("div", { class: "empty" }, h("strong", {}, "No conversation open"),
    "Choose one from the list, or press ", h("kbd", {}, "j"), " and ", h("kbd", {}, "Enter"), "."));
}

async function load(id) {
  const seq = ++loadSeq;
  state.conversation = null;
  state.messages = [];
  fill($("#conversation"), h("div", { class: "empty", role: "status" }, "Loading the conversation…"));
  emit("detail", null);
  try {
    const data = await gql("Conversation", { id, first: PAGE });
    if (seq !== loadSeq) return;
    accept(data.conversation, true);
    render();
    scrollToEnd();
    markRead();
  } catch (err) {
    if (seq !== loadSeq) return;
    fill($("#conversation"), h("div", { class: "empty" }, h("strong", {}, "This conversation did not load."), err.message));
  }
}

function accept(conversation, replaceMessages) {
  const { messages, ...detail } = conversation;
  state.conversation = { ...state.conversation, ...detail };
  if (messages) {
    const loaded = [...messages.nodes].reverse();
    if (replaceMessages) {
      state.messages = loaded;
      state.messagesPage = messages.pageInfo;
    } else {
      // The server's page is the order of its messages; what "Load earlier" added before it stays.
      const page = new Set(loaded.map((m) => m.id));
      const oldest = loaded.length ? Date.parse(loaded[0].createdAt) : Infinity;
      const earlier = state.messages.filter((m) => !page.has(m.id) && Date.parse(m.createdAt) < oldest);
      state.messages = [...earlier, ...loaded];
    }
  }
  emit("detail", state.conversation);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 120);
}

/** The open conversation again (after an event or an action), keeping the scroll position. */
async function refresh() {
  const id = state.openId;
  if (!id) return;
  try {
    const data = await gql("Conversation", { id, first: PAGE });
    if (id !== state.openId) return;
    const pane = $(".messages");
    const atEnd = !pane || pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80;
    accept(data.conversation, false);
    renderHeader();
    renderMessages();
    composer.render();
    if (atEnd) scrollToEnd();
    if (state.conversation.unreadCount > 0 && document.visibilityState === "visible") markRead();
  } catch (err) {
    toast(err.message, "error");
  }
}

/** Applies a mutation's answer (a conversation) to the header, panel and list. */
function applied(conversation) {
  if (conversation.id !== state.openId) return;
  accept(conversation, false);
  renderHeader();
  composer.render();
  emit("conversation-changed", state.conversation);
}

/** A message a mutation returned: shown at once, without waiting for its event. */
function appendMessage(message) {
  if (!state.messages.some((m) => m.id === message.id)) state.messages.push(message);
  else state.messages = state.messages.map((m) => (m.id === message.id ? message : m));
  renderMessages();
  scrollToEnd();
}

async function markRead() {
  const c = state.conversation;
  if (!c || c.unreadCount === 0) return;
  try {
    await gql("MarkRead", { conversationId: c.id });
    state.conversation.unreadCount = 0;
    emit("conversation-changed", { ...state.conversation });
  } catch (err) {
    toast(err.message, "error");
  }
}

function render() {
  const root = $("#conversation");
  fill(root, h("header", { class: "conv-head", id: "conv-head" }), h("div", { class: "messages", id: "messages", role: "log", "aria-label": "Messages", tabindex: "0" }), h("div", { id: "composer-host" }));
  renderHeader();
  renderMessages();
  composer.mount($("#composer-host"));
}

function capabilityButton(label, capability, action, extra = {}) {
  const reasonId = `why-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return [
    h("button", {
      type: "button",
      disabled: !capability.allowed,
      title: capability.allowed ? label : why(capability),
      "aria-describedby": capability.allowed ? null : reasonId,
      onclick: action,
      ...extra,
    }, label),
    capability.allowed ? null : h("span", { id: reasonId, hidden: true }, why(capability)),
  ];
}

function renderHeader() {
  const c = state.conversation;
  const head = $("#conv-head");
  if (!c || !head) return;
  const hidden = c.customer.phoneHidden;
  const caps = c.capabilities;
  const status = c.status;
  fill(
    head,
    h("div", { class: "conv-title" },
      h("button", { type: "button", class: "ghost back", "aria-label": "Back to the inbox", onclick: () => $("#panes").classList.remove("show-conversation") }, "←"),
      h("span", { class: "avatar large", "aria-hidden": "true" }, initials(c.displayName)),
      h("div", { class: "who" },
        h("h2", { id: "conv-name" }, c.displayName),
        h("span", { class: "handle" },
          handle(c.customer) || "Unknown customer",
          hidden ? noPhoneIcon() : null,
          h("span", { "aria-hidden": "true" }, "·"),
          c.channel === "SMS" ? "SMS" : "WhatsApp",
          status !== "OPEN" ? h("span", { class: `status-pill ${status}` }, status === "SNOOZED" ? `snoozed until ${fullTime(c.snoozedUntil)}` : "resolved") : null,
        ),
      ),
      h("span", { class: "window", id: "window" }),
      h("button", { type: "button", class: "ghost details-toggle", "aria-label": "Customer details", onclick: () => $("#panes").classList.toggle("show-panel") }, "Details"),
    ),
    origin(c),
    h("div", { class: "conv-actions" },
      status === "RESOLVED"
        ? h("button", { type: "button", onclick: () => act("Reopen") }, "Reopen")
        : h("button", { type: "button", class: "primary", onclick: () => resolve(), title: "Resolve (e)" }, "Resolve"),
      h("button", { type: "button", onclick: () => dialogs.snooze() }, "Snooze…"),
      capabilityButton("Request phone number", caps.requestPhoneNumber, requestPhone),
      capabilityButton("Call", caps.call, call),
      capabilityButton("Switch to SMS", caps.switchToSms, switchToSms),
    ),
  );
  renderWindow();
}

function origin(c) {
  if (c.origin !== "RETURNING_CUSTOMER_HID_NUMBER") return null;
  return h("div", { class: "notice origin", role: "note" },
    h("span", {}, "Returning customer who hid the number."),
    c.previousConversation
      ? h("button", { type: "button", class: "link", onclick: () => openOther(c.previousConversation.id) }, "Open the earlier thread")
      : null,
    c.suggestedContact && !c.contact ? h("span", {}, `Suggested contact: ${c.suggestedContact.name}.`) : null);
}

function openOther(id) {
  state.selectedId = id;
  state.openId = id;
  emit("open", id);
}

function renderWindow() {
  const el = $("#window");
  const c = state.conversation;
  if (!el || !c) return;
  if (c.channel !== "WHATSAPP" || !c.serviceWindowEndsAt) {
    fill(el, c.channel === "WHATSAPP" ? "No open service window" : "");
    el.className = "window";
    return;
  }
  const left = remaining(c.serviceWindowEndsAt);
  // The warning starts when the workspace's `windowWarningMinutes` begin (the moment the server
  // writes `conversation.window_closing`).
  const warnMinutes = state.session?.workspaceSettings?.windowWarningMinutes ?? 60;
  const closing = left && new Date(c.serviceWindowEndsAt) - Date.now() < warnMinutes * 60000;
  el.className = `window${left ? (closing ? " closing" : "") : " closed"}`;
  el.setAttribute("role", closing ? "alert" : "status");
  el.title = `The 24-hour service window ${left ? "closes" : "closed"} ${fullTime(c.serviceWindowEndsAt)}`;
  fill(el, left ? (closing ? `⚠ Window closes in ${left}: reply now` : `Window closes in ${left}`) : "Service window closed");
}


export async function resolve() {
  if (!state.conversation || state.conversation.status === "RESOLVED") return;
  if (await act("Resolve")) toast("Resolved.");
}

async function requestPhone() {
  try {
    const data = await gql("RequestPhoneNumber", { conversationId: state.conversation.id });
    showMessage(data.requestPhoneNumber);
  } catch (err) {
    toast(err.message, "error");
  }
}

async function call() {
  try {
    const data = await gql("StartCall", { conversationId: state.conversation.id });
    toast(`Call ${data.startCall.phoneNumber}`);
  } catch (err) {
    toast(err.message, "error");
  }
}

async function switchToSms() {
  if (await act("SwitchToSms")) toast("This conversation continues by SMS.");
}

function ticks(m) {
  if (m.direction !== "OUTBOUND") return null;
  const [symbol, name] = TICKS[m.status] ?? ["", m.status];
  return h("span", { class: `ticks ${m.status}`, role: "img", "aria-label": name, title: name }, symbol);
}

function media(attachment) {
  const name = attachment.fileName || attachment.caption || attachment.kind.toLowerCase();
  if (attachment.status === "PENDING") return h("div", { class: "media muted" }, `Fetching ${attachment.kind.toLowerCase()}…`);
  if (attachment.status === "FAILED" || !attachment.url) {
    return h("div", { class: "media failed" }, `The ${attachment.kind.toLowerCase()} could not be fetched${attachment.failureReason ? `: ${attachment.failureReason}` : "."}`);
  }
  switch (attachment.kind) {
    case "IMAGE":
    case "STICKER":
      return h("div", { class: "media" }, h("a", { href: attachment.url, target: "_blank", rel: "noopener" }, h("img", { src: attachment.url, alt: attachment.caption || `Image ${name}`, loading: "lazy" })));
    case "VIDEO":
      return h("div", { class: "media" }, h("video", { src: attachment.url, controls: true, preload: "metadata", "aria-label": `Video ${name}` }));
    case "AUDIO":
    case "VOICE":
      return h("div", { class: "media" }, h("audio", { src: attachment.url, controls: true, preload: "none", "aria-label": attachment.kind === "VOICE" ? "Voice note" : `Audio ${name}` }));
    default:
      return h("div", { class: "media" }, h("a", { href: attachment.url, download: attachment.fileName || "", rel: "noopener" }, `📄 ${name}`), attachment.sizeBytes ? h("span", { class: "muted" }, ` · ${Math.ceil(attachment.sizeBytes / 1024)} KB`) : null);
  }
}

/** An away reply: sent by Parley outside business hours, shown as a system line. */
function awayEl(m) {
  return h("div", { class: "msg system", dataset: { id: m.id, status: m.status }, role: "note" },
    h("div", { class: "bubble" },
      h("div", { class: "system-head" }, "Away reply · sent automatically outside business hours"),
      h("div", { class: "text" }, m.text ?? "")),
    h("div", { class: "meta" }, h("time", { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)), ticks(m)));
}

function messageEl(m) {
  if (m.kind === "away" && !m.author) return awayEl(m);
  const c = state.conversation;
  const note = m.direction === "INTERNAL";
  const captions = m.attachments.map((a) => a.caption).filter(Boolean);
  const text = m.attachments.length ? captions.join("\n") : m.text ?? `[${m.kind}]`;
  const tools = note ? null : h("div", { class: "msg-tools" },
    h("button", { type: "button", class: "ghost small", "aria-label": "Reply to this message", onclick: () => composer.replyTo(m) }, "↩"),
    h("button", { type: "button", class: "ghost small", "aria-label": "React to this message", disabled: !c.capabilities.react.allowed, title: c.capabilities.react.allowed ? "React" : why(c.capabilities.react), onclick: (e) => reactBar(e.currentTarget, m) }, "☺"));
  return h("div", { class: `msg ${m.direction}`, dataset: { id: m.id, status: m.status } },
    tools,
    h("div", { class: "bubble" },
      note ? h("div", { class: "note-head" }, `Note · ${m.author?.name ?? "agent"}`) : null,
      m.templateName ? h("div", { class: "template-tag" }, `Template · ${m.templateName}`) : null,
      m.replyTo ? h("div", { class: "quote" }, m.replyTo.text ?? `[${m.replyTo.kind}]`) : null,
      m.attachments.map(media),
      text ? h("div", { class: "text" }, text) : null),
    m.reactions.length ? h("div", { class: "reactions", "aria-label": "Reactions" }, m.reactions.map((r) => h("span", { title: r.direction === "INBOUND" ? "Customer" : "Agent" }, r.emoji))) : null,
    h("div", { class: "meta" },
      m.direction === "OUTBOUND" && m.author ? h("span", {}, m.author.name) : null,
      h("time", { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
      ticks(m)),
    m.status === "FAILED" ? h("div", { class: "failed" }, `Not delivered${m.errorTitle ? `: ${m.errorTitle}` : "."}`) : null);
}

function reactBar(anchor, message) {
  const bar = h("div", { class: "emoji-bar", role: "group", "aria-label": "Reactions" },
    EMOJIS.map((emoji) => h("button", { type: "button", class: "ghost small", "aria-label": `React with ${emoji}`, onclick: () => react(message, emoji) }, emoji)));
  anchor.parentElement.replaceChildren(bar);
  bar.querySelector("button").focus();
}

async function react(message, emoji) {
  try {
    const data = await gql("React", { messageId: message.id, emoji });
    showMessage(data.reactToMessage);
  } catch (err) {
    toast(err.message, "error");
  }
}

function renderMessages() {
  const pane = $("#messages");
  if (!pane) return;
  const items = [];
  if (state.messagesPage?.hasNextPage) {
    items.push(h("button", { type: "button", class: "more", onclick: loadEarlier }, "Load earlier messages"));
  }
  let day = "";
  for (const m of state.messages) {
    const d = new Date(m.createdAt).toDateString();
    if (d !== day) {
      day = d;
      items.push(h("div", { class: "day" }, new Date(m.createdAt).toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" })));
    }
    items.push(messageEl(m));
  }
  if (state.messages.length === 0) items.push(h("div", { class: "empty" }, "No messages yet."));
  fill(pane, items);
}

async function loadEarlier() {
  const c = state.conversation;
  const pane = $("#messages");
  const before = pane.scrollHeight - pane.scrollTop;
  try {
    const data = await gql("Conversation", { id: c.id, first: PAGE, after: state.messagesPage.endCursor });
    const older = [...data.conversation.messages.nodes].reverse();
    state.messages = [...older.filter((o) => !state.messages.some((m) => m.id === o.id)), ...state.messages];
    state.messagesPage = data.conversation.messages.pageInfo;
    renderMessages();
    pane.scrollTop = pane.scrollHeight - before;
  } catch (err) {
    toast(err.message, "error");
  }
}

function scrollToEnd() {
  const pane = $("#messages");
  if (pane) pane.scrollTop = pane.scrollHeight;
}

export function focusComposer() {
  composer.focus();
}

