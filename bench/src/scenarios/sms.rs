//! The `sms` scenario: signed inbound SMS form posts (`POST /webhooks/sms`, a quarter as many
//! customers as messages, so most join an existing thread) versus signed single-message
//! WhatsApp webhooks through the same driver at the same concurrency in the same run.

use anyhow::{Context as _, bail};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;
use serde_json::json;
use tests::fixtures::Inbound;

use crate::harness::{Comparison, SECRET_KEY, drive, peak_rss_mb, post_webhook, start};

/// The bench's SMS number and its account.
const SMS_NUMBER: &str = "+15557779000";
const ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
const AUTH_TOKEN: &str = "bench-sms-auth-token";

pub(crate) async fn sms(
    database_url: Option<String>,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let env = start(database_url, concurrency).await?;
    let (db, backend, client, pid) = (env.db.clone(), env.database.backend, env.client.clone(), env.pid);
    let keyring = persistence::sealed::Keyring::from_config(&SECRET_KEY.to_owned().into(), None)?;
    let phone = domain::PhoneNumber::parse(SMS_NUMBER)?;
    let new = persistence::business_numbers::NewBusinessNumber {
        id: domain::BusinessNumberId::new(),
        workspace_id: env.workspace,
        phone_number_id: SMS_NUMBER,
        display_phone_number: &phone,
        waba_id: "",
        portfolio_id: "",
        business_name: None,
        channel: domain::Channel::Sms,
        access_token: None,
        sms_account: Some((
            ACCOUNT_SID,
            keyring.seal(persistence::sealed::Purpose::SmsAuthToken, AUTH_TOKEN),
        )),
        operator_connected: false,
    };
    persistence::business_numbers::create(db.conn(), new, chrono::Utc::now()).await?;

    // Baseline: signed WhatsApp webhooks, one message each.
    let customers = (requests / 4).max(1);
    let started_at = chrono::Utc::now().timestamp();
    let whatsapp_url = format!("{}/webhooks/whatsapp", env.base);
    let c = client.clone();
    let baseline = drive(requests, concurrency, move |i| {
        let (client, url) = (c.clone(), whatsapp_url.clone());
        async move {
            let customer = (i * 7_919) % customers;
            let mut inbound = Inbound::hidden(&format!("US.{}", 10_000_000 + customer), "@c", "Customer")
                .wamid(format!("wamid.BENCH{}", uuid::Uuid::new_v4().simple()))
                .text(format!("message {i}"))
                .ago(chrono::Duration::seconds(chrono::Utc::now().timestamp() - (started_at - 60)));
            inbound.phone = Some(format!("1650{customer:07}"));
            post_webhook(&client, &url, &inbound).await
        }
    })
    .await?;

    // Signed as the provider signs: the URL it called (no PARLEY_PUBLIC_URL: http + Host).
    let sms_url = format!("{}/webhooks/sms", env.base);
    let token = SecretString::from(AUTH_TOKEN.to_owned());
    let c = client.clone();
    let run = drive(requests, concurrency, move |i| {
        let (client, url, token) = (c.clone(), sms_url.clone(), token.clone());
        async move {
            let customer = (i * 7_919) % customers;
            let params: Vec<(String, String)> = [
                ("AccountSid", ACCOUNT_SID.to_owned()),
                ("MessageSid", format!("SM{}", uuid::Uuid::new_v4().simple())),
                ("SmsStatus", "received".to_owned()),
                ("From", format!("+1415{customer:07}")),
                ("To", SMS_NUMBER.to_owned()),
                ("Body", format!("message {i}")),
                ("NumMedia", "0".to_owned()),
                ("NumSegments", "1".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let signature = api::providers::sms::signature(&token, &url, &params).context("signature")?;
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            let response = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signature)
                .body(body)
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("SMS webhook answered {}", response.status());
            }
            Ok(())
        }
    })
    .await?;
    let rss = peak_rss_mb(pid);
    let sql = "SELECT COUNT(*) AS n FROM messages WHERE channel = 'SMS'";
    let row = db
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(db.backend(), sql))
        .await?
        .context("count")?;
    let stored: i64 = row.try_get("", "n")?;
    env.finish().await?;
    if usize::try_from(stored).unwrap_or(0) != requests {
        bail!("{stored} SMS stored for {requests} acknowledged posts");
    }
    Comparison {
        scenario: "sms",
        backend,
        title: format!(
        "sms on {backend}, {requests} signed SMS posts from {customers} customers, {concurrency} concurrent senders, {} (every acknowledged post verified stored)",
        chrono::Utc::now().format("%Y-%m-%d")
    ),
        requests,
        concurrency,
        run: ("signed SMS posts", &run),
        baseline: ("baseline: WhatsApp webhooks", &baseline),
        rss,
    }
    .print(json!({}));
    Ok(())
}
