//! The demo workspace of `parley serve --demo`: a realistic inbox in one call.
//!
//! Every conversation is created the way production creates it: a Meta-shaped webhook
//! payload is read by the WhatsApp reader and stored by the ingestion use case, with message
//! timestamps relative to now so the 24-hour windows are meaningful.
//!
//! The demo's WhatsApp number is the one of Meta's documented webhook examples
//! ([`PHONE_NUMBER_ID`]), so a newcomer who posts one sees it arrive; beside it, an SMS number
//! ([`SMS_NUMBER`]) whose texts never leave the process. Its webhook secrets ([`DemoSecrets`])
//! are derived from the demo's key, so `parley simulate` signs as Meta and the SMS provider
//! would. Started again on the same database, the demo reuses its workspace.

use chrono::{DateTime, Duration, Utc};
use domain::{ConversationStatus, Role, TemplateCategory, TemplateQuality, TemplateStatus};
use hmac::{Hmac, Mac};
use persistence::BusinessNumber;
use persistence::business_numbers::NewBusinessNumber;
use persistence::sealed::{Keyring, Purpose};
use persistence::{Database, agents, business_numbers, templates};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;

use super::customer::{Content, Customer};
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

/// The demo's WhatsApp number: Meta's documented examples are addressed to it.
pub const PHONE_NUMBER_ID: &str = "106540352242922";
/// Its WhatsApp Business Account and the number customers see.
pub const WABA_ID: &str = "102290129340398";
pub const DISPLAY_PHONE_NUMBER: &str = "15550783881";
/// The demo's SMS number (E.164).
pub const SMS_NUMBER: &str = "+15550783882";
/// The demo admin's e-mail address.
const ADMIN_EMAIL: &str = "admin@demo.parley.dev";

/// The demo's webhook secrets, derived from the key (the same key gives the same secrets, so
/// a restarted demo and `parley simulate` agree on them).
pub struct DemoSecrets {
    /// Signs WhatsApp webhooks (`X-Hub-Signature-256`), unless `PARLEY_WHATSAPP_APP_SECRET`.
    pub app_secret: SecretString,
    /// The SMS number's account SID and auth token (`X-Twilio-Signature`).
    pub sms_account_sid: String,
    pub sms_auth_token: SecretString,
}

impl DemoSecrets {
    #[must_use]
    pub fn of(keyring: &Keyring) -> Self {
        let derive = |label: &str| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keyring.signing_key())
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
            mac.update(b"parley demo ");
            mac.update(label.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        Self {
            app_secret: SecretString::from(derive("whatsapp app secret")),
            sms_account_sid: format!("AC{}", &derive("sms account")[..32]),
            sms_auth_token: SecretString::from(derive("sms auth token")[..32].to_owned()),
        }
    }
}

/// Where the demo keeps its key (and `parley simulate` reads it): beside the SQLite database
/// (`parley.db.key`), or `parley-demo.key` in the working directory for other databases.
#[must_use]
pub fn key_file(database_url: &str) -> std::path::PathBuf {
    beside_database(database_url, "key", "parley-demo.key")
}

/// Where `parley simulate` leaves the photos a simulated customer sends, for the demo's
/// sandbox number to fetch (`parley.db.sandbox-media/`).
#[must_use]
pub fn sandbox_media_dir(database_url: &str) -> std::path::PathBuf {
    beside_database(database_url, "sandbox-media", "parley-demo-sandbox-media")
}

fn beside_database(database_url: &str, suffix: &str, otherwise: &str) -> std::path::PathBuf {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(':'))
        .map_or_else(|| std::path::PathBuf::from(otherwise), |path| format!("{path}.{suffix}").into())
}

/// What `parley serve --demo` prints: the URLs, the admin token, a `curl` of the inbox, and how to play a
/// customer with `parley simulate` (with the flags this server needs).
#[must_use]
pub fn banner(base: &str, token: &str, database_url: &str) -> String {
    let program = std::env::args().next().unwrap_or_else(|| "parley".to_owned());
    let mut flags = String::new();
    if base != "http://127.0.0.1:8080" {
        flags.push_str(&format!(" --url {base}"));
    }
    if database_url != crate::config::DEFAULT_DATABASE_URL {
        flags.push_str(&format!(" --database-url '{database_url}'"));
    }
    format!(
        "Open the Parley agent desktop: {base}/#token={token}\n\n  \
         The demo workspace is ready.\n  \
         GraphQL (POST, and GraphiQL in a browser): {base}/graphql\n  \
         Health: {base}/healthz   Readiness: {base}/readyz\n  Admin token (12 h): {token}\n\n  \
         export TOKEN={token}\n  \
         curl -s {base}/graphql -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n    \
         -d '{{\"query\":\"{{ conversations(first: 10) {{ nodes {{ displayName origin customer {{ username phoneNumber notice }} capabilities {{ reply {{ allowed reason }} call {{ allowed reason }} }} }} }} }}\"}}'\n\n  \
         Play a customer who hides the number (another terminal, same directory):\n    \
         {program} simulate{flags} --username @carlos_mx --name \"Carlos\" \"Hola, ¿tienen envíos?\"\n  \
         With a photo, or by SMS: --image FILE, or --sms --phone 14155550123\n"
    )
}

fn payload(m: &DemoMessage<'_>, sent_at: DateTime<Utc>) -> (Value, Vec<ContactInfo>) {
    let customer = Customer { name: m.name, username: m.username, phone: m.phone, bsuid: Some(m.bsuid) };
    let wamid = format!("wamid.DEMO{}", uuid::Uuid::new_v4().simple());
    let (contact, message) = customer.whatsapp_message(Content::Text(m.text), &wamid, sent_at);
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

/// The demo workspace already on this database (a restarted demo), with its admin.
async fn existing(db: &Database) -> ApiResult<Option<Bootstrapped>> {
    let Some(number) = business_numbers::find_by_phone_number_id(db.conn(), PHONE_NUMBER_ID).await? else {
        return Ok(None);
    };
    let admins = agents::list(db.conn(), number.workspace_id).await?;
    let admin = admins.iter().find(|a| a.active && a.email.as_str() == ADMIN_EMAIL).ok_or_else(|| {
        ApiError::Conflict(format!(
            "the number {PHONE_NUMBER_ID} belongs to a workspace that is not the demo's; use another database"
        ))
    })?;
    Ok(Some(Bootstrapped {
        workspace_id: number.workspace_id,
        admin_id: admin.id,
        business_number_id: Some(number.id),
    }))
}

/// The demo's SMS number, with its account sealed (sends from it stay in the process).
async fn connect_sms_number(
    db: &Database,
    keyring: &Keyring,
    workspace: domain::WorkspaceId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let secrets = DemoSecrets::of(keyring);
    let display = domain::PhoneNumber::parse(SMS_NUMBER)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("demo SMS number: {e}")))?;
    let token = keyring.seal(Purpose::SmsAuthToken, secrets.sms_auth_token.expose_secret());
    let new = NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: workspace,
        phone_number_id: SMS_NUMBER,
        display_phone_number: &display,
        waba_id: "",
        portfolio_id: "",
        business_name: None,
        channel: domain::Channel::Sms,
        access_token: None,
        sms_account: Some((&secrets.sms_account_sid, token)),
        operator_connected: false,
    };
    db.write(async |txn| business_numbers::create(txn, new, now).await).await?;
    Ok(())
}

/// Creates the demo workspace and returns what was created (or, on a database that has it
/// already, returns it).
///
/// # Errors
/// On a database failure.
pub async fn create_demo(db: &Database, keyring: &Keyring, now: DateTime<Utc>) -> ApiResult<Bootstrapped> {
    if let Some(found) = existing(db).await? {
        return Ok(found);
    }
    let created = bootstrap(
        db,
        &BootstrapInput {
            workspace_name: "Parley Demo".to_owned(),
            admin_email: ADMIN_EMAIL.to_owned(),
            admin_name: "Demo Admin".to_owned(),
            business_number: Some(BusinessNumberInput {
                phone_number_id: PHONE_NUMBER_ID.to_owned(),
                display_phone_number: DISPLAY_PHONE_NUMBER.to_owned(),
                waba_id: WABA_ID.to_owned(),
                portfolio_id: "506914307656634".to_owned(),
                business_name: Some("Jasper's Market".to_owned()),
            }),
        },
        now,
    )
    .await?;
    let ws = created.workspace_id;
    connect_sms_number(db, keyring, ws, now).await?;
    let number_id =
        created.business_number_id.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no demo number")))?;
    let number = business_numbers::find(db.conn(), ws, number_id)
        .await?
        .ok_or(ApiError::NotFound("business number"))?;

    // The WABA's templates as Meta reviewed them: three approved, one paused by Meta for low
    // quality, one still in review (the picker shows each status and quality).
    for (name, category, body, status, quality) in [
        (
            "spring_sale",
            TemplateCategory::Marketing,
            "Hi {{1}}, our spring sale starts today: 20% off everything.",
            TemplateStatus::Approved,
            TemplateQuality::Green,
        ),
        (
            "order_update",
            TemplateCategory::Utility,
            "Your order {{1}} has shipped and arrives {{2}}.",
            TemplateStatus::Approved,
            TemplateQuality::Yellow,
        ),
        (
            "login_code",
            TemplateCategory::Authentication,
            "{{1}} is your verification code.",
            TemplateStatus::Approved,
            TemplateQuality::Green,
        ),
        (
            "winter_clearance",
            TemplateCategory::Marketing,
            "Last days of the winter clearance, {{1}}: up to 50% off.",
            TemplateStatus::Paused,
            TemplateQuality::Red,
        ),
        (
            "delivery_survey",
            TemplateCategory::Utility,
            "How was the delivery of order {{1}}? Reply 1 to 5.",
            TemplateStatus::Pending,
            TemplateQuality::Unknown,
        ),
    ] {
        let new = templates::NewTemplate {
            id: domain::TemplateId::new(),
            workspace_id: ws,
            name,
            language: "en_US",
            category,
            body,
            number: Some((number.id, &number.waba_id)),
            status,
            meta_id: None,
        };
        let review = templates::Review { quality: Some(quality), ..templates::Review::default() };
        db.write(async |txn| {
            let created = templates::create(txn, new, now).await?;
            templates::review(txn, created, review, now).await
        })
        .await?;
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
    let amelia = deliver(db, &number, &amelia_now, now, keyring).await?;

    // Carlos's BSUID is the one `parley simulate --username @carlos_mx` writes with: the same
    // customer, so a simulated message continues his conversation (and opens its window).
    let carlos = super::customer::bsuid_for("@carlos_mx");
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
        // Her service window closes in 40 minutes: the desktop's countdown is a warning, and
        // the window worker writes `conversation.window_closing` as the demo starts.
        DemoMessage {
            name: "Lena Fischer",
            username: Some("@lena.fischer"),
            phone: Some("4915123456789"),
            bsuid: "DE.40551298370012984411",
            text: "Is the wool coat still available in size M?",
            ago: Duration::minutes(23 * 60 + 20),
        },
        DemoMessage {
            name: "Carlos",
            username: Some("@carlos_mx"),
            phone: None,
            bsuid: &carlos,
            text: "¿Tienen envío a Monterrey?",
            ago: Duration::hours(30),
        },
    ];
    let mut threads = Vec::new();
    for m in &others {
        threads.push(deliver(db, &number, m, now, keyring).await?);
    }
    let support = set_up_the_team(db, &admin, &threads, now).await?;
    run_the_contact_center(db, &admin, support, number.id, amelia, &threads, now).await?;
    Ok(created)
}

/// The contact center, running: the Support team routed round robin with a capacity of 3 and
/// an SLA policy, the number's new conversations joining it, a second member who is offline,
/// business hours in Madrid with today closed (so the demo shows the away reply: Sheena got
/// one, and a customer who writes now gets one), and the open conversations in the team's
/// queue: when the admin's desktop connects, the router gives them the oldest up to the
/// capacity; Sheena's first response falls due minutes after the demo starts, the older ones
/// are breached by the SLA timer.
async fn run_the_contact_center(
    db: &Database,
    admin: &Viewer,
    support: domain::TeamId,
    number: domain::BusinessNumberId,
    amelia: domain::ConversationId,
    threads: &[domain::ConversationId],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    use crate::workflow::{conversations, hours, routing, sla};
    let policy = sla::PolicyInput {
        name: "Standard".to_owned(),
        first_response_minutes: Some(30),
        next_response_minutes: Some(60),
        resolution_minutes: Some(8 * 60),
        business_hours_only: false,
    };
    let policy = sla::create_policy(db, admin, policy, now).await?;
    let change = persistence::teams::TeamChange {
        routing: Some((domain::RoutingMode::RoundRobin, Some(3))),
        sla_policy: Some(Some(policy.id)),
        ..Default::default()
    };
    routing::update_team(db, admin, support, change, now).await?;
    routing::set_default_team(db, admin, number, Some(support), now).await?;
    let marta =
        super::agents::create(db, admin, "marta@parley.example", "Marta Ruiz", Role::Agent, now).await?;
    crate::workflow::team::set_member(db, admin, support, marta.id, true, now).await?;
    let marta_viewer = Viewer { agent_id: marta.id, workspace_id: admin.workspace_id, role: Role::Agent };
    let grace = std::time::Duration::ZERO;
    routing::set_availability(db, &marta_viewer, None, domain::Availability::Offline, grace, now).await?;
    // The open conversations join the team's queue (and take its policy); Pablo's is the
    // admin's already.
    let [sheena, _, lena, carlos, ..] = threads else { return Ok(()) };
    for id in [amelia, *sheena, *lena, *carlos] {
        let to = conversations::Assignment { agent: None, team: Some(Some(support)) };
        conversations::assign(db, admin, id, to, now).await?;
    }
    if let [_, pablo, ..] = threads {
        sla::apply_policy(db, admin, *pablo, Some(policy.id), now).await?;
    }
    let madrid = domain::hours::parse_time_zone("Europe/Madrid")
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let today = now.with_timezone(&madrid).date_naive();
    let weekdays = [
        chrono::Weekday::Mon,
        chrono::Weekday::Tue,
        chrono::Weekday::Wed,
        chrono::Weekday::Thu,
        chrono::Weekday::Fri,
    ];
    let schedule = hours::schedule(hours::HoursInput {
        time_zone: madrid.name().to_owned(),
        weekly: weekdays.into_iter().map(|day| (day, "09:00".to_owned(), "18:00".to_owned())).collect(),
        closed_dates: vec![today],
        away_message: Some("Thanks for writing to Jasper's Market! We are closed today and answer from 9:00 (Madrid time) on our next working day.".to_owned()),
    })?;
    hours::update_business_hours(db, admin, Some(schedule.clone()), now).await?;
    db.write(async |txn| {
        let found = persistence::conversations::find(txn, admin.workspace_id, *sheena).await?;
        match found {
            Some(c) => hours::away_reply(txn, &schedule, c, now).await.map(|_| ()),
            None => Ok(()),
        }
    })
    .await?;
    Ok(())
}

/// The team's tools, in use: labels on conversations, a support team with the admin in it and
/// a conversation routed to it, saved answers, and a note for colleagues.
async fn set_up_the_team(
    db: &Database,
    admin: &Viewer,
    threads: &[domain::ConversationId],
    now: DateTime<Utc>,
) -> ApiResult<domain::TeamId> {
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
    Ok(support.id)
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
