//! Bulk rows for the read scenarios, written through persistence's import functions.

use tests::fixtures::imported_message;

use crate::harness::Env;

pub(crate) const FIRST: &[&str] =
    &["Ana", "Carlos", "Élodie", "Wei", "Fatima", "João", "Priya", "Sven", "Amara", "Noah", "Mei", "Lucía"];

pub(crate) const LAST: &[&str] =
    &["García", "Nguyen", "Dupont", "Okafor", "Schmidt", "Silva", "Kumar", "Johansson", "Haddad", "Smith"];

/// Bulk-inserts `n` conversations (30% username-only) with realistic identities.
pub(crate) async fn seed_conversations(env: &Env, n: usize) -> anyhow::Result<()> {
    use domain::threading::ThreadKey;
    use persistence::conversations::{self, CustomerFacts, NewConversation};
    let now = chrono::Utc::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let hidden = i % 10 < 3;
        let name = format!("{} {} {i}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
        let username =
            format!("{}_{}{}", FIRST[i % FIRST.len()].to_lowercase(), i, if i % 2 == 0 { ".mx" } else { "" });
        let bsuid = domain::Bsuid::parse(&format!("US.{}", 100_000_000 + i))?;
        let phone = (!hidden).then(|| domain::PhoneNumber::parse(&format!("+1650{:07}", i))).transpose()?;
        let at = now - chrono::Duration::seconds(i64::try_from(i).unwrap_or(0));
        let key = match &phone {
            Some(p) => ThreadKey::Phone(p.clone()),
            None => ThreadKey::Bsuid(bsuid.clone()),
        };
        batch.push(NewConversation {
            workspace_id: env.workspace,
            business_number_id: env.number,
            channel: domain::Channel::Whatsapp,
            key,
            customer: CustomerFacts {
                phone,
                bsuid: Some(bsuid),
                parent_bsuid: None,
                username: Some(domain::Username::parse(&format!("@{username}"))?),
                profile_name: Some(name),
            },
            origin: domain::ThreadOrigin::FirstContact,
            previous: None,
            last_inbound_at: Some(at),
            inbound_stored_at: None,
            last_activity_at: at,
            assignee: None,
            team: None,
            link: None,
            sms_opted_out: false,
        });
        if batch.len() == 1000 || i + 1 == n {
            conversations::insert_many(env.db.conn(), std::mem::take(&mut batch)).await?;
        }
    }
    // History: the windows that ended before now are not news for the window worker.
    persistence::windows::settle_ended(env.db.conn(), chrono::Utc::now()).await?;
    settle(&env.db).await
}

/// Settles the seeded tables (see `Database::refresh_statistics`), saying so when one `VACUUM`
/// was not enough.
pub(crate) async fn settle(db: &persistence::Database) -> anyhow::Result<()> {
    let tries = db.refresh_statistics().await?;
    if tries > 1 {
        eprintln!(
            "the seeded tables were settled after {tries} VACUUMs (an older snapshot kept the dead rows of the first)"
        );
    }
    Ok(())
}

/// Ten messages per conversation (alternating directions), ending at the conversation's
/// last activity.
pub(crate) async fn seed_messages(env: &Env, per_conversation: usize) -> anyhow::Result<()> {
    use persistence::messages::{self, Thread};
    let threads = persistence::conversations::activity_of_all(env.db.conn(), env.workspace).await?;
    let mut batch = Vec::with_capacity(1000);
    let total = threads.len() * per_conversation;
    let mut done = 0;
    for (conversation, last) in threads {
        let thread = Thread {
            workspace_id: env.workspace,
            conversation_id: conversation,
            business_number_id: env.number,
            assignee_id: None,
            team_id: None,
        };
        for k in 0..per_conversation {
            let inbound = k % 2 == 0;
            let (direction, status) = if inbound {
                (domain::Direction::Inbound, domain::MessageStatus::Received)
            } else {
                (domain::Direction::Outbound, domain::MessageStatus::Read)
            };
            let external_id = Some(format!("wamid.SEED{}", uuid::Uuid::new_v4().simple()));
            let sent_at = last - chrono::Duration::minutes(i64::try_from(per_conversation - k).unwrap_or(0));
            let text = format!("message {k} of the conversation");
            batch.push(imported_message(thread, direction, status, external_id, &text, sent_at));
            done += 1;
            if batch.len() == 1000 || done == total {
                let rows = std::mem::take(&mut batch);
                env.db.write(async |txn| messages::insert_many(txn, rows).await).await?;
            }
        }
    }
    settle(&env.db).await
}
