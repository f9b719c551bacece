// What the desktop knows: the session's lists, the inbox's view and rows, the open
// conversation. Modules read it and render from it; `emit` tells the others what changed.

export const state = {
  session: null, // me, agents, teams, labels, cannedResponses, templates, businessNumbers
  view: "all",
  status: "OPEN",
  labelId: "",
  teamId: "",
  order: "LAST_ACTIVITY",
  search: "",
  rows: [],
  counts: null,
  pageInfo: null,
  loading: true,
  listError: null,
  selectedId: null,
  openId: null,
  conversation: null,
  messages: [],
  messagesPage: null,
  lastCursor: null,
};

const listeners = new Map();

export function on(name, listener) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(listener);
}

export function emit(name, detail) {
  for (const listener of listeners.get(name) ?? []) listener(detail);
}

export function isAdmin() {
  return state.session?.me.role === "ADMIN";
}
