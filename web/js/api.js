// GraphQL over HTTP and uploads, with the signed-in agent's token.

import { loadDocuments, DOCUMENTS } from "./documents.js";

let documents = new Map();
let token = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function init(t, signedOut) {
  token = t;
  onSignedOut = signedOut;
  documents = await loadDocuments(DOCUMENTS);
}

export function document(name) {
  const source = documents.get(name);
  if (!source) throw new Error(`no document ${name}`);
  return source;
}

export function currentToken() {
  return token;
}

/** Runs the operation of `web/graphql/NAME.graphql`; resolves with its data. */
export async function gql(name, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: document(name), variables, operationName: name }),
    });
  } catch {
    throw new ApiError("Parley cannot be reached. Check your connection.", "NETWORK");
  }
  const body = await response.json().catch(() => ({}));
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    if (code === "UNAUTHENTICATED") onSignedOut(error.message);
    throw new ApiError(error.message, code);
  }
  if (!response.ok) throw new ApiError(`Parley answered ${response.status}.`, "HTTP");
  return body.data;
}

/** `POST /media`: the attachment's id for `sendMedia`. */
export async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch("/media", { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error || `Upload failed (${response.status}).`, body.code || "UPLOAD");
  return body;
}
