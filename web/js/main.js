// The desktop's entry point: sign-in (a pasted token or `/#token=…`), the session, live
// updates and the keyboard.

import { init, gql, document as doc } from "./api.js";
import { Live } from "./live.js";
import { $, fill, toast } from "./ui.js";
import { state, emit, isAdmin } from "./state.js";
import * as inbox from "./inbox.js";
import * as conversation from "./conversation.js";
import * as panel from "./panel.js";
import * as dialogs from "./dialogs.js";
import * as reports from "./reports.js";

const TOKEN_KEY = "parley.token";
let live = null;

/** The token of the link (`#token=…`), kept in sessionStorage and removed from the address bar. */
function takeToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromLink = hash.get("token");
  if (fromLink) {
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function showSignIn(message = "") {
  live?.stop();
  live = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("#booting").hidden = true;
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin-token").focus();
}

async function start(token) {
  $("#signin").hidden = true;
  $("#booting").hidden = false;
  try {
    await init(token, (message) => showSignIn(message));
    state.session = await gql("Session");
  } catch (err) {
    showSignIn(err.code === "NETWORK" ? err.message : `This token does not sign in: ${err.message}`);
    return;
  }
  const me = state.session.me;
  fill($("#me"), `${me.name} · ${me.role.toLowerCase()}`);
  $("#reports-button").hidden = me.role !== "ADMIN";
  mountAvailability(me);
  showOpenState(state.session.workspace);
  $("#booting").hidden = true;
  $("#app").hidden = false;
  inbox.mount();
  conversation.mount();
  panel.mount();
  startLive(token);
  await inbox.load();
}

/** The header's availability switch: whether team routing gives the agent new conversations. */
function mountAvailability(me) {
  const select = $("#availability");
  select.value = me.availability;
  select.dataset.value = me.availability;
  select.addEventListener("change", async () => {
    const wanted = select.value;
    try {
      const data = await gql("SetAvailability", { availability: wanted });
      me.availability = data.setAvailability.availability;
      select.dataset.value = me.availability;
      toast(me.availability === "ONLINE" ? "You are online: the team's queue comes to you." : `You are ${me.availability.toLowerCase()}: no new conversations are routed to you.`);
    } catch (err) {
      select.value = me.availability;
      toast(err.message, "error");
    }
  });
}

/** Outside business hours: when the team opens again (customers get the away reply meanwhile). */
function showOpenState(workspace) {
  const el = $("#hours-state");
  if (workspace.openNow) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const opens = workspace.nextOpensAt ? new Date(workspace.nextOpensAt) : null;
  const when = opens ? opens.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" }) : null;
  fill(el, when ? `Closed · opens ${when}` : "Closed");
  el.title = "Outside business hours: customers who write get the away reply.";
}

function startLive(token) {
  const indicator = $("#live-state");
  live = new Live({
    token,
    query: doc("Events"),
    // An admin resumes after the last cursor seen; an agent's subscription is live only, so
    // a reconnected agent reloads what is on screen instead.
    variables: () => (isAdmin() && state.lastCursor ? { after: state.lastCursor } : {}),
    onEvent: (event) => {
      state.lastCursor = event.cursor;
      emit("event", event);
    },
    onState: (value, detail) => {
      indicator.className = `live-state ${value}`;
      indicator.textContent = { live: "Live", reconnecting: "Reconnecting…", closed: "Offline", error: "Live updates refused" }[value] ?? value;
      if (value === "live" && detail === "resumed" && !isAdmin()) emit("resync");
      if (value === "closed") toast(detail, "error");
      if (value === "error") toast(detail, "error");
    },
  });
  live.start();
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function keyboard(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if ($("#dialog").open || $("#app").hidden || typing(event.target)) return;
  switch (event.key) {
    case "j": inbox.move(1); break;
    case "k": inbox.move(-1); break;
    case "Enter":
      if (event.target instanceof HTMLButtonElement) return;
      inbox.openSelected();
      break;
    case "r": conversation.focusComposer(); break;
    case "e": conversation.resolve(); break;
    case "/": $("#search").focus(); break;
    case "?": dialogs.shortcuts(); break;
    default: return;
  }
  event.preventDefault();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#signin-token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token);
  });
  $("#sign-out").addEventListener("click", () => showSignIn("Signed out."));
  $("#shortcuts-button").addEventListener("click", () => dialogs.shortcuts());
  $("#new-conversation").addEventListener("click", () => dialogs.newConversation());
  $("#reports-button").addEventListener("click", () => reports.open());
  document.addEventListener("keydown", keyboard);
  const token = takeToken();
  if (token) start(token);
  else showSignIn();
});

