//! The `parley` binary, run as an operator would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn parley() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.env_remove("DATABASE_URL").env_remove("PARLEY_JWT_SECRET").env("RUST_LOG", "warn");
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

#[test]
fn bad_configuration_stops_with_one_line_naming_the_setting() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        (&["serve"], &[], "PARLEY_JWT_SECRET"),
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

#[test]
fn schema_prints_the_committed_sdl() {
    let out = parley().arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[tokio::test]
async fn serve_demo_serves_a_meaningful_inbox() {
    let mut child = parley()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", &temp_db()])
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
    let query = "{ conversations(first: 10) { nodes { displayName origin customer { username phoneNumber notice } \
                 capabilities { reply { allowed reason } call { allowed reason } } } } }";
    let body: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
}
