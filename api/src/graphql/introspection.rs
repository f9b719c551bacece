//! The schema as a client sees it: its description (served by introspection as
//! `__schema { description }`) and the SDL committed in `schema.graphql`, which is exactly the
//! served schema: `@specifiedBy` on custom scalars, the standard scalars introspection lists
//! that no field uses, and the schema's description.

use async_graphql::{Response, SDLExportOptions, Value};

/// What the schema is, for a reader of the SDL or of introspection.
pub const DESCRIPTION: &str =
    "Parley: a contact-center inbox for WhatsApp and SMS, where a customer may hide their
phone behind a WhatsApp username.

Conversations are keyed by phone or business-scoped user id (BSUID). Every conversation says
what an agent can do in it and why (`capabilities`), and every change is an event (the `events`
query, and the `events` subscription over `graphql-transport-ws` at `/graphql/ws`).
Authenticate with `Authorization: Bearer <JWT>`; every error carries `extensions.code`.";

/// The scalars every GraphQL server has; introspection lists all five.
const STANDARD_SCALARS: [&str; 5] = ["Boolean", "Float", "ID", "Int", "String"];

/// The directives introspection lists whose declaration async-graphql's export leaves out
/// when no element uses them, as they are served.
const SERVED_DIRECTIVES: [(&str, &str); 2] = [
    (
        "directive @deprecated",
        r#""""
Marks an element of a GraphQL schema as no longer supported.
"""
directive @deprecated(
	"""
	A reason for why it is deprecated, formatted using Markdown syntax
	"""
	reason: String = "No longer supported"
) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
"#,
    ),
    (
        "directive @oneOf",
        r#""""
Indicates that an Input Object is a OneOf Input Object (and thus requires exactly one of its field be provided)
"""
directive @oneOf on INPUT_OBJECT
"#,
    ),
];

/// async-graphql's own, fixed answer to `__schema { description }`.
const GENERIC_DESCRIPTION: &str = "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available types and directives on the server, as well as the entry points for query, mutation, and subscription operations.";

/// Serves [`DESCRIPTION`] as `__schema { description }` in a response (under any alias):
/// async-graphql answers a fixed text, which only that field carries.
pub fn describe(response: &mut Response) {
    let Value::Object(data) = &mut response.data else { return };
    for value in data.values_mut() {
        if let Value::Object(schema) = value {
            for field in schema.values_mut() {
                if matches!(field, Value::String(text) if text == GENERIC_DESCRIPTION) {
                    *field = Value::String(DESCRIPTION.to_owned());
                }
            }
        }
    }
}

/// How async-graphql exports the SDL that [`served_sdl`] completes: with `@specifiedBy`.
#[must_use]
pub fn export_options() -> SDLExportOptions {
    SDLExportOptions::new().include_specified_by()
}

/// The SDL of a schema as it is served, from async-graphql's export (with
/// [`export_options`]): the standard scalars and directives no element uses (introspection
/// lists them; a client comparing schemas would see them removed otherwise), and the schema's
/// description.
#[must_use]
pub fn served_sdl(sdl: &str) -> String {
    let mut unused = String::new();
    for scalar in STANDARD_SCALARS {
        let used = [": ", "["].iter().any(|before| {
            sdl.match_indices(&format!("{before}{scalar}")).any(|(at, found)| {
                let after = sdl[at + found.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        });
        if !used {
            unused.push_str(&format!(
                "\"\"\"\nThe standard `{scalar}` scalar (listed by introspection; no field uses it).\n\"\"\"\nscalar {scalar}\n\n"
            ));
        }
    }
    for (declared, declaration) in SERVED_DIRECTIVES {
        if !sdl.contains(declared) {
            unused.push_str(declaration);
        }
    }
    let description = format!("\"\"\"\n{DESCRIPTION}\n\"\"\"\nschema {{");
    sdl.replacen("\nschema {", &format!("\n{unused}{description}"), 1)
}
