//! The `parley` binary, run as an operator would.

#![expect(clippy::unwrap_used, reason = "test helpers panic when set-up fails")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn parley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("PARLEY_JWT_SECRET")
        .env_remove("PARLEY_SECRET_KEY_PREVIOUS")
        .env("PARLEY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn");
    cmd
}

fn temp_db() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-cli");
    if let Err(err) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {err}", dir.display());
    }
    format!("sqlite://{}?mode=rwc", dir.join(format!("{}.db", uuid::Uuid::new_v4().simple())).display())
}

const SECRET: &str = "cli-test-secret-cli-test-secret-cli-test";
/// 32 bytes of base64, the `PARLEY_SECRET_KEY` of the servers these tests start.
const SECRET_KEY: &str = "Y2xpLXRlc3Qta2V5LWNsaS10ZXN0LWtleS0wMTIzNDU=";

async fn graphql_post(url: &str, token: &str, body: &serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new().post(url).bearer_auth(token).json(body).send().await.unwrap();
    response.json().await.unwrap()
}

#[test]
fn bootstrap_prints_ids_and_a_token_and_token_issues_another() {
    let db = temp_db();
    let out = parley()
        .args(["bootstrap", "--workspace", "Acme", "--admin-email", "admin@acme.example.com"])
        .args(["--phone-number-id", "106540352242922", "--display-phone-number", "15550783881"])
        .args(["--waba-id", "102290129340398", "--portfolio-id", "506914307656634"])
        .env("DATABASE_URL", &db)
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["workspaceId", "adminId", "businessNumberId", "token"] {
        assert!(json[key].is_string(), "{key} in {json}");
    }
    let admin = json["adminId"].as_str().unwrap();
    let out = parley()
        .args(["token", "--agent-id", admin, "--ttl", "30m", "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().split('.').count(), 3, "a JWT");

    // The same phone_number_id again is a clear conflict, not a crash.
    let out = parley()
        .args(["bootstrap", "--workspace", "Other", "--admin-email", "a@other.example.com"])
        .args(["--phone-number-id", "106540352242922", "--display-phone-number", "15550783881"])
        .args(["--waba-id", "1", "--portfolio-id", "2", "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
}

/// `connect-number`: the operator connects a WhatsApp number (served by the operator's token);
/// the same number again, or an unknown workspace, is a clear refusal.
#[test]
fn the_operator_connects_numbers_from_the_command_line() {
    let db = temp_db();
    let out = parley()
        .args([
            "bootstrap",
            "--workspace",
            "Acme",
            "--admin-email",
            "admin@acme.example.com",
            "--database-url",
            &db,
        ])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let workspace = json["workspaceId"].as_str().unwrap().to_owned();
    let connect = |workspace: &str| {
        parley()
            .args(["connect-number", "--workspace-id", workspace, "--phone-number-id", "106540352242923"])
            .args(["--display-phone-number", "15550783882", "--waba-id", "102290129340398"])
            .args(["--portfolio-id", "506914307656634", "--database-url", &db])
            .env_remove("PARLEY_WHATSAPP_ACCESS_TOKEN")
            .output()
            .unwrap()
    };
    let out = connect(&workspace);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["businessNumberId"].is_string(), "{json}");
    assert_eq!(json["workspaceId"], workspace.as_str());
    let again = connect(&workspace);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already connected"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let nowhere = connect(&uuid::Uuid::now_v7().to_string());
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no such workspace"));
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_setting() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 6] = [
        (&["serve"], &[], "PARLEY_JWT_SECRET"),
        (&["serve"], &[("PARLEY_JWT_SECRET", SECRET), ("PARLEY_SECRET_KEY", "")], "PARLEY_SECRET_KEY"),
        (
            &["serve"],
            &[("PARLEY_JWT_SECRET", SECRET), ("PARLEY_SECRET_KEY", "c2hvcnQ=")],
            "PARLEY_SECRET_KEY",
        ),
        (&["serve"], &[("PARLEY_JWT_SECRET", "short")], "PARLEY_JWT_SECRET"),
        (&["serve", "--listen", "nowhere"], &[("PARLEY_JWT_SECRET", SECRET)], "PARLEY_LISTEN"),
        (&["migrate", "--database-url", "mysql://x"], &[], "DATABASE_URL"),
    ];
    for (args, env, setting) in cases {
        let mut cmd = parley();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(setting), "{args:?}: {stderr}");
        assert!(!stderr.contains(SECRET));
    }
}

/// Settings that only work together are all or none; a partial set stops start-up before
/// anything is touched, naming what is missing (SMS settings may come from the environment).
#[test]
fn settings_that_go_together_are_all_or_none() {
    let db = temp_db();
    let sms = parley()
        .args(["serve", "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .env("PARLEY_SMS_API_BASE", "http://127.0.0.1:9")
        .env("PARLEY_SMS_FROM", "+15550001111")
        .output()
        .unwrap();
    assert!(!sms.status.success());
    let stderr = String::from_utf8_lossy(&sms.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--sms-account-sid") && stderr.contains("--sms-auth-token"), "{stderr}");
    let number = parley()
        .args(["bootstrap", "--database-url", &db, "--workspace", "Acme", "--admin-email", "a@acme.test"])
        .args(["--waba-id", "102290129340398"])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(!number.status.success(), "a business number needs all four ids");
    let stderr = String::from_utf8_lossy(&number.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--phone-number-id"), "{stderr}");
    let path = db.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_owned();
    assert!(!std::path::Path::new(&path).exists(), "nothing was created");
}

#[test]
fn schema_prints_the_committed_sdl() {
    let out = parley().arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

/// Starts `parley serve --demo` (without `PARLEY_SECRET_KEY`); returns the child, the GraphQL
/// URL and the admin token it printed.
async fn serve_demo(db: &str) -> (std::process::Child, String, String) {
    let media = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-cli-media");
    let mut child = parley()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", db])
        .env("PARLEY_MEDIA_STORE", format!("file://{}", media.display()))
        .env_remove("PARLEY_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (url, token) = tokio::task::spawn_blocking(move || {
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.split("GraphQL (POST, and GraphiQL in a browser): ").nth(1) {
                url = Some(rest.trim().to_owned());
            }
            if let Some(token) = line.trim().strip_prefix("export TOKEN=") {
                return (url.unwrap(), token.to_owned());
            }
        }
        panic!("demo printed no token");
    })
    .await
    .unwrap();
    (child, url, token)
}

#[tokio::test]
async fn serve_demo_serves_a_meaningful_inbox() {
    let db = temp_db();
    let (mut child, url, token) = serve_demo(&db).await;
    // The test stopped reading stdout (the pipe is closed): the server must keep serving.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let query = "{ conversations(first: 10) { nodes { displayName origin customer { username phoneNumber notice } \
                 capabilities { reply { allowed reason } call { allowed reason } } labels { name } team { name } \
                 messages(first: 5) { nodes { direction } } } } cannedResponses { shortCode } }";
    let body = graphql_post(&url, &token, &serde_json::json!({ "query": query })).await;
    child.kill().ok();
    child.wait().ok();
    let nodes = body["data"]["conversations"]["nodes"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert!(nodes.len() >= 4, "{body}");
    let hidden: Vec<_> = nodes.iter().filter(|n| n["customer"]["phoneNumber"].is_null()).collect();
    assert!(hidden.len() >= 2);
    for n in &hidden {
        assert_eq!(n["customer"]["notice"], "No phone number provided by user.");
        assert!(n["customer"]["username"].as_str().unwrap().starts_with('@'));
        assert_eq!(n["capabilities"]["call"]["reason"], "Phone number is required for outbound calls.");
    }
    assert!(nodes.iter().any(|n| n["origin"] == "RETURNING_CUSTOMER_HID_NUMBER"));
    assert!(nodes.iter().any(|n| n["capabilities"]["reply"]["allowed"] == false));
    // The team's tools are in use: labels, a team, saved answers, a note.
    assert!(nodes.iter().any(|n| n["labels"] == serde_json::json!([{ "name": "VIP" }])), "{body}");
    assert!(nodes.iter().any(|n| n["team"]["name"] == "Support"), "{body}");
    assert!(body.to_string().contains("INTERNAL"), "a note: {body}");
    assert_eq!(body["data"]["cannedResponses"].as_array().map(Vec::len), Some(2), "{body}");

    // Restarted on the same database, the demo reads the key it kept beside it (its hidden
    // customers' message ids are sealed under that key).
    let key_file = format!("{}.key", db.trim_start_matches("sqlite://").split('?').next().unwrap());
    assert!(std::path::Path::new(&key_file).exists(), "{key_file}");
    let (mut child, url, token) = serve_demo(&db).await;
    let body = graphql_post(&url, &token, &serde_json::json!({ "query": "{ me { role } }" })).await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(body["data"]["me"]["role"], "ADMIN", "{body}");
}

/// Runs a whole username-only scenario against the real binary at debug level with JSON logs
/// (span fields included) and checks that nothing it logged contains a token, a secret, a
/// message body or the phone number a hidden customer's message id encodes.
#[tokio::test]
async fn logs_never_contain_tokens_secrets_bodies_or_hidden_phones() {
    use hmac::Mac;
    let db = temp_db();
    let app_secret = "log-test-app-secret-0001";
    let verify_token = "log-test-verify-token-0001";
    let out = parley()
        .args(["bootstrap", "--workspace", "Acme", "--admin-email", "admin@acme.example.com"])
        .args(["--phone-number-id", "106540352242922", "--display-phone-number", "15550783881"])
        .args(["--waba-id", "102290129340398", "--portfolio-id", "506914307656634", "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = parley()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .env("PARLEY_WHATSAPP_APP_SECRET", app_secret)
        .env("PARLEY_WHATSAPP_VERIFY_TOKEN", verify_token)
        .env("RUST_LOG", "debug")
        .env("PARLEY_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            all.push_str(&line.unwrap_or_default());
            all.push('\n');
        }
        all
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // This wamid base64-decodes to a blob holding the phone 16503879439.
    let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    let body = serde_json::json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
        "contacts": [{ "profile": { "name": "Sheena Nelson", "username": "@realsheenanelson" }, "user_id": "US.13491208655302741918" }],
        "messages": [{ "from_user_id": "US.13491208655302741918", "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
                       "type": "text", "text": { "body": "INBOUND-BODY-my order 4471 is late" } }]
    } }] }] });
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(&bytes);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let hook = format!("{base}/webhooks/whatsapp");
    let r =
        client.post(&hook).header("x-hub-signature-256", signature).body(bytes.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    client.post(&hook).header("x-hub-signature-256", "sha256=00").body(bytes).send().await.unwrap();
    client
        .get(format!("{hook}?hub.mode=subscribe&hub.verify_token={verify_token}&hub.challenge=7"))
        .send()
        .await
        .unwrap();
    let gql = |query: serde_json::Value| {
        let (client, url, token) = (client.clone(), format!("{base}/graphql"), token.clone());
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&query)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let list = gql(serde_json::json!({ "query": "{ conversations { nodes { id } } }" })).await;
    let id = list["data"]["conversations"]["nodes"][0]["id"].clone();
    let inline = format!(
        "mutation {{ sendMessage(conversationId: \"{}\", text: \"OUTBOUND-BODY-inline reply\") {{ id }} }}",
        id.as_str().unwrap()
    );
    gql(serde_json::json!({ "query": inline })).await;
    gql(serde_json::json!({ "query": "mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id } }", "variables": { "c": id, "t": "OUTBOUND-BODY-variable reply" } })).await;
    gql(serde_json::json!({ "query": "mutation($c: ID!) { createContact(conversationId: $c, input: { name: \"Sheena\", phoneNumber: \"+1 650 555 0199\" }) { id } }", "variables": { "c": id } })).await;
    gql(serde_json::json!({ "query": "{ nope }" })).await;
    client
        .post(format!("{base}/graphql"))
        .bearer_auth("forged.token.value")
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    child.kill().ok();
    child.wait().ok();
    let logs = logs.join().unwrap();
    assert!(logs.contains("webhook stored"), "the server did log: {logs}");
    for secret in [
        token.as_str(),
        SECRET,
        app_secret,
        verify_token,
        "forged.token.value",
        "INBOUND-BODY",
        "OUTBOUND-BODY",
        wamid,
        "HBgLMTY1MDM4Nzk0Mzk",
        "16503879439",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}

/// Starts `parley serve` with a secret key (and previous keys); returns the child and its base
/// URL once ready, or what it printed when it stopped instead.
async fn serve_with_key(
    db: &str,
    key: &str,
    previous: Option<&str>,
) -> Result<(std::process::Child, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = parley();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .env("PARLEY_SECRET_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(previous) = previous {
        cmd.env("PARLEY_SECRET_KEY_PREVIOUS", previous);
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            return Err(format!("{status}: {stderr}"));
        }
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            return Ok((child, base));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().ok();
    panic!("the server neither started nor stopped");
}

async fn stored_secret(db: &str) -> String {
    use sea_orm::ConnectionTrait;
    let conn = sea_orm::Database::connect(db).await.unwrap();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT secret FROM webhook_endpoints",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "secret").unwrap()
}

/// CRM secrets are stored sealed; a server with the wrong key (or none) refuses to start with
/// one line; a new key with the old one as previous starts, and re-seals under the new key.
#[tokio::test]
async fn stored_secrets_need_their_key_and_rotate_to_a_new_one() {
    let db = temp_db();
    let token = bootstrap(&db);
    let (mut child, base) = serve_with_key(&db, SECRET_KEY, None).await.unwrap();
    let create = "mutation { createWebhookEndpoint(input: { url: \"https://crm.example.com/h\", eventTypes: [] }) { secret } }";
    let body =
        graphql_post(&format!("{base}/graphql"), &token, &serde_json::json!({ "query": create })).await;
    child.kill().ok();
    child.wait().ok();
    let secret = body["data"]["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let stored = stored_secret(&db).await;
    assert!(stored.starts_with("v1:") && !stored.contains(&secret), "sealed: {stored}");
    let old_id = stored.split(':').nth(1).unwrap().to_owned();

    let other = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDE=";
    let refused = match serve_with_key(&db, other, None).await {
        Ok((mut child, _)) => {
            child.kill().ok();
            panic!("a wrong key must stop start-up");
        }
        Err(printed) => printed,
    };
    let line = refused.split_once(": ").map_or(refused.as_str(), |(_, rest)| rest).trim().to_owned();
    assert_eq!(line.lines().count(), 1, "{refused}");
    assert!(line.contains("PARLEY_SECRET_KEY") && line.contains(&old_id), "{refused}");
    assert!(!line.contains(SECRET_KEY) && !line.contains(other));

    let (mut child, _) = serve_with_key(&db, other, Some(SECRET_KEY)).await.unwrap();
    child.kill().ok();
    child.wait().ok();
    let resealed = stored_secret(&db).await;
    assert_ne!(resealed.split(':').nth(1).unwrap(), old_id, "re-sealed under the new key: {resealed}");
    let (mut child, _) = serve_with_key(&db, other, None).await.expect("the new key alone opens everything");
    child.kill().ok();
    child.wait().ok();
}

/// Starts `parley serve` on a bootstrapped SQLite database; returns the child, its base URL.
async fn serve_bootstrapped(db: &str, app_secret: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = parley()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .env("PARLEY_WHATSAPP_APP_SECRET", app_secret)
        .env("PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        .env("PARLEY_WEBHOOK_TIMEOUT", "1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    (child, base)
}

/// Bootstraps the workspace; returns the admin's token.
fn bootstrap(db: &str) -> String {
    let out = parley()
        .args(["bootstrap", "--workspace", "Acme", "--admin-email", "admin@acme.example.com"])
        .args(["--phone-number-id", "106540352242922", "--display-phone-number", "15550783881"])
        .args(["--waba-id", "102290129340398", "--portfolio-id", "506914307656634", "--database-url", db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["token"].as_str().unwrap().to_owned()
}

fn signed_webhook(app_secret: &str, i: usize) -> (String, Vec<u8>, String) {
    use hmac::Mac;
    let wamid = format!("wamid.KILL{i:06}");
    let body = serde_json::json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
        "contacts": [{ "profile": { "name": "C" }, "wa_id": format!("1650555{:04}", i % 50), "user_id": format!("US.{}", 900 + i % 50) }],
        "messages": [{ "from": format!("1650555{:04}", i % 50), "from_user_id": format!("US.{}", 900 + i % 50), "id": wamid,
                       "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": "hello" } }]
    } }] }] });
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(&bytes);
    (wamid, bytes, format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
}

/// Fires `n` webhooks from 8 senders; returns the wamids that were acknowledged with 200.
async fn fire(
    base: &str,
    app_secret: &str,
    n: usize,
    acked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> Vec<String> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (acked, next, url, secret) =
            (acked.clone(), next.clone(), format!("{base}/webhooks/whatsapp"), app_secret.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let (wamid, body, signature) = signed_webhook(&secret, i);
                let sent = client.post(&url).header("x-hub-signature-256", signature).body(body).send().await;
                match sent {
                    Ok(r) if r.status().as_u16() == 200 => acked.lock().unwrap().push(wamid),
                    Ok(r) => assert_ne!(r.status().as_u16(), 500, "no server error under load"),
                    Err(_) => {}
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    acked.lock().unwrap().clone()
}

/// Every acknowledged wamid is a stored message.
async fn assert_all_stored(db: &str, acked: &[String]) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let store = persistence::Database::connect(db, &persistence::PoolSettings::default()).await.unwrap();
    for chunk in acked.chunks(500) {
        let found = persistence::entities::message::Entity::find()
            .filter(persistence::entities::message::Column::ExternalId.is_in(chunk.to_vec()))
            .all(store.conn())
            .await
            .unwrap();
        assert_eq!(found.len(), chunk.len(), "an acknowledged webhook was lost");
    }
}

/// A CRM receiver on a local port: collects the CloudEvent ids it is sent (answers 200).
async fn crm_receiver() -> (String, std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(id) = event["id"].as_str() {
                    store.lock().unwrap().insert(id.to_owned());
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Subscribes to every event after `after`; returns the socket once the server acknowledged.
async fn subscriber(base: &str, token: &str, after: Option<i64>) -> Socket {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = (base.replace("http://", "ws://") + "/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Ws::text(init.to_string())).await.unwrap();
    let query = "subscription($after: String) { events(after: $after) { cursor } }";
    let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "after": after.map(|a| a.to_string()) } } });
    socket.send(Ws::text(subscribe.to_string())).await.unwrap();
    socket
}

/// Reads event cursors from the socket until it closes or `until` is seen (or 60 s pass).
async fn read_cursors(socket: &mut Socket, seen: &mut Vec<i64>, until: Option<i64>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Ws;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while until.is_none_or(|u| seen.last().is_none_or(|l| *l < u)) {
        let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await else { return };
        let Ws::Text(text) = message else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        match v["type"].as_str() {
            Some("ping") => {
                socket.send(Ws::text(r#"{"type":"pong"}"#)).await.ok();
            }
            Some("next") => {
                let cursor = v["payload"]["data"]["events"]["cursor"].as_str().unwrap();
                seen.push(cursor.parse().unwrap());
            }
            Some("error" | "complete") => panic!("subscription ended: {v}"),
            _ => {}
        }
    }
}

/// Every stored event: (cursor, CloudEvent id), in cursor order.
async fn stored_events(db: &str) -> Vec<(i64, String)> {
    use sea_orm::{EntityTrait, QueryOrder};
    let store = persistence::Database::connect(db, &persistence::PoolSettings::default()).await.unwrap();
    persistence::entities::event::Entity::find()
        .order_by_asc(persistence::entities::event::Column::Cursor)
        .all(store.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.cursor, e.id.to_string()))
        .collect()
}

/// SIGKILL under ingest load, with a live subscriber and a CRM endpoint: after a restart,
/// every acknowledged webhook is stored, the subscriber (resuming from the last cursor it saw)
/// has every event exactly once and in order, and the CRM endpoint receives every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_and_its_events_survive_sigkill() {
    survives_sigkill(temp_db()).await;
}

/// The same on PostgreSQL (`PARLEY_TEST_POSTGRES_URL`), where events are numbered after their
/// commit: a kill between the two leaves events the restarted server numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_and_its_events_survive_sigkill_on_postgres() {
    let Some(base) = std::env::var("PARLEY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("notice: PARLEY_TEST_POSTGRES_URL is unset; the PostgreSQL SIGKILL run is skipped");
        return;
    };
    let name = format!("parley_cli_{}", uuid::Uuid::new_v4().simple());
    let admin = persistence::Database::connect(&base, &persistence::PoolSettings::default()).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(admin.conn(), &format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    survives_sigkill(format!("{prefix}/{name}")).await;
}

async fn survives_sigkill(db: String) {
    let secret = "kill-test-app-secret";
    let token = bootstrap(&db);
    let (crm_url, crm_seen) = crm_receiver().await;
    let (mut child, base) = serve_bootstrapped(&db, secret).await;
    let create = serde_json::json!({ "query": "mutation($u: String!) { createWebhookEndpoint(input: { url: $u, eventTypes: [] }) { endpoint { id } } }", "variables": { "u": crm_url } });
    let created = graphql_post(&format!("{base}/graphql"), &token, &create).await;
    assert!(created["data"]["createWebhookEndpoint"]["endpoint"]["id"].is_string(), "{created}");

    // From cursor 0, not "from now": the subscription may register after the first webhooks
    // commit, and this test is about the kill, not about that race.
    let mut socket = subscriber(&base, &token, Some(0)).await;
    let live = tokio::spawn(async move {
        let mut seen = Vec::new();
        read_cursors(&mut socket, &mut seen, None).await;
        seen
    });
    let pid = child.id();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // Killed once some webhooks are acknowledged (not after a fixed time: a loaded machine may
    // take long to answer the first ones), while the load is still running.
    let progress = std::sync::Arc::clone(&acked);
    let killer = tokio::spawn(async move {
        for _ in 0..3_000 {
            if progress.lock().unwrap().len() >= 50 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    });
    let acked = fire(&base, secret, 5_000, acked).await;
    killer.await.unwrap();
    child.wait().ok();
    assert!(
        !acked.is_empty() && acked.len() < 5_000,
        "the kill happened mid-load ({} acknowledged)",
        acked.len()
    );
    // What the live subscriber saw before the kill (usually a prefix of the events).
    let mut seen = live.await.unwrap();

    // Restart on the same database: everything acknowledged is there…
    let (mut child, base) = serve_bootstrapped(&db, secret).await;
    assert_all_stored(&db, &acked).await;
    let stored = stored_events(&db).await;
    let last = stored.last().map_or(0, |(cursor, _)| *cursor);
    assert_eq!(
        stored.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "cursors are gap-free after the crash"
    );
    // …the subscriber resumes after the last cursor it saw and gets the rest…
    let mut socket = subscriber(&base, &token, Some(seen.last().copied().unwrap_or(0))).await;
    read_cursors(&mut socket, &mut seen, Some(last)).await;
    assert_eq!(seen, (1..=last).collect::<Vec<_>>(), "every event once, in order");
    // …and the CRM endpoint receives every event (at least once).
    let want: std::collections::HashSet<String> = stored.into_iter().map(|(_, id)| id).collect();
    for _ in 0..600 {
        if want.is_subset(&crm_seen.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let missing = want.difference(&crm_seen.lock().unwrap()).count();
    assert_eq!(missing, 0, "{missing} of {} events never reached the CRM endpoint", want.len());
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let db = temp_db();
    let secret = "term-test-app-secret";
    let _ = bootstrap(&db);
    let (mut child, base) = serve_bootstrapped(&db, secret).await;
    let pid = child.id();
    let load = tokio::spawn({
        let base = base.clone();
        async move { fire(&base, secret, 2_000, std::sync::Arc::default()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopped_at = std::time::Instant::now();
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(stopped_at.elapsed() < std::time::Duration::from_secs(25), "bounded shutdown");
    let acked = load.await.unwrap();
    assert!(!acked.is_empty());
    assert_all_stored(&db, &acked).await;
}

/// Starts `parley serve` with a default SMS sender and `extra` settings, waits until it is
/// ready, stops it, and returns what it logged at `warn`.
async fn startup_warnings(extra: &[(&str, &str)]) -> String {
    let db = temp_db();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = parley();
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", &db])
        .env("PARLEY_JWT_SECRET", SECRET)
        .env_remove("PARLEY_PUBLIC_URL")
        .env("PARLEY_SMS_ACCOUNT_SID", "AC00000000000000000000000000000001")
        .env("PARLEY_SMS_AUTH_TOKEN", "startup-warning-test-token")
        .env("PARLEY_SMS_FROM", "+15550001111")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map(Result::unwrap_or_default).collect::<Vec<_>>().join("\n")
    });
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().ok();
    child.wait().ok();
    let logs = logs.join().unwrap();
    assert!(ready, "the server did not start: {logs}");
    logs
}

/// Without `PARLEY_PUBLIC_URL`, SMS sends carry no status callback: the server says so once
/// when it starts (and not when the URL is set).
#[tokio::test]
async fn serve_warns_once_when_sms_statuses_cannot_come_back() {
    let logs = startup_warnings(&[]).await;
    assert_eq!(logs.matches("PARLEY_PUBLIC_URL is not set").count(), 1, "{logs}");
    assert!(logs.contains("statuses stay SENT"), "{logs}");
    let logs = startup_warnings(&[("PARLEY_PUBLIC_URL", "https://parley.example.com")]).await;
    assert!(!logs.contains("PARLEY_PUBLIC_URL"), "{logs}");
}

/// `parley simulate` plays the customer against a running demo: a username-only customer's
/// message (continuing the demo's Carlos), a photo the sandbox number stores, an SMS, and a
/// clear refusal for a number the server does not have.
#[tokio::test]
async fn simulate_posts_a_customers_message_to_the_demo() {
    let db = temp_db();
    let (mut child, url, token) = serve_demo(&db).await;
    let base = url.trim_end_matches("/graphql").to_owned();
    let simulate = |args: &[&str]| {
        parley()
            .args(["simulate", "--url", &base, "--database-url", &db])
            .args(args)
            .env_remove("PARLEY_SECRET_KEY")
            .env_remove("PARLEY_WHATSAPP_APP_SECRET")
            .env_remove("PARLEY_SMS_AUTH_TOKEN")
            .output()
            .unwrap()
    };
    let out = simulate(&["--username", "@carlos_mx", "--name", "Carlos", "Hola, ¿tienen envíos?"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let photo = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulated.png");
    std::fs::write(&photo, b"\x89PNG\r\n\x1a\n simulated photo bytes").unwrap();
    let out = simulate(&[
        "--username",
        "@carlos_mx",
        "--name",
        "Carlos",
        "--image",
        photo.to_str().unwrap(),
        "Este",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = simulate(&["--sms", "--phone", "14155550123", "Hi by SMS"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = simulate(&["--phone-number-id", "999", "--phone", "5215512345678", "Hola"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no workspace there has connected phone_number_id 999")
    );

    let query = "{ conversations(first: 20) { nodes { channel customer { username phoneNumber } \
                 capabilities { reply { allowed } } messages(first: 5) { nodes { text attachments { status mimeType } } } } } }";
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        body = graphql_post(&url, &token, &serde_json::json!({ "query": query })).await;
        if body.to_string().contains("STORED") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().ok();
    child.wait().ok();
    let nodes = body["data"]["conversations"]["nodes"].as_array().unwrap_or_else(|| panic!("{body}"));
    let carlos: Vec<_> = nodes.iter().filter(|n| n["customer"]["username"] == "@carlos_mx").collect();
    assert_eq!(carlos.len(), 1, "the simulated Carlos is the demo's Carlos: {body}");
    let carlos = carlos[0];
    assert!(carlos["customer"]["phoneNumber"].is_null());
    assert_eq!(carlos["capabilities"]["reply"]["allowed"], true, "his message opened the window: {body}");
    let texts = carlos["messages"]["nodes"].to_string();
    assert!(
        texts.contains("Hola, ¿tienen envíos?") && texts.contains("STORED") && texts.contains("image/png"),
        "{texts}"
    );
    let sms = nodes.iter().find(|n| n["channel"] == "SMS").unwrap_or_else(|| panic!("{body}"));
    assert_eq!(sms["customer"]["phoneNumber"], "+14155550123");
    // The customer's text, then (the demo's team is closed today) the away reply by SMS.
    let sms_texts: Vec<&str> =
        sms["messages"]["nodes"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(sms_texts.len(), 2, "{sms_texts:?}");
    assert_eq!(sms_texts[1], "Hi by SMS");
    assert!(sms_texts[0].starts_with("Thanks for writing to Jasper's Market!"), "{sms_texts:?}");
}
