//! Black-box tests live in `tests/api/`; this library holds the [`fixtures`] they share with
//! `parley-bench`.

pub mod fixtures;
