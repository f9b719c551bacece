// Small DOM helpers: elements are built, never parsed from strings, so no customer's text
// can become markup.

/** `h("button", { class: "x", onclick }, "Text", child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** "09:41", "Tue", or "3 Mar", as a list shows times. */
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  if (now - d < 6 * 86400000) return d.toLocaleDateString([], { weekday: "short" });
  return d.toLocaleDateString([], { day: "numeric", month: "short" });
}

export function fullTime(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** "2 h 05 min" until a time, or null once it passed. */
export function remaining(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (ms <= 0) return null;
  const minutes = Math.floor(ms / 60000);
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours} h ${String(minutes % 60).padStart(2, "0")} min` : `${minutes} min`;
}

/** Initials for an avatar. */
/**
 * Why an action is denied, in the desktop's words: the server gives each denial a code
 * (`reasonCode`) so a frontend can say it its own way (or in its own language); the server's
 * English `reason` is the fallback for a code this page does not know yet.
 */
const REASON_TEXT = {
  WINDOW_CLOSED: "The 24-hour window has closed: send an approved template.",
  PHONE_REQUIRED: "Needs the customer's phone number: ask them to share it.",
  WHATSAPP_ONLY: "Only on WhatsApp: switch the conversation back to WhatsApp.",
  OPTED_OUT: "The customer replied STOP: no more texts until they reply START.",
  PHONE_ALREADY_KNOWN: "The customer's phone number is already known.",
  NUMBER_DISCONNECTED: "This business number is disconnected: an admin can connect it again.",
};

/** The text of a denied capability (`null` when allowed). */
export function why(capability) {
  if (!capability || capability.allowed) return null;
  return REASON_TEXT[capability.reasonCode] ?? capability.reason;
}

export function initials(name) {
  const words = (name || "").split(/\s+/).map((w) => w.replace(/^[^\p{L}\p{N}]+/u, "")).filter(Boolean);
  return words.slice(0, 2).map((w) => [...w][0].toUpperCase()).join("") || "?";
}

/** The line under a customer's name: `@username`, the phone, or both. */
export function handle(customer) {
  if (!customer) return "";
  if (customer.username && customer.phoneNumber) return `${customer.username} · ${customer.phoneNumber}`;
  return customer.username || customer.phoneNumber || "";
}

const NO_PHONE = "No phone number provided by user.";
export { NO_PHONE };

/** The ⓘ beside a username whose owner hid the number. */
export function noPhoneIcon() {
  return h("span", { class: "info", role: "img", "aria-label": NO_PHONE, title: NO_PHONE }, "i");
}

/** A label chip in its colour. */
export function chip(label, extra) {
  const el = h("span", { class: "chip" }, h("span", { class: "dot", "aria-hidden": "true" }), label.name, extra);
  el.firstChild.style.setProperty("background", label.color);
  return el;
}

let toastTimer;
/** A short message at the bottom of the screen (errors stay until dismissed). */
export function toast(message, kind = "info") {
  const host = $("#toast");
  clearTimeout(toastTimer);
  fill(
    host,
    h("span", {}, message),
    h("button", { type: "button", class: "ghost small", "aria-label": "Dismiss", onclick: () => host.classList.remove("shown") }, "×"),
  );
  host.className = `toast shown toast-${kind}`;
  if (kind !== "error") toastTimer = setTimeout(() => host.classList.remove("shown"), 3500);
}

/** A random key for idempotent sends. */
export function idempotencyKey() {
  return crypto.randomUUID();
}
