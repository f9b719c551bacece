//! `parley simulate`: plays the customer. Builds the webhook Meta (or the SMS provider) would
//! send for a customer's message, signs it as they sign it, and posts it to a running server
//! (the demo's, by default: its URL, number and secrets, derived from the key beside its
//! database). A photo (`--image`) is left where the demo's sandbox number fetches it.

use chrono::Utc;
use clap::Args;
use persistence::sealed::Keyring;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::setup::customer::{Addressee, Content, Customer, bsuid_for, sms_form};
use crate::setup::demo;

/// A customer's message to post.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The Meta app secret the server verifies webhooks with (default: the demo's).
    #[arg(long, env = "PARLEY_WHATSAPP_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// The business number's `phone_number_id` (default: the demo's).
    #[arg(long, default_value = demo::PHONE_NUMBER_ID)]
    phone_number_id: String,
    /// Its WhatsApp Business Account id.
    #[arg(long, default_value = demo::WABA_ID)]
    waba_id: String,
    /// The customer's WhatsApp username, like @carlos_mx (without --phone: the number is hidden).
    #[arg(long)]
    username: Option<String>,
    /// The customer's phone, digits with country code (shared with the business).
    #[arg(long)]
    phone: Option<String>,
    /// The customer's business-scoped user id (default: a stable one for the username or phone).
    #[arg(long)]
    bsuid: Option<String>,
    /// The customer's profile name.
    #[arg(long, default_value = "Customer")]
    name: String,
    /// A photo to send (.jpg, .png or .webp), with the text as its caption; for the demo's
    /// sandbox number (it is left beside the demo's database).
    #[arg(long, conflicts_with = "sms")]
    image: Option<std::path::PathBuf>,
    /// Send an SMS instead (needs --phone): to the demo's SMS number unless --to.
    #[arg(long)]
    sms: bool,
    /// With --sms: the SMS number texted, E.164.
    #[arg(long, default_value = demo::SMS_NUMBER)]
    to: String,
    /// With --sms: the SMS number's account SID and auth token (default: the demo's).
    #[arg(long)]
    account_sid: Option<String>,
    #[arg(long, env = "PARLEY_SMS_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// The demo's database (its key, beside it, gives the demo's secrets).
    #[arg(long, env = "DATABASE_URL", default_value = crate::config::DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// The demo's key, when it is not in the file beside the database.
    #[arg(long, env = "PARLEY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// What the customer writes (an image's caption).
    text: String,
}

impl SimulateArgs {
    /// The demo's secrets, from its key (the flag, or the file beside its database).
    fn demo_secrets(&self) -> anyhow::Result<demo::DemoSecrets> {
        let key = match self.secret_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(key) => key.trim().to_owned(),
            None => {
                let file = demo::key_file(&self.database_url);
                std::fs::read_to_string(&file)
                    .map_err(|err| {
                        anyhow::anyhow!(
                            "cannot read the demo's key {} ({err}): run this beside the demo's database, \
                             or pass --app-secret (WhatsApp) or --account-sid and --auth-token (SMS)",
                            file.display()
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        let keyring = Keyring::from_config(&SecretString::from(key), None)
            .map_err(|e| anyhow::anyhow!("the demo's key: {e}"))?;
        Ok(demo::DemoSecrets::of(&keyring))
    }
}

/// The random part of a provider's message id.
fn random_hex(bytes: usize) -> String {
    let random: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(random)
}

/// Posts the customer's message; prints what the server answered.
///
/// # Errors
/// Bad arguments, an unreadable photo or key, an unreachable server, or a refusal.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    if args.sms {
        return post_sms(&args, &base).await;
    }
    if args.username.is_none() && args.phone.is_none() && args.bsuid.is_none() {
        anyhow::bail!("say who writes: --username @name (number hidden), --phone DIGITS, or --bsuid ID");
    }
    let phone = args.phone.as_deref().map(|p| p.trim_start_matches('+').to_owned());
    if phone.as_deref().is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        anyhow::bail!("--phone takes digits with the country code, like 5215512345678");
    }
    let username =
        args.username.as_deref().map(|u| if u.starts_with('@') { u.to_owned() } else { format!("@{u}") });
    let seed = username.clone().or_else(|| phone.clone()).unwrap_or_default();
    let bsuid = args.bsuid.clone().unwrap_or_else(|| bsuid_for(&seed));
    let customer = Customer {
        name: &args.name,
        username: username.as_deref(),
        phone: phone.as_deref(),
        bsuid: Some(&bsuid),
    };
    let photo = match &args.image {
        Some(path) => Some(leave_photo(&args, path)?),
        None => None,
    };
    let content = match &photo {
        Some((media_id, mime_type, sha256)) => Content::Image {
            media_id,
            mime_type,
            sha256,
            caption: Some(args.text.as_str()).filter(|t| !t.is_empty()),
        },
        None => Content::Text(&args.text),
    };
    let to = Addressee {
        waba_id: &args.waba_id,
        phone_number_id: &args.phone_number_id,
        display_phone_number: demo::DISPLAY_PHONE_NUMBER,
    };
    let wamid = format!("wamid.SIM{}", random_hex(16).to_uppercase());
    let body = serde_json::to_vec(&customer.whatsapp_webhook(to, content, &wamid, Utc::now()))?;
    let secret = match args.app_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) => SecretString::from(secret.to_owned()),
        None => args.demo_secrets()?.app_secret,
    };
    let signature = crate::providers::meta::signature::sign(secret.expose_secret().as_bytes(), &body);
    let signed = Signed { content_type: "application/json", header: "x-hub-signature-256", signature, body };
    let what = format!("{} wrote to {}", customer_label(&customer), args.phone_number_id);
    let answer = post(&base, &format!("{base}/webhooks/whatsapp"), signed, &what).await?;
    let summary: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    if summary["messages"] == 0 && summary["duplicates"] == 0 {
        anyhow::bail!(
            "the server stored no message: no workspace there has connected phone_number_id {} \
             (the demo's is {}; pass --phone-number-id)",
            args.phone_number_id,
            demo::PHONE_NUMBER_ID
        );
    }
    Ok(())
}

fn customer_label(customer: &Customer<'_>) -> String {
    match (customer.username, customer.phone) {
        (Some(username), None) => format!("{username} (number hidden)"),
        (_, Some(phone)) => format!("+{phone}"),
        (None, None) => customer.bsuid.unwrap_or_default().to_owned(),
    }
}

/// Copies the photo beside the demo's database under its SHA-256 (the sandbox number's media
/// id names it); returns the media id, MIME type and digest.
fn leave_photo(args: &SimulateArgs, path: &std::path::Path) -> anyhow::Result<(String, String, String)> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let mime_type = match extension.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => anyhow::bail!("--image takes a .jpg, .png or .webp file"),
    };
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let dir = demo::sandbox_media_dir(&args.database_url);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(&sha256), &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
    Ok((format!("sandbox-{sha256}"), mime_type.to_owned(), sha256))
}

/// Posts a customer's text to the SMS webhook, signed as Twilio signs it.
async fn post_sms(args: &SimulateArgs, base: &str) -> anyhow::Result<()> {
    let Some(phone) = args.phone.as_deref() else {
        anyhow::bail!("--sms needs --phone: an SMS customer is known by the number");
    };
    let from = if phone.starts_with('+') { phone.to_owned() } else { format!("+{phone}") };
    let (sid, token) = match (&args.account_sid, &args.auth_token) {
        (Some(sid), Some(token)) => (sid.clone(), SecretString::from(token.clone())),
        _ => {
            let secrets = args.demo_secrets()?;
            (secrets.sms_account_sid, secrets.sms_auth_token)
        }
    };
    let message_sid = format!("SM{}", random_hex(16));
    let form = sms_form(&sid, &message_sid, &from, &args.to, &args.text);
    let url = format!("{base}{}", crate::providers::sms::WEBHOOK_PATH);
    let signature = crate::providers::sms::signature(&token, &url, &form)
        .ok_or_else(|| anyhow::anyhow!("cannot sign with that auth token"))?;
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    let signed = Signed {
        content_type: "application/x-www-form-urlencoded",
        header: "x-twilio-signature",
        signature,
        body: body.into_bytes(),
    };
    post(base, &url, signed, &format!("{from} texted {}", args.to)).await.map(drop)
}

/// A body and the provider's signature of it.
struct Signed {
    content_type: &'static str,
    header: &'static str,
    signature: String,
    body: Vec<u8>,
}

/// Posts a signed body, prints the outcome and returns the server's answer; a refusal is an
/// error with the server's reason.
async fn post(base: &str, url: &str, signed: Signed, what: &str) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", signed.content_type)
        .header(signed.header, signed.signature)
        .body(signed.body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {base} (is `parley serve --demo` running?): {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("the server refused the message ({status}): {}", text.trim());
    }
    println!("{what}: the server answered {status}");
    Ok(text)
}
