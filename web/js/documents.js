// The GraphQL documents the desktop sends are files of their own (web/graphql/). Each is sent
// with the fragments it uses, found here; a test validates exactly what this module builds
// against schema.graphql, so the page and the schema cannot drift apart.

/** Splits a file of fragments into a map from name to source. */
export function parseFragments(source) {
  const fragments = new Map();
  const re = /fragment\s+(\w+)\s+on\s+\w+\s*\{/g;
  let match;
  while ((match = re.exec(source)) !== null) {
    let depth = 0;
    let end = match.index;
    for (let i = source.indexOf("{", match.index); i < source.length; i += 1) {
      if (source[i] === "{") depth += 1;
      if (source[i] === "}") depth -= 1;
      if (depth === 0) {
        end = i + 1;
        break;
      }
    }
    fragments.set(match[1], source.slice(match.index, end));
    re.lastIndex = end;
  }
  return fragments;
}

/** The operation with every fragment it spreads, directly or through another fragment. */
export function withFragments(operation, fragments) {
  const needed = new Set();
  const visit = (text) => {
    for (const [, name] of text.matchAll(/\.\.\.\s*(\w+)/g)) {
      if (name === "on" || needed.has(name)) continue;
      const fragment = fragments.get(name);
      if (fragment === undefined) throw new Error(`unknown fragment ${name}`);
      needed.add(name);
      visit(fragment);
    }
  };
  visit(operation);
  return [operation.trim(), ...[...needed].map((name) => fragments.get(name))].join("\n\n");
}

/** Loads the documents (in the browser): `documents.get("Inbox")` is ready to send. */
export async function loadDocuments(names, base = "/desktop/graphql/") {
  const read = async (name) => {
    const response = await fetch(`${base}${name}.graphql`);
    if (!response.ok) throw new Error(`${name}.graphql: ${response.status}`);
    return response.text();
  };
  const fragments = parseFragments(await read("fragments"));
  const sources = await Promise.all(names.map(read));
  return new Map(names.map((name, i) => [name, withFragments(sources[i], fragments)]));
}

/** Every document of the desktop, by file name. */
export const DOCUMENTS = [
  "Session", "Inbox", "InboxRow", "Conversation", "Contacts", "Events",
  "SendMessage", "SendTemplate", "SendMedia", "AddNote", "React", "RequestPhoneNumber",
  "StartCall", "SwitchToSms", "MarkRead", "Assign", "Resolve", "Reopen", "Snooze",
  "AddLabel", "RemoveLabel", "CreateContact", "LinkToExisting", "Unlink", "StartConversation",
  "SetAvailability", "Report",
];
