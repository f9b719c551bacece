//! Limits on the shape of a GraphQL document, checked right after parsing, before validation
//! or execution. async-graphql bounds depth, complexity and directives per field; this adds a
//! bound on aliases (the "alias overloading" attack: one request asking the same expensive
//! field thousands of times under different names) and on the number of operations and
//! fragments a single document may define.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Refuses documents with more than `max_aliases` aliased fields (counted once per place they
/// appear in the text, fragments included).
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_aliases: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let aliases = count_aliases(&document);
        if aliases > self.max_aliases {
            return Err(ServerError::new(
                format!("The query uses {aliases} aliases; at most {} are allowed.", self.max_aliases),
                None,
            ));
        }
        Ok(document)
    }
}

/// How many fields of the document carry an alias.
#[must_use]
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations = document.operations.iter().map(|(_, op)| count_in(&op.node.selection_set.node));
    let fragments = document.fragments.values().map(|f| count_in(&f.node.selection_set.node));
    operations.chain(fragments).sum()
}

fn count_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> usize {
        count_aliases(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn aliases_are_counted_everywhere_in_the_document() {
        assert_eq!(count("{ me { id } }"), 0);
        assert_eq!(count("{ a: me { id } b: me { x: id } }"), 3);
        assert_eq!(count("{ ... on Query { a: me { id } } ...F } fragment F on Query { b: me { id } }"), 2);
        assert_eq!(count("query A { a: me { id } } query B { b: me { id } c: me { id } }"), 3);
    }
}
