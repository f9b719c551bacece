//! sea-orm entities, one module per table. They mirror the migrations exactly (a test checks
//! it) and never leave this crate's repositories as API types.

pub mod agent;
pub mod attachment;
pub mod audit_entry;
pub mod blob_deletion;
pub mod business_number;
pub mod canned_response;
pub mod contact;
pub mod contact_identity;
pub mod conversation;
pub mod conversation_label;
pub mod conversation_read;
pub mod dead_letter;
pub mod event;
pub mod label;
pub mod message;
pub mod message_reaction;
pub mod provider_signal;
pub mod sla_clock;
pub mod sla_policy;
pub mod sms_opt_out;
pub mod team;
pub mod team_member;
pub mod template;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_receipt;
pub mod workspace;

/// Every table with its column names, for the test that compares entities and migrations.
#[must_use]
pub fn tables() -> Vec<(&'static str, Vec<String>)> {
    use sea_orm::{EntityName, Iterable};
    fn columns<E: sea_orm::EntityTrait>() -> Vec<String> {
        E::Column::iter().map(|c| sea_orm::IdenStatic::as_str(&c).to_owned()).collect()
    }
    vec![
        (workspace::Entity.table_name(), columns::<workspace::Entity>()),
        (sla_policy::Entity.table_name(), columns::<sla_policy::Entity>()),
        (sla_clock::Entity.table_name(), columns::<sla_clock::Entity>()),
        (agent::Entity.table_name(), columns::<agent::Entity>()),
        (business_number::Entity.table_name(), columns::<business_number::Entity>()),
        (contact::Entity.table_name(), columns::<contact::Entity>()),
        (contact_identity::Entity.table_name(), columns::<contact_identity::Entity>()),
        (conversation::Entity.table_name(), columns::<conversation::Entity>()),
        (message::Entity.table_name(), columns::<message::Entity>()),
        (template::Entity.table_name(), columns::<template::Entity>()),
        (event::Entity.table_name(), columns::<event::Entity>()),
        (webhook_endpoint::Entity.table_name(), columns::<webhook_endpoint::Entity>()),
        (webhook_delivery::Entity.table_name(), columns::<webhook_delivery::Entity>()),
        (dead_letter::Entity.table_name(), columns::<dead_letter::Entity>()),
        (audit_entry::Entity.table_name(), columns::<audit_entry::Entity>()),
        (webhook_receipt::Entity.table_name(), columns::<webhook_receipt::Entity>()),
        (blob_deletion::Entity.table_name(), columns::<blob_deletion::Entity>()),
        (attachment::Entity.table_name(), columns::<attachment::Entity>()),
        (message_reaction::Entity.table_name(), columns::<message_reaction::Entity>()),
        (conversation_read::Entity.table_name(), columns::<conversation_read::Entity>()),
        (sms_opt_out::Entity.table_name(), columns::<sms_opt_out::Entity>()),
        (provider_signal::Entity.table_name(), columns::<provider_signal::Entity>()),
        (label::Entity.table_name(), columns::<label::Entity>()),
        (conversation_label::Entity.table_name(), columns::<conversation_label::Entity>()),
        (team::Entity.table_name(), columns::<team::Entity>()),
        (team_member::Entity.table_name(), columns::<team_member::Entity>()),
        (canned_response::Entity.table_name(), columns::<canned_response::Entity>()),
    ]
}
