// What the desktop does to a conversation, as the modules below the page share it: run a
// mutation, and say what came back (the open conversation's views listen and redraw).

import { gql } from "./api.js";
import { toast } from "./ui.js";
import { state, emit } from "./state.js";

/** Runs a mutation on the open conversation; its answer (a conversation) redraws the views. */
export async function act(name, variables = {}) {
  const c = state.conversation;
  if (!c) return null;
  try {
    const data = await gql(name, { conversationId: c.id, ...variables });
    const result = Object.values(data)[0];
    emit("applied", result);
    return result;
  } catch (err) {
    toast(err.message, "error");
    return null;
  }
}

/** A message a mutation returned: shown at once, without waiting for its event. */
export function showMessage(message) {
  emit("message", message);
}

/** Loads the open conversation again (after a change its answer does not carry). */
export function reload() {
  emit("reload");
}
