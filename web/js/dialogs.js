// Dialogs: the template picker (denied categories greyed and struck through, with their
// reason as text), snooze, Create contact, Link to existing, a new conversation, shortcuts.
// `Esc` closes every one of them (the browser's <dialog>).

import { gql } from "./api.js";
import { $, h, fill, toast, idempotencyKey, why as whyDenied } from "./ui.js";
import { state, emit } from "./state.js";
import { act, showMessage, reload } from "./actions.js";

const CATEGORY = { MARKETING: "Marketing", UTILITY: "Utility", AUTHENTICATION: "Authentication" };

function show(title, body, footer) {
  const dialog = $("#dialog");
  fill(dialog, h("form", { class: "dialog-body", method: "dialog", onsubmit: (e) => e.preventDefault() },
    h("header", {}, h("h2", { id: "dialog-title" }, title),
      h("button", { type: "button", class: "ghost", "aria-label": "Close", onclick: close }, "×")),
    body,
    footer ? h("footer", {}, footer) : null));
  if (!dialog.open) dialog.showModal();
  return dialog;
}

export function close() {
  $("#dialog").close();
}

/** How many `{{n}}` parameters a template body has. */
function parameterCount(body) {
  const numbers = [...body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => Number(m[1]));
  return numbers.length ? Math.max(...numbers) : 0;
}

function parameterInputs(template) {
  return Array.from({ length: parameterCount(template.body) }, (_, i) =>
    h("label", {}, `Parameter {{${i + 1}}}`, h("input", { type: "text", class: "template-param", required: true, "aria-label": `Parameter ${i + 1}` })));
}

const STATUS = { APPROVED: "Approved", PENDING: "In review", REJECTED: "Rejected", PAUSED: "Paused", DISABLED: "Disabled" };
const QUALITY = { GREEN: "High quality", YELLOW: "Medium quality", RED: "Low quality", UNKNOWN: "Quality not rated" };

/** A template's review as chips: WhatsApp's status (when not approved) and its quality. */
function review(t) {
  return h("span", { class: "review" },
    t.status === "APPROVED" ? null : h("span", { class: `chip status-${t.status.toLowerCase()}` }, STATUS[t.status]),
    h("span", { class: `chip quality-${t.qualityScore.toLowerCase()}`, title: QUALITY[t.qualityScore] }, QUALITY[t.qualityScore]));
}

/** The template picker of the open conversation: each template of the conversation's WABA
 * (and the workspace's own) with its status and quality; one WhatsApp has not approved, or
 * whose category is denied here, is greyed with the reason. */
export function templates() {
  const c = state.conversation;
  if (!c) return;
  const byCategory = new Map(c.capabilities.templates.filter((t) => !t.template).map((t) => [t.category, t]));
  const byTemplate = new Map(c.capabilities.templates.filter((t) => t.template).map((t) => [t.template.id, t]));
  let chosen = null;
  const params = h("div", { class: "form-grid", id: "template-params" });
  const send = h("button", { type: "button", class: "primary", disabled: true, onclick: submit }, "Send template");
  const usable = state.session.templates.filter((t) => byTemplate.has(t.id));
  const groups = Object.keys(CATEGORY).map((category) => {
    const cap = byCategory.get(category) ?? { allowed: true };
    const list = usable.filter((t) => t.category === category);
    if (list.length === 0) return null;
    const why = `why-${category.toLowerCase()}`;
    return h("div", { class: `template-group${cap.allowed ? "" : " denied"}`, dataset: { category } },
      h("h3", {}, h("span", { class: "cat" }, CATEGORY[category]), cap.allowed ? null : h("span", { class: "why", id: why }, whyDenied(cap))),
      list.map((t) => {
        const own = byTemplate.get(t.id);
        const ok = own.allowed;
        const reason = ok ? null : whyDenied(own);
        const describedBy = `why-template-${t.id}`;
        return h("button", {
          type: "button",
          class: `template${ok ? "" : " denied-template"}`,
          disabled: !ok,
          "aria-pressed": "false",
          "aria-describedby": ok ? null : (cap.allowed ? describedBy : why),
          title: reason,
          dataset: { name: t.name, status: t.status },
          onclick: (e) => {
            chosen = t;
            for (const b of document.querySelectorAll(".template")) b.setAttribute("aria-pressed", String(b === e.currentTarget));
            fill(params, parameterInputs(t));
            send.disabled = false;
          },
        }, h("strong", {}, `${t.name} · ${t.language}`), review(t), h("span", { class: "body" }, t.body),
        ok || !cap.allowed ? null : h("span", { class: "why", id: describedBy }, reason));
      }));
  });
  show("Send a template", h("div", { class: "form-grid" },
    usable.length === 0 ? h("p", { class: "muted" }, "This workspace has no templates yet.") : groups, params),
  [h("button", { type: "button", onclick: close }, "Cancel"), send]);

  async function submit() {
    const parameters = [...document.querySelectorAll(".template-param")].map((i) => i.value);
    if (parameters.some((p) => !p.trim())) { toast("Fill in every parameter.", "error"); return; }
    try {
      const data = await gql("SendTemplate", { conversationId: c.id, templateId: chosen.id, parameters, key: idempotencyKey() });
      close();
      showMessage(data.sendTemplate);
    } catch (err) {
      toast(err.message, "error");
    }
  }
}

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Snooze until a time (or the customer's next message). */
export function snooze() {
  if (!state.conversation) return;
  const tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const input = h("input", { type: "datetime-local", id: "snooze-until", value: localInput(tomorrow), required: true });
  const quick = (name, date) => h("button", { type: "button", onclick: () => { input.value = localInput(date); } }, name);
  const inHour = new Date(Date.now() + 3600000);
  const nextWeek = new Date(tomorrow.getTime() + 6 * 86400000);
  show("Snooze until", h("div", { class: "form-grid" },
    h("div", { class: "button-row" }, quick("In an hour", inHour), quick("Tomorrow 09:00", tomorrow), quick("Next week", nextWeek)),
    h("label", {}, "Until", input),
    h("p", { class: "muted" }, "The customer's next message reopens it earlier.")),
  [h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "button", class: "primary", onclick: async () => {
    const until = new Date(input.value);
    if (Number.isNaN(until.getTime())) { toast("Choose a time.", "error"); return; }
    if (await act("Snooze", { until: until.toISOString() })) { close(); toast("Snoozed."); }
  } }, "Snooze")]);
}

/** Create contact, linked to the open conversation. */
export function createContact() {
  const c = state.conversation;
  if (!c) return;
  const name = h("input", { type: "text", id: "contact-name", value: c.customer.profileName || c.displayName, required: true });
  const email = h("input", { type: "email", id: "contact-email" });
  const phone = h("input", { type: "tel", id: "contact-phone", value: c.customer.phoneNumber ?? "", placeholder: "+14155550123" });
  show("Create contact", h("div", { class: "form-grid" },
    h("label", {}, "Name", name), h("label", {}, "E-mail", email), h("label", {}, "Phone", phone),
    c.customer.username ? h("p", { class: "muted" }, `${c.customer.username} is saved as its identifier.`) : null),
  [h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "button", class: "primary", onclick: async () => {
    if (!name.value.trim()) { toast("A contact needs a name.", "error"); return; }
    try {
      await gql("CreateContact", { conversationId: c.id, input: { name: name.value.trim(), email: email.value.trim() || null, phoneNumber: phone.value.trim() || null } });
      close();
      toast("Contact created and linked.");
      reload();
    } catch (err) {
      toast(err.message, "error");
    }
  } }, "Create and link")]);
}

/** Link to existing: search as you type, then link. */
export function linkContact() {
  const c = state.conversation;
  if (!c) return;
  const results = h("ul", { class: "results", id: "contact-results", "aria-label": "Contacts" });
  let timer;
  let seq = 0;
  const search = async (text) => {
    const mine = ++seq;
    try {
      const data = await gql("Contacts", { search: text || null });
      if (mine !== seq) return;
      const nodes = data.contacts.nodes;
      fill(results, nodes.length === 0 ? h("li", { class: "muted" }, "No contact matches.") : nodes.map((contact) => h("li", {}, h("button", {
        type: "button",
        onclick: async () => { if (await act("LinkToExisting", { contactId: contact.id })) { close(); toast(`Linked to ${contact.name}.`); } },
      }, h("strong", {}, contact.name), h("span", { class: "detail" }, [contact.email, contact.phoneNumber, ...contact.usernames].filter(Boolean).join(" · ") || "No details")))));
    } catch (err) {
      fill(results, h("li", { class: "error" }, err.message));
    }
  };
  const input = h("input", { type: "search", id: "contact-search", "aria-label": "Search contacts", placeholder: "Name, e-mail, phone or @username", autocomplete: "off",
    oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => search(e.target.value.trim()), 200); } });
  show("Link to existing contact", h("div", { class: "form-grid" }, input, results), [h("button", { type: "button", onclick: close }, "Cancel")]);
  input.focus();
  search("");
}

/** Start a conversation by phone, with a template (WhatsApp) or a text (SMS). */
export function newConversation() {
  const numbers = state.session.businessNumbers.filter((n) => n.connected);
  const number = h("select", { id: "start-number", "aria-label": "From number" },
    numbers.map((n) => h("option", { value: n.id, dataset: { channel: n.channel, waba: n.wabaId ?? "" } }, `${n.displayPhoneNumber} · ${n.channel === "SMS" ? "SMS" : "WhatsApp"}`)));
  const phone = h("input", { type: "tel", id: "start-phone", placeholder: "+14155550123", required: true });
  const template = h("select", { id: "start-template", "aria-label": "Template" });
  // Only what the chosen number may send: approved templates of its WABA, and the workspace's own.
  const offer = () => {
    const waba = number.selectedOptions[0]?.dataset.waba ?? "";
    const usable = state.session.templates.filter((t) => t.status === "APPROVED" && (!t.wabaId || t.wabaId === waba));
    fill(template, usable.map((t) => h("option", { value: t.id }, `${t.name} (${t.category.toLowerCase()}, ${t.language})`)));
  };
  offer();
  const params = h("div", { class: "form-grid" });
  const text = h("textarea", { id: "start-text", rows: "3", "aria-label": "Text" });
  const templateRow = h("label", {}, "Template", template);
  const textRow = h("label", {}, "Text", text);
  const sync = () => {
    const sms = number.selectedOptions[0]?.dataset.channel === "SMS";
    templateRow.hidden = sms;
    params.hidden = sms;
    textRow.hidden = !sms;
    const t = state.session.templates.find((x) => x.id === template.value);
    fill(params, t ? parameterInputs(t) : null);
  };
  number.addEventListener("change", () => { offer(); sync(); });
  template.addEventListener("change", sync);
  show("New conversation", h("div", { class: "form-grid" },
    numbers.length === 0 ? h("p", { class: "muted" }, "Connect a number first.") : null,
    h("label", {}, "From", number), h("label", {}, "Customer's phone (E.164)", phone), templateRow, params, textRow),
  [h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "button", class: "primary", onclick: async () => {
    const sms = number.selectedOptions[0]?.dataset.channel === "SMS";
    const input = { businessNumberId: number.value, phoneNumber: phone.value.trim(), idempotencyKey: idempotencyKey() };
    if (sms) input.text = text.value.trim();
    else {
      input.templateId = template.value;
      input.parameters = [...params.querySelectorAll(".template-param")].map((i) => i.value);
    }
    try {
      const data = await gql("StartConversation", { input });
      close();
      const row = data.startConversation;
      emit("conversation-changed", row);
      state.openId = row.id;
      state.selectedId = row.id;
      emit("open", row.id);
    } catch (err) {
      toast(err.message, "error");
    }
  } }, "Start")]);
  sync();
}

/** `?`: the keyboard shortcuts. */
export function shortcuts() {
  const keys = [["j / k", "Next / previous conversation"], ["Enter", "Open it"], ["r", "Reply (focus the composer)"], ["e", "Resolve"],
    ["/", "Search (in the composer: saved answers)"], ["Ctrl+Enter", "Send"], ["Esc", "Close a dialog"], ["?", "This list"]];
  show("Keyboard shortcuts", h("dl", { class: "shortcuts" }, keys.flatMap(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)])),
    [h("button", { type: "button", class: "primary", onclick: close }, "Close")]);
}
