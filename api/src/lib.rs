//! Parley's server as a library: the `parley` binary and the black-box tests both build it
//! with [`Application::build`].
//!
//! - [`config`]: typed configuration.
//! - [`startup`]: [`Application`]: connect, migrate, bind, serve, shut down.
//! - [`http`]: routes and layers; [`graphql`]: the schema; [`auth`]: JWTs and the viewer.
//! - [`service`]: the use cases; [`whatsapp`]: Meta's webhook formats.
//! - [`gateway`]: WhatsApp and SMS providers; [`delivery`]: the worker that sends through them.
//! - [`error`]: the one error edge; [`telemetry`]: logging; [`cli`]: the command line.

pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dispatcher;
pub mod error;
pub mod gateway;
pub mod graphql;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod whatsapp;

pub use config::Config;
pub use startup::Application;
