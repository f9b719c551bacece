// The Reports view (admins): first-response and resolution times, volumes and SLA breaches
// over a range, grouped by day, agent, team or number; a bar chart of its own (inline SVG,
// no chart library) and the table; the conversations as CSV (`/reports/conversations.csv`,
// fetched with the agent's token and saved as a file).

import { gql, currentToken } from "./api.js";
import { $, h, fill, toast } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const GROUPS = { DAY: "Day", AGENT: "Agent", TEAM: "Team", BUSINESS_NUMBER: "Number" };
const RANGES = { 7: "Last 7 days", 30: "Last 30 days", 1: "Today" };

/** Seconds as a short duration: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function svg(name, attributes, ...children) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** Bars of conversations opened and resolved per row, with the row's label under each pair. */
function chart(rows) {
  const width = 640, height = 200, left = 32, bottom = 36, top = 12;
  const most = Math.max(1, ...rows.flatMap((r) => [r.conversationsOpened, r.conversationsResolved]));
  const slot = (width - left) / Math.max(rows.length, 1);
  const bar = Math.max(2, Math.min(18, slot / 2 - 3));
  const y = (n) => top + (height - top - bottom) * (1 - n / most);
  const bars = rows.flatMap((r, i) => {
    const x = left + i * slot + slot / 2;
    const label = r.label.length > 10 ? `${r.label.slice(0, 9)}…` : r.label;
    return [
      svg("rect", { class: "bar opened", x: x - bar - 1, y: y(r.conversationsOpened), width: bar, height: height - bottom - y(r.conversationsOpened) },
        svg("title", {}, `${r.label}: ${r.conversationsOpened} opened`)),
      svg("rect", { class: "bar resolved", x: x + 1, y: y(r.conversationsResolved), width: bar, height: height - bottom - y(r.conversationsResolved) },
        svg("title", {}, `${r.label}: ${r.conversationsResolved} resolved`)),
      rows.length <= 16 || i % Math.ceil(rows.length / 16) === 0
        ? svg("text", { class: "tick", x, y: height - bottom + 14, "text-anchor": "middle" }, label) : null,
    ];
  });
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Conversations opened and resolved" },
    svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    svg("text", { class: "tick", x: left - 6, y: y(most) + 4, "text-anchor": "end" }, String(most)),
    svg("text", { class: "tick", x: left - 6, y: height - bottom, "text-anchor": "end" }, "0"),
    bars,
    svg("rect", { class: "bar opened", x: left + 4, y: height - 14, width: 10, height: 10 }),
    svg("text", { class: "tick", x: left + 18, y: height - 5 }, "opened"),
    svg("rect", { class: "bar resolved", x: left + 74, y: height - 14, width: 10, height: 10 }),
    svg("text", { class: "tick", x: left + 88, y: height - 5 }, "resolved"));
}

function table(rows, group) {
  const head = ["", "Opened", "Resolved", "Received", "Sent", "First response (median / p90)", "Resolution (median / p90)", "SLA breaches"];
  return h("table", { class: "report-table" },
    h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { scope: "col" }, i === 0 ? GROUPS[group] : c)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      h("th", { scope: "row" }, r.label),
      h("td", {}, String(r.conversationsOpened)),
      h("td", {}, String(r.conversationsResolved)),
      h("td", {}, String(r.messagesReceived)),
      h("td", {}, String(r.messagesSent)),
      h("td", {}, `${duration(r.firstResponseTime.median)} / ${duration(r.firstResponseTime.p90)}`),
      h("td", {}, `${duration(r.resolutionTime.median)} / ${duration(r.resolutionTime.p90)}`),
      h("td", { class: r.slaBreaches > 0 ? "breaches" : null }, String(r.slaBreaches))))));
}

function rangeOf(days) {
  const to = new Date();
  const from = new Date(to);
  if (Number(days) === 1) from.setHours(0, 0, 0, 0);
  else from.setDate(from.getDate() - Number(days));
  return { from: from.toISOString(), to: new Date(to.getTime() + 60_000).toISOString() };
}

/** Saves the range's conversations as CSV (the token goes in the header, never in a URL). */
async function download(days) {
  const { from, to } = rangeOf(days);
  const url = `/reports/conversations.csv?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${currentToken()}` } });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    toast(body.error || `The export failed (${response.status}).`, "error");
    return;
  }
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "conversations.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** The Reports view, in the dialog. */
export function open() {
  const dialog = $("#dialog");
  const group = h("select", { id: "report-group", "aria-label": "Group by" },
    Object.entries(GROUPS).map(([value, name]) => h("option", { value }, name)));
  const range = h("select", { id: "report-range", "aria-label": "Range" },
    Object.entries(RANGES).map(([value, name]) => h("option", { value, selected: value === "7" }, name)));
  const result = h("div", { id: "report-result", class: "report-result", "aria-live": "polite" });
  const close = () => dialog.close();
  fill(dialog, h("form", { class: "dialog-body reports", method: "dialog", onsubmit: (e) => e.preventDefault() },
    h("header", {}, h("h2", { id: "dialog-title" }, "Reports"),
      h("button", { type: "button", class: "ghost", "aria-label": "Close", onclick: close }, "×")),
    h("div", { class: "report-controls" }, h("label", {}, "Group by ", group), h("label", {}, "Range ", range),
      h("button", { type: "button", id: "report-csv", onclick: () => download(range.value) }, "Download CSV")),
    result));
  dialog.classList.add("wide");
  dialog.addEventListener("close", () => dialog.classList.remove("wide"), { once: true });
  if (!dialog.open) dialog.showModal();

  async function load() {
    result.setAttribute("aria-busy", "true");
    try {
      const data = await gql("Report", { input: { ...rangeOf(range.value), groupBy: group.value } });
      const rows = data.report;
      fill(result, rows.length === 0 ? h("p", { class: "muted" }, "Nothing happened in this range.") : [chart(rows), table(rows, group.value)]);
    } catch (err) {
      fill(result, h("p", { class: "error" }, err.message));
    } finally {
      result.removeAttribute("aria-busy");
    }
  }
  group.addEventListener("change", load);
  range.addEventListener("change", load);
  load();
}
