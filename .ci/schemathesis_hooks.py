"""Schemathesis check for Parley: zero server errors, by Parley's own error contract.

Schemathesis' built-in GraphQL check counts every error raised while executing as a server
error unless it carries one of a few generic codes. Parley answers business-rule refusals
(CAPABILITY_DENIED, NOT_FOUND, CONFLICT, FORBIDDEN, ...) with their own codes, and only
INTERNAL and UNAVAILABLE mean the server failed. This check fails on an HTTP 5xx, on a body
that is not a GraphQL JSON object, on an error without `extensions.code`, and on INTERNAL or
UNAVAILABLE.
"""

import json

import schemathesis

SERVER_FAULTS = {"INTERNAL", "UNAVAILABLE"}

# Connecting a number asks the provider (Meta, the SMS provider) whether the number belongs to
# the credentials given; CI has no network, so a well-formed connect answers UNAVAILABLE with
# this message: the provider's absence, not a fault of Parley's.
PROVIDER_UNREACHABLE = "could not be reached to check the number"


@schemathesis.check
def parley_no_server_error(ctx, response, case):
    """No 5xx, no unlabelled error, no INTERNAL or UNAVAILABLE error."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = json.loads(response.text)
    except ValueError as err:
        raise AssertionError(f"the body is not JSON: {err}: {response.text[:500]}")
    if not isinstance(body, dict):
        raise AssertionError(f"the body is not a JSON object: {response.text[:500]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code == "UNAVAILABLE" and PROVIDER_UNREACHABLE in (error.get("message") or ""):
            continue
        if code in SERVER_FAULTS:
            raise AssertionError(f"a server fault ({code}): {error}")
