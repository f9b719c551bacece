//! The `parley` binary.

use std::process::ExitCode;

/// mimalloc: the server allocates many small, short-lived objects per request (GraphQL values,
/// rows, JSON); glibc malloc spent a fifth of an inbox page's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let runtime = match api::startup::runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("parley: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(api::cli::run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parley: {err:#}");
            ExitCode::FAILURE
        }
    }
}
