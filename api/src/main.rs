//! The `parley` binary.

use std::process::ExitCode;

/// mimalloc: the server allocates many small, short-lived objects per request (GraphQL values,
/// rows, JSON); glibc malloc spent a fifth of an inbox page's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match api::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parley: {err:#}");
            ExitCode::FAILURE
        }
    }
}
