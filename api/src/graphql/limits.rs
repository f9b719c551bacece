//! Checks on a GraphQL document right after parsing, before validation or execution (run by
//! [`super::runner`]), and the
//! labels of errors async-graphql raises itself.
//!
//! async-graphql bounds depth, complexity and directives per field; this adds a bound on
//! aliases (the "alias overloading" attack: one request asking the same expensive field
//! thousands of times under different names), and refuses integer literals outside GraphQL's
//! 32-bit `Int` as a validation error (async-graphql would only notice while executing).
//! [`label_errors`] gives every error an `extensions.code`, so a client (or a fuzzer) can tell
//! a refused request from a server fault.

use std::convert::Infallible;

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Pos, Response, ServerError, Value};

/// Refuses a document with more than `max_aliases` aliased fields (counted once per place they
/// appear in the text, fragments included), or with an integer literal outside `Int`.
///
/// # Errors
/// The refusal, coded `GRAPHQL_VALIDATION_FAILED`.
pub fn check_document(document: &ExecutableDocument, max_aliases: usize) -> Result<(), ServerError> {
    let fields = fields(document);
    let aliases = count_aliases(&fields);
    if aliases > max_aliases {
        return Err(invalid(
            format!("The query uses {aliases} aliases; at most {max_aliases} are allowed."),
            None,
        ));
    }
    if let Some((number, pos)) = first_out_of_range_int(&fields) {
        return Err(invalid(
            format!("{number} is out of range: Int values are 32-bit (-2147483648 to 2147483647)."),
            Some(pos),
        ));
    }
    Ok(())
}

fn invalid(message: String, pos: Option<Pos>) -> ServerError {
    let mut err = ServerError::new(message, pos);
    set_code(&mut err, VALIDATION_FAILED);
    err
}

/// The code of an error in the request itself, found before anything ran.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Sets an error's `extensions.code`.
pub(crate) fn set_code(err: &mut ServerError, code: &str) {
    err.extensions.get_or_insert_with(ErrorExtensionValues::default).set("code", code);
}

/// Gives each error that has no `extensions.code` one: errors without a path were raised
/// while parsing or validating the document (`GRAPHQL_VALIDATION_FAILED`); errors with a path
/// are argument values async-graphql could not read (`BAD_USER_INPUT`). Parley's own errors
/// carry their code already (see `error.rs`).
pub fn label_errors(response: &mut Response) {
    for err in &mut response.errors {
        if err.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
            continue;
        }
        let code = if err.path.is_empty() { VALIDATION_FAILED } else { "BAD_USER_INPUT" };
        set_code(err, code);
    }
}

/// Every field of the document, operations and fragment definitions, in document order
/// (a field before the fields of its selection).
fn fields(document: &ExecutableDocument) -> Vec<&Field> {
    fn walk<'a>(set: &'a SelectionSet, out: &mut Vec<&'a Field>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    out.push(&field.node);
                    walk(&field.node.selection_set.node, out);
                }
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node, out),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let operations = document.operations.iter().map(|(_, op)| &op.node.selection_set.node);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set.node);
    let mut out = Vec::new();
    for set in operations.chain(fragments) {
        walk(set, &mut out);
    }
    out
}

/// The first integer literal of the document that does not fit GraphQL's 32-bit `Int`.
fn first_out_of_range_int(fields: &[&Field]) -> Option<(String, Pos)> {
    fields.iter().find_map(|field| {
        let directive_arguments = field.directives.iter().flat_map(|d| d.node.arguments.iter());
        field.arguments.iter().chain(directive_arguments).find_map(|(_, value)| {
            // Variables are checked by their declared type when the operation runs.
            let literal = value.node.clone().into_const_with(|_| Ok::<_, Infallible>(Value::Null));
            literal.ok().as_ref().and_then(int_in_value).map(|n| (n, value.pos))
        })
    })
}

fn int_in_value(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.is_f64() => None,
        Value::Number(n) => {
            let fits = n.as_i64().is_some_and(|i| i32::try_from(i).is_ok());
            (!fits).then(|| n.to_string())
        }
        Value::List(items) => items.iter().find_map(int_in_value),
        Value::Object(fields) => fields.values().find_map(int_in_value),
        _ => None,
    }
}

/// How many of the fields carry an alias.
fn count_aliases(fields: &[&Field]) -> usize {
    fields.iter().filter(|field| field.alias.is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> usize {
        count_aliases(&fields(&async_graphql::parser::parse_query(query).unwrap()))
    }

    #[test]
    fn aliases_are_counted_everywhere_in_the_document() {
        assert_eq!(count("{ me { id } }"), 0);
        assert_eq!(count("{ a: me { id } b: me { x: id } }"), 3);
        assert_eq!(count("{ ... on Query { a: me { id } } ...F } fragment F on Query { b: me { id } }"), 2);
        assert_eq!(count("query A { a: me { id } } query B { b: me { id } c: me { id } }"), 3);
    }

    fn out_of_range(query: &str) -> Option<String> {
        first_out_of_range_int(&fields(&async_graphql::parser::parse_query(query).unwrap())).map(|(n, _)| n)
    }

    #[test]
    fn integer_literals_must_fit_32_bits() {
        assert_eq!(out_of_range("{ conversations(first: 2147483647) { nodes { id } } }"), None);
        assert_eq!(out_of_range("{ conversations(first: -2147483648) { nodes { id } } }"), None);
        assert_eq!(out_of_range("{ a(x: 1.5e300) }"), None);
        assert_eq!(
            out_of_range("{ conversations(first: 2147483648) { nodes { id } } }").as_deref(),
            Some("2147483648")
        );
        assert_eq!(out_of_range("{ a { b(x: [1, {y: -99999999999}]) } }").as_deref(), Some("-99999999999"));
        assert_eq!(
            out_of_range("{ a @include(if: true) { b @skip(n: 99999999999) } }").as_deref(),
            Some("99999999999")
        );
        assert_eq!(
            out_of_range("query { ...F } fragment F on Query { a(first: 18446744073709551615) }").as_deref(),
            Some("18446744073709551615")
        );
    }
}
