// The contact panel: the customer as Meta describes them, the linked contact (or Create
// contact / Link to existing), assignment, labels, and the contact's other conversations.

import { $, h, fill, chip, shortTime, NO_PHONE, noPhoneIcon } from "./ui.js";
import { state, on, emit } from "./state.js";
import { act } from "./actions.js";
import * as dialogs from "./dialogs.js";

export function mount() {
  renderEmpty();
  on("detail", (c) => (c ? render(c) : renderEmpty()));
}

function renderEmpty() {
  fill($("#panel"), h("div", { class: "empty" }, "Customer details appear here."));
}

function field(name, ...value) {
  return h("div", { class: "field" }, h("dt", {}, name), h("dd", {}, ...value));
}

function render(c) {
  const { agents, teams, labels } = state.session;
  const customer = c.customer;
  const onConversation = new Set(c.labels.map((l) => l.id));
  const free = labels.filter((l) => !onConversation.has(l.id));
  fill(
    $("#panel"),
    h("section", { "aria-labelledby": "panel-customer" },
      h("h3", { id: "panel-customer" }, "Customer"),
      h("dl", {},
        field("Name", customer.profileName || c.displayName),
        customer.username ? field("Username", customer.username) : null,
        field("Phone", customer.phoneNumber ?? h("span", { class: "muted", id: "no-phone" }, NO_PHONE, " ", customer.phoneHidden ? noPhoneIcon() : null)),
        customer.smsOptedOut ? field("SMS", h("span", { class: "muted" }, "Opted out (STOP)")) : null,
        customer.notice && customer.notice !== NO_PHONE ? field("Note", customer.notice) : null,
        field("Number", `${c.businessNumber.displayPhoneNumber} (${c.channel === "SMS" ? "SMS" : "WhatsApp"})`))),
    contactSection(c),
    h("section", { "aria-labelledby": "panel-assign" },
      h("h3", { id: "panel-assign" }, "Assignment"),
      h("select", { id: "assign-agent", "aria-label": "Assigned agent", onchange: (e) => act("Assign", { agentId: e.target.value || null, teamId: c.team?.id ?? null }) },
        h("option", { value: "" }, "Unassigned"),
        agents.filter((a) => a.active).map((a) => h("option", { value: a.id, selected: c.assignee?.id === a.id }, a.name))),
      h("select", { id: "assign-team", "aria-label": "Team", onchange: (e) => act("Assign", { agentId: c.assignee?.id ?? null, teamId: e.target.value || null }) },
        h("option", { value: "" }, "No team"),
        teams.map((t) => h("option", { value: t.id, selected: c.team?.id === t.id }, t.name)))),
    h("section", { "aria-labelledby": "panel-labels" },
      h("h3", { id: "panel-labels" }, "Labels"),
      h("div", { class: "labels-row", id: "labels" },
        c.labels.length === 0 ? h("span", { class: "muted" }, "No labels") : null,
        c.labels.map((l) => chip(l, h("button", { type: "button", "aria-label": `Remove label ${l.name}`, onclick: () => act("RemoveLabel", { labelId: l.id }) }, "×")))),
      free.length
        ? h("select", { id: "add-label", "aria-label": "Add a label", onchange: (e) => e.target.value && act("AddLabel", { labelId: e.target.value }) },
          h("option", { value: "" }, "Add a label…"), free.map((l) => h("option", { value: l.id }, l.name)))
        : null),
  );
}

function contactSection(c) {
  const contact = c.contact;
  if (!contact) {
    return h("section", { "aria-labelledby": "panel-contact" },
      h("h3", { id: "panel-contact" }, "Contact"),
      h("p", { class: "muted" }, state.session?.workspaceSettings?.autoLinkAttestedPhone
        ? "Not linked to a contact: linked automatically only when the customer shares a phone with the request button and exactly one contact has it."
        : "Not linked to a contact: nothing is matched automatically."),
      c.suggestedContact
        ? h("div", { class: "contact-card" }, h("span", {}, "Suggested: ", h("strong", {}, c.suggestedContact.name)),
          h("button", { type: "button", onclick: () => act("LinkToExisting", { contactId: c.suggestedContact.id }) }, `Link to ${c.suggestedContact.name}`))
        : null,
      h("div", { class: "button-row" },
        h("button", { type: "button", id: "create-contact", class: "primary", onclick: () => dialogs.createContact() }, "Create contact"),
        h("button", { type: "button", id: "link-existing", onclick: () => dialogs.linkContact() }, "Link to existing")));
  }
  const others = contact.conversations.nodes.filter((o) => o.id !== c.id);
  return h("section", { "aria-labelledby": "panel-contact" },
    h("h3", { id: "panel-contact" }, "Contact"),
    h("div", { class: "contact-card", id: "contact-card" },
      h("span", { class: "name" }, contact.name),
      h("dl", {},
        contact.email ? field("E-mail", contact.email) : null,
        field("Phone", contact.phoneNumber ?? h("span", { class: "muted" }, "—")),
        contact.usernames.length ? field("Usernames", contact.usernames.join(", ")) : null),
      h("div", { class: "button-row" }, h("button", { type: "button", class: "small danger", onclick: () => act("Unlink") }, "Unlink"))),
    h("h3", {}, "Other conversations"),
    others.length === 0
      ? h("p", { class: "muted" }, "None.")
      : h("ul", { class: "others" }, others.map((o) => h("li", {}, h("button", {
        type: "button",
        onclick: () => { state.openId = o.id; state.selectedId = o.id; emit("open", o.id); },
      }, h("span", {}, `${o.displayName} · ${o.channel === "SMS" ? "SMS" : "WhatsApp"}`), h("span", { class: "muted" }, `${o.status.toLowerCase()} · ${shortTime(o.lastActivityAt)}`))))));
}
