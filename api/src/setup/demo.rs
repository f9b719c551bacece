//! The demo workspace of `parley serve --demo`: a realistic inbox in one call.
//!
//! Every conversation is created the way production creates it: a Meta-shaped webhook
//! payload is read by the WhatsApp reader and stored by the ingestion use case, with message
//! timestamps relative to now so the 24-hour windows are meaningful.

use chrono::{DateTime, Duration, Utc};
use domain::{ConversationStatus, Role, TemplateCategory};
use persistence::BusinessNumber;
use persistence::sealed::Keyring;
use persistence::{Database, business_numbers, templates};
use rand::Rng;
use serde_json::{Value, json};

use super::workspaces::{BootstrapInput, Bootstrapped, BusinessNumberInput, bootstrap};
use crate::auth::Viewer;
use crate::contacts::create_contact;
use crate::contacts::records::ContactFields;
use crate::error::{ApiError, ApiResult};
use crate::inbound::whatsapp::payload::ContactInfo;
use crate::inbound::whatsapp::read::read_message;
use crate::inbound::whatsapp::thread::{self as ingest, IngestOutcome};
use crate::workflow::conversations::set_status;

/// A customer writing in the demo.
struct DemoMessage<'a> {
    name: &'a str,
    username: Option<&'a str>,
    phone: Option<&'a str>,
    bsuid: &'a str,
    text: &'a str,
    ago: Duration,
}

fn payload(m: &DemoMessage<'_>, sent_at: DateTime<Utc>) -> (Value, Vec<ContactInfo>) {
    let mut profile = json!({ "name": m.name });
    if let Some(u) = m.username {
        profile["username"] = json!(u);
    }
    let mut contact = json!({ "profile": profile, "user_id": m.bsuid });
    let mut message = json!({
        "from_user_id": m.bsuid,
        "id": format!("wamid.DEMO{}", uuid::Uuid::new_v4().simple()),
        "timestamp": sent_at.timestamp().to_string(),
        "type": "text",
        "text": { "body": m.text },
    });
    if let Some(p) = m.phone {
        contact["wa_id"] = json!(p);
        message["from"] = json!(p);
    }
    let contacts: Vec<ContactInfo> = serde_json::from_value(json!([contact])).unwrap_or_default();
    (message, contacts)
}

async fn deliver(
    db: &Database,
    number: &BusinessNumber,
    m: &DemoMessage<'_>,
    now: DateTime<Utc>,
    keyring: &Keyring,
) -> ApiResult<domain::ConversationId> {
    let (raw, contacts) = payload(m, now - m.ago);
    let inbound = read_message(&raw, &contacts)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("demo payload: {e}")))?;
    db.write(async |txn| {
        let outcome = ingest::record_inbound(txn, number, &inbound, now, keyring).await?;
        match outcome {
            IngestOutcome::Stored { conversation, .. } => Ok(conversation),
            IngestOutcome::Duplicate | IngestOutcome::Reacted { .. } | IngestOutcome::Unmatched => {
                Err(ApiError::internal(anyhow::anyhow!("a demo message was not stored as a new message")))
            }
        }
    })
    .await
}

/// Creates the demo workspace and returns what was created.
///
/// # Errors
/// On a database failure.
pub async fn create_demo(db: &Database, keyring: &Keyring, now: DateTime<Utc>) -> ApiResult<Bootstrapped> {
    let phone_number_id = format!("10{}", rand::rng().random_range(1_000_000_000_000u64..9_999_999_999_999));
    let created = bootstrap(
        db,
        &BootstrapInput {
            workspace_name: "Parley Demo".to_owned(),
            admin_email: "admin@demo.parley.dev".to_owned(),
            admin_name: "Demo Admin".to_owned(),
            business_number: Some(BusinessNumberInput {
                phone_number_id,
                display_phone_number: "15550783881".to_owned(),
                waba_id: "102290129340398".to_owned(),
                portfolio_id: "506914307656634".to_owned(),
                business_name: Some("Jasper's Market".to_owned()),
            }),
        },
        now,
    )
    .await?;
    let ws = created.workspace_id;
    let number_id =
        created.business_number_id.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no demo number")))?;
    let number = business_numbers::find(db.conn(), ws, number_id)
        .await?
        .ok_or(ApiError::NotFound("business number"))?;

    for (name, category, body) in [
        (
            "spring_sale",
            TemplateCategory::Marketing,
            "Hi {{1}}, our spring sale starts today: 20% off everything.",
        ),
        ("order_update", TemplateCategory::Utility, "Your order {{1}} has shipped and arrives {{2}}."),
        ("login_code", TemplateCategory::Authentication, "{{1}} is your verification code."),
    ] {
        let new = templates::NewTemplate {
            id: domain::TemplateId::new(),
            workspace_id: ws,
            name,
            language: "en_US",
            category,
            body,
        };
        db.write(async |txn| templates::create(txn, new, now).await).await?;
    }

    // A returning customer: a phone conversation ten days ago, linked to a contact and resolved...
    let amelia_then = DemoMessage {
        name: "Amelia Hart",
        username: Some("@amelia.hart"),
        phone: Some("447700900123"),
        bsuid: "GB.88231740092153376",
        text: "Hi! Can I change the delivery address of order 4471?",
        ago: Duration::days(10),
    };
    let first = deliver(db, &number, &amelia_then, now, keyring).await?;
    let admin = Viewer { agent_id: created.admin_id, workspace_id: ws, role: Role::Admin };
    link_demo_contact(db, &admin, first, "Amelia Hart", "amelia@example.co.uk", now - Duration::days(10))
        .await?;
    // ...who writes again today with the number hidden: a new thread that points at the old one.
    let amelia_now = DemoMessage {
        phone: None,
        text: "Hello again, my parcel never arrived.",
        ago: Duration::minutes(5),
        ..amelia_then
    };
    deliver(db, &number, &amelia_now, now, keyring).await?;

    let others = [
        DemoMessage {
            name: "Sheena Nelson",
            username: Some("@realsheenanelson"),
            phone: None,
            bsuid: "US.13491208655302741918",
            text: "Does it come in another color?",
            ago: Duration::minutes(20),
        },
        DemoMessage {
            name: "Pablo Morales",
            username: Some("@pablomorales"),
            phone: Some("16505551234"),
            bsuid: "US.20077812365480912233",
            text: "I'd like to return the blue jacket.",
            ago: Duration::hours(2),
        },
        DemoMessage {
            name: "Carlos",
            username: Some("@carlos_mx"),
            phone: None,
            bsuid: "MX.55500912873465019283",
            text: "¿Tienen envío a Monterrey?",
            ago: Duration::hours(30),
        },
    ];
    let mut threads = Vec::new();
    for m in &others {
        threads.push(deliver(db, &number, m, now, keyring).await?);
    }
    set_up_the_team(db, &admin, &threads, now).await?;
    Ok(created)
}

/// The team's tools, in use: labels on conversations, a support team with the admin in it and
/// a conversation routed to it, saved answers, and a note for colleagues.
async fn set_up_the_team(
    db: &Database,
    admin: &Viewer,
    threads: &[domain::ConversationId],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    use crate::workflow::{conversations, notes, team};
    let returns = team::create_label(db, admin, "Returns", "#d9480f", now).await?;
    let vip = team::create_label(db, admin, "VIP", "#5f3dc4", now).await?;
    let support = team::create_team(db, admin, "Support", now).await?;
    team::set_member(db, admin, support.id, admin.agent_id, true, now).await?;
    for (short_code, text) in [
        (
            "returns",
            "You can return any item within 30 days: reply with your order number and we send a label.",
        ),
        ("hours", "We answer every day from 8:00 to 20:00."),
    ] {
        team::create_canned_response(db, admin, short_code, text, now).await?;
    }
    if let [sheena, pablo, ..] = threads {
        team::set_label(db, admin, *sheena, vip.id, true, now).await?;
        team::set_label(db, admin, *pablo, returns.id, true, now).await?;
        let to = conversations::Assignment { agent: Some(admin.agent_id), team: Some(Some(support.id)) };
        conversations::assign(db, admin, *pablo, to, now).await?;
        notes::add(db, admin, *pablo, "Bought the jacket in the spring sale: the return is free.", now)
            .await?;
    }
    Ok(())
}

/// Creates a contact for a conversation and links it (what an agent does with
/// `createContact`), then resolves the conversation.
async fn link_demo_contact(
    db: &Database,
    admin: &Viewer,
    conversation: domain::ConversationId,
    name: &str,
    email: &str,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let fields = ContactFields {
        name: Some(name.to_owned()),
        email: Some(Some(email.to_owned())),
        ..ContactFields::default()
    };
    create_contact(db, admin, Some(conversation), &fields, at).await?;
    set_status(db, admin, conversation, ConversationStatus::Resolved, at).await?;
    Ok(())
}
