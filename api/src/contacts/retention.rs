//! The daily retention job (PRODUCT.md section 15; `persistence::retention`): for each
//! workspace with `retentionDays`, once a day whatever the number of processes, message texts,
//! content and media older than that are erased as `eraseCustomer` erases them, and older
//! event payloads keep their type and ids. Each run is audited (`retention.erased`, actor
//! `system`, with what it erased).

use chrono::{DateTime, Utc};
use persistence::{Database, Work, retention};
use serde_json::json;

use crate::workers::Next;

/// Runs each workspace's retention when it falls due.
#[derive(Clone, Debug)]
pub struct Retention {
    pub db: Database,
    pub due: crate::workers::DueMemo,
}

impl crate::workers::Worker for Retention {
    const NAME: &'static str = "retention";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let read =
            || async { Ok(retention::due(self.db.conn(), now).await?.into_iter().map(|(_, at)| at).min()) };
        self.due.pass(&self.db, now, read, || run_due(&self.db, now)).await
    }
}

/// Runs every workspace's retention that is due at `now`, each in its own transaction; returns
/// how many ran here (a workspace another process ran is skipped).
///
/// # Errors
/// On a database failure.
pub async fn run_due(db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
    let mut ran = 0;
    for (workspace, at) in retention::due(db.conn(), now).await? {
        if at > now {
            continue;
        }
        let done = db
            .write(async |txn| {
                let Some(retained) = retention::run(txn, workspace, now).await? else {
                    return Ok(false);
                };
                let entry = persistence::audit::Entry {
                    agent: None,
                    action: "retention.erased",
                    subject_type: "workspace",
                    subject_id: workspace.into(),
                    details: Some(json!({
                        "erasedBefore": retained.cutoff,
                        "attachments": retained.attachments,
                        "files": retained.blobs,
                        "events": retained.events,
                    })),
                };
                persistence::audit::record(txn, workspace, entry, now).await?;
                Ok::<_, persistence::Error>(true)
            })
            .await?;
        ran += usize::from(done);
    }
    Ok(ran)
}
