// The inbox list: views with their counts (the team queue among them), label, team and status
// filters, the order (newest activity or SLA due first), search, rows that change in place when
// events arrive, each with its SLA due time or breach.

import { gql } from "./api.js";
import { $, h, fill, shortTime, fullTime, initials, handle, chip, toast } from "./ui.js";
import { state, on, emit } from "./state.js";

const PAGE = 50;
const VIEWS = [
  { id: "all", name: "All", count: "open" },
  { id: "mine", name: "Mine", count: "mine" },
  { id: "unassigned", name: "Unassigned", count: "unassigned" },
  { id: "unread", name: "Unread", count: "unread" },
  { id: "queue", name: "Team queue", count: "waiting" },
  { id: "username", name: "Username-only" },
];
const STATUSES = [["OPEN", "Open"], ["SNOOZED", "Snoozed"], ["RESOLVED", "Resolved"], ["", "Any status"]];

let searchTimer;
let loadSeq = 0;
const pendingRows = new Map();

export function mount() {
  const { labels, teams } = state.session;
  fill($("#filter-status"), STATUSES.map(([value, name]) => h("option", { value }, name)));
  fill($("#filter-label"), h("option", { value: "" }, "All labels"), labels.map((l) => h("option", { value: l.id }, l.name)));
  fill($("#filter-team"), h("option", { value: "" }, "All teams"), teams.map((t) => h("option", { value: t.id }, t.name)));
  $("#filter-status").addEventListener("change", (e) => { state.status = e.target.value; load(); });
  $("#filter-label").addEventListener("change", (e) => { state.labelId = e.target.value; load(); });
  $("#filter-team").addEventListener("change", (e) => { state.teamId = e.target.value; load(); });
  $("#order").addEventListener("change", (e) => { state.order = e.target.value; load(); });
  $("#search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = e.target.value.trim(); load(); }, 250);
  });
  $("#search").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.target.value = ""; state.search = ""; load(); e.target.blur(); }
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
  });
  renderViews();
  on("event", (event) => { if (event.conversationId) refreshRow(event.conversationId); });
  on("resync", () => load());
  on("conversation-changed", (row) => upsert(row));
}

function filter() {
  const f = {};
  if (state.status) f.status = state.status;
  if (state.view === "mine") f.assignedToMe = true;
  if (state.view === "unassigned") f.unassigned = true;
  if (state.view === "unread") f.unread = true;
  if (state.view === "queue") f.waiting = true;
  if (state.view === "username") f.usernameOnly = true;
  if (state.labelId) f.labelIds = [state.labelId];
  if (state.teamId) f.teamId = state.teamId;
  if (state.search) f.search = state.search;
  return f;
}

/** Whether a row belongs in the current view (for rows that change live). */
function matches(row) {
  const me = state.session.me.id;
  if (state.status && row.status !== state.status) return false;
  if (state.view === "mine" && row.assignee?.id !== me) return false;
  if (state.view === "unassigned" && row.assignee) return false;
  if (state.view === "unread" && row.unreadCount === 0) return false;
  if (state.view === "queue" && (row.assignee || !row.team || row.status !== "OPEN")) return false;
  if (state.view === "username" && !row.customer.phoneHidden) return false;
  if (state.labelId && !row.labels.some((l) => l.id === state.labelId)) return false;
  if (state.teamId && row.team?.id !== state.teamId) return false;
  return true;
}

export async function load(more = false) {
  const seq = ++loadSeq;
  if (!more) {
    state.loading = true;
    state.listError = null;
    render();
  }
  try {
    const variables = { first: PAGE, after: more ? state.pageInfo?.endCursor : null, filter: filter(), orderBy: state.order };
    const data = await gql("Inbox", variables);
    if (seq !== loadSeq) return;
    const nodes = data.conversations.nodes;
    state.rows = more ? [...state.rows, ...nodes.filter((n) => !state.rows.some((r) => r.id === n.id))] : nodes;
    state.pageInfo = data.conversations.pageInfo;
    state.counts = data.inboxCounts;
  } catch (err) {
    if (seq !== loadSeq) return;
    state.listError = err.message;
  }
  state.loading = false;
  renderViews();
  render();
}

function renderViews() {
  fill(
    $("#views"),
    VIEWS.map((view) =>
      h(
        "button",
        {
          type: "button",
          "aria-pressed": String(state.view === view.id),
          onclick: () => { state.view = view.id; renderViews(); load(); },
        },
        view.name,
        view.count && state.counts ? h("span", { class: "count" }, state.counts[view.count]) : null,
      ),
    ),
  );
}

/** The row's SLA: breached, or when its nearest target falls due (soon: a warning). */
function sla(row) {
  if (row.slaBreached) return h("span", { class: "sla breached", title: "A service-level target was missed" }, "SLA breached");
  if (!row.slaDueAt) return null;
  const left = new Date(row.slaDueAt).getTime() - Date.now();
  const soon = left < 15 * 60 * 1000;
  return h("span", { class: `sla${soon ? " soon" : ""}`, title: `SLA due ${fullTime(row.slaDueAt)}` }, `Due ${shortTime(row.slaDueAt)}`);
}

function rowButton(row) {
  const unread = row.unreadCount > 0;
  const last = row.lastMessage;
  const who = (m) => (m.direction === "INBOUND" ? "" : m.direction === "INTERNAL" ? "Note: " : m.kind === "away" ? "Away reply: " : "You: ");
  const preview = last ? `${who(last)}${last.text ?? `[${last.kind}]`}` : "No messages yet";
  const tags = [
    sla(row),
    ...row.labels.map((l) => chip(l)),
    row.team ? h("span", { class: "chip plain" }, row.team.name) : null,
    row.assignee ? h("span", { class: "chip plain" }, `→ ${row.assignee.name}`) : null,
    row.status !== "OPEN" ? h("span", { class: `status-pill ${row.status}` }, row.status.toLowerCase()) : null,
    row.channel === "SMS" ? h("span", { class: "chip plain" }, "SMS") : null,
  ];
  const label = [row.displayName, handle(row.customer), unread ? `${row.unreadCount} unread` : null, preview].filter(Boolean).join(", ");
  return h(
    "button",
    {
      type: "button",
      class: `row${unread ? " unread" : ""}${state.selectedId === row.id ? " selected" : ""}`,
      "aria-current": state.openId === row.id ? "true" : null,
      "aria-label": label,
      dataset: { id: row.id },
      onclick: () => { state.selectedId = row.id; open(row.id); },
    },
    h("span", { class: "avatar", "aria-hidden": "true" }, initials(row.displayName)),
    h("span", { class: "name" }, row.displayName),
    h("span", { class: "time" }, shortTime(row.lastActivityAt)),
    h("span", { class: "sub" }, handle(row.customer) || (row.channel === "SMS" ? "SMS" : "WhatsApp")),
    unread ? h("span", { class: "badge", "aria-hidden": "true" }, row.unreadCount) : h("span"),
    h("span", { class: "preview" }, preview),
    h("span", { class: "tags" }, tags),
  );
}

export function render() {
  const list = $("#list");
  list.setAttribute("aria-busy", String(state.loading));
  if (state.loading && state.rows.length === 0) {
    fill(list, Array.from({ length: 6 }, () => h("li", { class: "skeleton", "aria-hidden": "true" })));
    return;
  }
  if (state.listError) {
    fill(list, h("li", { class: "empty" }, h("strong", {}, "The inbox did not load."), state.listError, h("br"),
      h("button", { type: "button", class: "more", onclick: () => load() }, "Try again")));
    return;
  }
  if (state.rows.length === 0) {
    fill(list, h("li", { class: "empty" }, h("strong", {}, state.search ? "No conversation matches." : "Nothing here."),
      state.search ? "Try a name, @username or phone." : "New conversations appear here as customers write."));
    return;
  }
  fill(
    list,
    state.rows.map((row) => h("li", {}, rowButton(row))),
    state.pageInfo?.hasNextPage ? h("li", {}, h("button", { type: "button", class: "more", onclick: () => load(true) }, "Load more")) : null,
  );
}

/** Puts a changed row where it belongs: updated in place, first when it moved, or gone. */
function upsert(row) {
  const at = state.rows.findIndex((r) => r.id === row.id);
  if (!matches(row)) {
    if (at >= 0) state.rows.splice(at, 1);
  } else if (at >= 0 && (state.order === "SLA_DUE" || state.rows[at].lastActivityAt === row.lastActivityAt)) {
    state.rows[at] = row;
  } else {
    if (at >= 0) state.rows.splice(at, 1);
    const later = state.order === "SLA_DUE"
      ? (r) => !r.slaDueAt || (row.slaDueAt && r.slaDueAt > row.slaDueAt)
      : (r) => r.lastActivityAt < row.lastActivityAt;
    const index = state.rows.findIndex(later);
    state.rows.splice(index < 0 ? state.rows.length : index, 0, row);
  }
  render();
}

/** After an event: the row again (several events of one conversation are one request). */
function refreshRow(id) {
  if (pendingRows.has(id)) return;
  pendingRows.set(id, setTimeout(async () => {
    pendingRows.delete(id);
    try {
      const data = await gql("InboxRow", { id });
      state.counts = data.inboxCounts;
      renderViews();
      if (state.search) {
        const at = state.rows.findIndex((r) => r.id === id);
        if (at >= 0) { state.rows[at] = data.conversation; render(); }
      } else {
        upsert(data.conversation);
      }
    } catch (err) {
      if (err.code !== "NOT_FOUND") toast(err.message, "error");
      const at = state.rows.findIndex((r) => r.id === id);
      if (at >= 0) { state.rows.splice(at, 1); render(); }
    }
  }, 120));
}

export function open(id) {
  state.openId = id;
  render();
  emit("open", id);
  $("#panes").classList.add("show-conversation");
}

/** `j`/`k`: the next or previous row, selected and focused. */
export function move(step) {
  if (state.rows.length === 0) return;
  const at = state.rows.findIndex((r) => r.id === (state.selectedId ?? state.openId));
  const next = Math.max(0, Math.min(state.rows.length - 1, at < 0 ? 0 : at + step));
  state.selectedId = state.rows[next].id;
  render();
  const button = $(`.row[data-id="${state.selectedId}"]`);
  button?.focus();
  button?.scrollIntoView({ block: "nearest" });
}

export function openSelected() {
  if (state.selectedId) open(state.selectedId);
}
