//! The reference agent desktop in headless Chromium, against `parley serve --demo`: the flows
//! of PRODUCT.md section 14, a screenshot per step under `target/desktop-shots/`. Any page
//! error, console error or failed request fails the test, and every interactive element of
//! Chromium's accessibility tree must have a name.
//!
//! Chromium is Debian's (`/usr/bin/chromium`, or `PARLEY_TEST_CHROMIUM`), installed by
//! `.ci/run`; without it the test is skipped with a notice. `UPDATE_SCREENSHOT=1` also writes
//! the README's screenshot (`docs/desktop.png`).

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers panic when set-up fails")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::accessibility::GetFullAxTreeParams;
use chromiumoxide::cdp::browser_protocol::dom::SetFileInputFilesParams;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::network::{EventLoadingFailed, EventResponseReceived};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures::StreamExt;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PARLEY_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    path.exists().then_some(path)
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// The demo server, killed when the test ends (also when it fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// `parley serve --demo` on a fresh SQLite database; the server, the link it printed and its database.
fn serve_demo() -> (Server, String, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parley-desktop");
    std::fs::create_dir_all(&dir).unwrap();
    let db =
        format!("sqlite://{}?mode=rwc", dir.join(format!("{}.db", uuid::Uuid::new_v4().simple())).display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--database-url", &db])
        .env_remove("DATABASE_URL")
        .env_remove("PARLEY_SECRET_KEY")
        .env_remove("PARLEY_JWT_SECRET")
        .env("PARLEY_MEDIA_STORE", format!("file://{}", dir.join("media").display()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("the demo prints its link").unwrap();
    let link = first
        .split("Open the Parley agent desktop: ")
        .nth(1)
        .unwrap_or_else(|| panic!("the banner's first line is the desktop link: {first}"))
        .trim()
        .to_owned();
    // Keep draining the banner so the pipe never fills.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (Server(child), link, db)
}

/// What went wrong in the page: errors, console errors, failed requests.
type Problems = Arc<Mutex<Vec<String>>>;

async fn watch(page: &Page) -> Problems {
    let problems: Problems = Arc::default();
    page.enable_log().await.unwrap();
    page.enable_runtime().await.unwrap();
    page.execute(chromiumoxide::cdp::browser_protocol::network::EnableParams::default()).await.unwrap();
    let mut exceptions = page.event_listener::<EventExceptionThrown>().await.unwrap();
    let mut console = page.event_listener::<EventConsoleApiCalled>().await.unwrap();
    let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
    let mut failed = page.event_listener::<EventLoadingFailed>().await.unwrap();
    let mut responses = page.event_listener::<EventResponseReceived>().await.unwrap();
    let p = Arc::clone(&problems);
    tokio::spawn(async move {
        loop {
            let problem = tokio::select! {
                Some(e) = exceptions.next() => Some(format!("page error: {:?}", e.exception_details)),
                Some(e) = console.next() => (e.r#type == ConsoleApiCalledType::Error || e.r#type == ConsoleApiCalledType::Assert)
                    .then(|| format!("console error: {:?}", e.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>())),
                Some(e) = log.next() => (e.entry.level == LogEntryLevel::Error)
                    .then(|| format!("log error: {} {}", e.entry.text, e.entry.url.clone().unwrap_or_default())),
                // A request the page itself abandoned (an image replaced while loading) is not a failure.
                Some(e) = failed.next() => (e.canceled != Some(true))
                    .then(|| format!("failed request: {} ({:?})", e.error_text, e.r#type)),
                Some(e) = responses.next() => (e.response.status >= 400)
                    .then(|| format!("HTTP {} for {}", e.response.status, e.response.url)),
                else => break,
            };
            if let Some(problem) = problem {
                p.lock().unwrap().push(problem);
            }
        }
    });
    problems
}

struct Desktop {
    page: Page,
    problems: Problems,
    shots: PathBuf,
    step: usize,
}

impl Desktop {
    async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> T {
        self.page
            .evaluate(js)
            .await
            .unwrap_or_else(|e| panic!("{js}: {e}"))
            .into_value()
            .unwrap_or_else(|e| panic!("{js}: {e}"))
    }

    /// Waits until a JavaScript expression is true (10 s at most).
    async fn until(&self, what: &str, js: &str) {
        for _ in 0..100 {
            if self.page.evaluate(js).await.ok().and_then(|r| r.into_value::<bool>().ok()) == Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shot("timeout").await;
        let problems = self.problems.lock().unwrap().clone();
        panic!("timed out waiting for {what} ({js}); page problems: {problems:?}");
    }

    async fn click(&self, selector: &str) {
        self.until(
            &format!("{selector} to be enabled"),
            &format!(
                "!!document.querySelector({selector:?}) && !document.querySelector({selector:?}).disabled"
            ),
        )
        .await;
        // Live updates re-render parts of the page: an element found a moment ago may be gone.
        let mut last = String::new();
        for _ in 0..20 {
            match self.page.find_element(selector).await {
                Ok(element) => match element.click().await {
                    Ok(_) => return,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot click {selector}: {last}");
    }

    async fn type_into(&self, selector: &str, text: &str) {
        let element = self.page.find_element(selector).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
        element.click().await.unwrap();
        // Input.insertText types any text (accents, emoji) into the focused field, as an IME does.
        self.page.execute(InsertTextParams::new(text)).await.unwrap();
    }

    /// Chooses a file in a file input, as the file picker would.
    async fn choose_file(&self, selector: &str, file: &Path) {
        let mut last = String::new();
        for _ in 0..20 {
            if let Ok(input) = self.page.find_element(selector).await {
                let params = SetFileInputFilesParams::builder()
                    .files(vec![file.display().to_string()])
                    .backend_node_id(input.backend_node_id)
                    .build()
                    .unwrap();
                match self.page.execute(params).await {
                    Ok(_) => return,
                    Err(e) => last = e.to_string(),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot choose a file in {selector}: {last}");
    }

    /// Types into the composer and presses Send.
    async fn send(&self, text: &str) {
        self.type_into("#composer-text", text).await;
        self.click("#send").await;
    }

    async fn press(&self, selector: &str, key: &str) {
        self.page.find_element(selector).await.unwrap().press_key(key).await.unwrap();
    }

    async fn select(&self, selector: &str, option_text: &str) {
        let js = format!(
            "(() => {{ const s = document.querySelector({selector:?}); const o = [...s.options].find(o => o.textContent === {option_text:?}); \
             if (!o) return false; s.value = o.value; s.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }})()"
        );
        assert!(self.eval::<bool>(&js).await, "{selector} has no option {option_text}");
    }

    async fn shot(&self, name: &str) -> PathBuf {
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        let bytes = self
            .page
            .screenshot(ScreenshotParams::builder().format(CaptureScreenshotFormat::Png).build())
            .await
            .unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn step(&mut self, name: &str) -> PathBuf {
        self.step += 1;
        let path = self.shot(name).await;
        self.assert_clean(name);
        path
    }

    fn assert_clean(&self, step: &str) {
        let problems = self.problems.lock().unwrap();
        assert!(problems.is_empty(), "after {step}: {problems:#?}");
    }

    /// Every interactive node of Chromium's accessibility tree has a name.
    async fn assert_every_control_named(&self, step: &str) {
        const INTERACTIVE: [&str; 14] = [
            "button",
            "link",
            "textbox",
            "searchbox",
            "combobox",
            "checkbox",
            "radio",
            "menuitem",
            "tab",
            "slider",
            "switch",
            "listbox",
            "option",
            "spinbutton",
        ];
        let tree = self.page.execute(GetFullAxTreeParams::default()).await.unwrap();
        let mut unnamed = Vec::new();
        let mut controls = 0;
        for node in &tree.result.nodes {
            if node.ignored {
                continue;
            }
            let role = node
                .role
                .as_ref()
                .and_then(|r| r.value.as_ref())
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if !INTERACTIVE.contains(&role) {
                continue;
            }
            controls += 1;
            let name = node
                .name
                .as_ref()
                .and_then(|n| n.value.as_ref())
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if name.trim().is_empty() {
                unnamed.push(format!("{role} (backend node {:?})", node.backend_dom_node_id));
            }
        }
        assert!(controls >= 2, "{step}: the tree has controls ({controls})");
        assert!(unnamed.is_empty(), "{step}: controls without an accessible name: {unnamed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_the_demo_inbox_in_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "NOTICE: the desktop test is skipped: Chromium is not installed (.ci/run installs Debian's chromium)"
        );
        return;
    };
    let (server, link, db) = serve_demo();
    let base = link.split("/#").next().unwrap().to_owned();
    let shots = target_dir().join("desktop-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    let profile =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .window_size(1280, 800)
        .viewport(None)
        .user_data_dir(&profile)
        .args(["--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage", "--lang=en-US"])
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let page = browser.new_page("about:blank").await.unwrap();
    page.execute(SetDeviceMetricsOverrideParams::new(1280, 800, 1.0, false)).await.unwrap();
    let problems = watch(&page).await;
    let mut d = Desktop { page, problems, shots, step: 0 };

    // Sign in by link: the token leaves the address bar and stays in sessionStorage.
    d.page.goto(link.as_str()).await.unwrap();
    d.until("the demo inbox", "document.querySelectorAll('.row').length >= 4").await;
    assert_eq!(d.eval::<String>("location.href").await, format!("{base}/"), "the token left the address bar");
    assert!(d.eval::<bool>("sessionStorage.getItem('parley.token')?.length > 20").await);
    assert_eq!(d.eval::<String>("document.querySelector('#live-state').textContent").await, "Live");
    d.step("inbox").await;
    d.assert_every_control_named("inbox").await;
    // Every chip of a row (SLA, labels, team, assignee, channel) is shown whole: a row with
    // many wraps them onto another line instead of cutting the last one off.
    let clipped = "[...document.querySelectorAll('.row .tags .chip')].filter(c => { \
        const r = c.getBoundingClientRect(), row = c.closest('.row').getBoundingClientRect(); \
        return r.right > row.right + 0.5 || r.bottom > row.bottom + 0.5; }).map(c => c.textContent).join(', ')";
    assert_eq!(d.eval::<String>(clipped).await, "", "chips cut off at the edge of their row");
    let assigned = "[...document.querySelectorAll('.row .tags')].some(t => t.textContent.includes('→'))";
    assert!(
        d.eval::<bool>(assigned).await,
        "a row with an assignee's chip, the last of its chips, was checked"
    );

    // The contact center: today is closed in the demo's hours (the header says when it opens);
    // the admin is online, so the router gave them the oldest of the team's queue up to the
    // capacity, and the rest waits in the queue.
    assert!(
        d.eval::<String>("document.querySelector('#hours-state').textContent").await.starts_with("Closed")
    );
    assert_eq!(d.eval::<String>("document.querySelector('#availability').value").await, "ONLINE");
    d.click("#views button:nth-child(5)").await;
    d.until("the team queue", "document.querySelector('#views button:nth-child(5)').getAttribute('aria-pressed') === 'true' && document.querySelectorAll('.row').length === 2 && [...document.querySelectorAll('.row')].every(r => !r.textContent.includes('→'))").await;
    d.until(
        "the queue's count",
        "document.querySelector('#views button:nth-child(5) .count')?.textContent === '2'",
    )
    .await;
    d.step("team-queue").await;
    d.click("#views button:nth-child(1)").await;
    // SLA due first: the breached ones lead, then Sheena's first response, due within minutes.
    d.select("#order", "SLA due first").await;
    d.until("the SLA order", "document.querySelector('#list').getAttribute('aria-busy') === 'false' && document.querySelector('.row .sla')?.classList.contains('breached') && [...document.querySelectorAll('.row .sla.soon')].length >= 1").await;
    d.step("sla-order").await;
    d.select("#order", "Newest activity").await;
    d.until("the activity order", "document.querySelector('#list').getAttribute('aria-busy') === 'false' && document.querySelector('.row').getAttribute('aria-label').startsWith('Amelia')").await;
    // Sheena wrote while the team was closed: the away reply is a system line, not an agent's.
    d.click(".row[aria-label^='Sheena']").await;
    d.until("the away reply", "document.querySelector('#conv-name')?.textContent === 'Sheena Nelson' && !!document.querySelector('.msg.system')").await;
    assert!(
        d.eval::<String>("document.querySelector('.msg.system').textContent").await.contains("Away reply")
    );
    d.step("away-reply").await;
    d.assert_every_control_named("away reply").await;
    // Busy: no new work from routing.
    d.select("#availability", "● Busy").await;
    d.until("busy", "document.querySelector('#availability').dataset.value === 'BUSY'").await;
    d.until("the toast gone", "!document.querySelector('#toast').classList.contains('shown')").await;
    d.select("#availability", "● Online").await;
    d.until("online", "document.querySelector('#availability').dataset.value === 'ONLINE'").await;
    d.until("the toast gone", "!document.querySelector('#toast').classList.contains('shown')").await;

    // The username-only customer: the notice, and the greyed authentication category with its reason.
    d.click(".row[aria-label^='Carlos']").await;
    d.until("Carlos's conversation", "document.querySelector('#conv-name')?.textContent === 'Carlos'").await;
    assert_eq!(
        d.eval::<String>("document.querySelector('.conv-head .info').getAttribute('aria-label')").await,
        "No phone number provided by user."
    );
    assert!(
        d.eval::<String>("document.querySelector('#panel').textContent")
            .await
            .contains("No phone number provided by user.")
    );
    assert!(
        d.eval::<bool>("[...document.querySelectorAll('.conv-actions button')].some(b => b.textContent === 'Call' && b.disabled && b.title)").await,
        "Call is shown, disabled, with its reason"
    );
    d.until(
        "the row marked read",
        "!document.querySelector(\".row[aria-label^='Carlos']\").classList.contains('unread')",
    )
    .await;
    d.step("username-only-conversation").await;
    d.assert_every_control_named("conversation").await;

    d.click("#templates-button").await;
    d.until("the template picker", "document.querySelector('#dialog').open").await;
    let auth = d
        .eval::<serde_json::Value>(
            "(() => { const g = document.querySelector('.template-group[data-category=AUTHENTICATION]'); const b = g.querySelector('button.template'); \
             return { why: g.querySelector('.why').textContent, disabled: b.disabled, struck: getComputedStyle(b.querySelector('strong')).textDecorationLine, \
             described: document.getElementById(b.getAttribute('aria-describedby'))?.textContent }; })()",
        )
        .await;
    // The desktop words the denial from its code (`PHONE_REQUIRED`), not the server's English.
    assert_eq!(auth["why"], "Needs the customer's phone number: ask them to share it.", "{auth}");
    assert_eq!(auth["disabled"], true, "{auth}");
    assert_eq!(auth["struck"], "line-through", "{auth}");
    assert_eq!(auth["described"], auth["why"], "the reason is the button's accessible description: {auth}");
    assert!(
        d.eval::<bool>(
            "!document.querySelector('.template-group[data-category=UTILITY] button.template[data-name=order_update]').disabled"
        )
        .await
    );
    // WhatsApp's review: a paused template is greyed with its status as the reason, a template
    // in review likewise; each shows its quality.
    let paused = d
        .eval::<serde_json::Value>(
            "(() => { const b = document.querySelector('button.template[data-name=winter_clearance]');              return { disabled: b.disabled, chip: b.querySelector('.chip.status-paused')?.textContent,              quality: b.querySelector('.chip.quality-red')?.textContent,              described: document.getElementById(b.getAttribute('aria-describedby'))?.textContent,              card: getComputedStyle(b).textDecorationLine, name: getComputedStyle(b.querySelector('strong')).textDecorationLine }; })()",
        )
        .await;
    assert_eq!(paused["disabled"], true, "{paused}");
    assert_eq!(paused["chip"], "Paused", "{paused}");
    assert_eq!(paused["quality"], "Low quality", "{paused}");
    assert_eq!(paused["described"], "This template is not approved by WhatsApp (PAUSED).", "{paused}");
    // Its name is struck through, the card is not: a decoration on the card would strike the
    // reason too, and a child cannot switch it off.
    assert_eq!(paused["name"], "line-through", "{paused}");
    assert_eq!(paused["card"], "none", "{paused}");
    assert!(
        d.eval::<bool>(
            "document.querySelector('button.template[data-name=delivery_survey]').disabled              && document.querySelector('button.template[data-name=spring_sale] .chip.quality-green') !== null"
        )
        .await
    );
    d.step("template-picker").await;
    d.assert_every_control_named("template picker").await;
    d.press("#dialog", "Escape").await;
    d.until("the picker closed", "!document.querySelector('#dialog').open").await;

    // Lena's window closes within the workspace's warning: the countdown is a warning.
    d.click(".row[aria-label^='Lena']").await;
    d.until("Lena's conversation", "document.querySelector('#conv-name')?.textContent === 'Lena Fischer'")
        .await;
    let window = d
        .eval::<serde_json::Value>(
            "(() => { const w = document.querySelector('#window'); return { warning: w.classList.contains('closing'), role: w.getAttribute('role'), text: w.textContent }; })()",
        )
        .await;
    assert_eq!(window["warning"], true, "{window}");
    assert_eq!(window["role"], "alert", "{window}");
    assert!(window["text"].as_str().unwrap().contains("reply now"), "{window}");
    d.step("window-warning").await;
    d.click(".row[aria-label^='Carlos']").await;
    d.until("Carlos's conversation again", "document.querySelector('#conv-name')?.textContent === 'Carlos'")
        .await;

    // The customer writes again: the message appears without a reload, and the window opens.
    d.eval::<bool>("(() => { window.__sameDocument = true; return true; })()").await;
    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["simulate", "--url", &base, "--database-url", &db])
        .args([
            "--username",
            "@carlos_mx",
            "--name",
            "Carlos",
            "Hola otra vez: ¿cuánto tarda el envío a Monterrey?",
        ])
        .env_remove("PARLEY_SECRET_KEY")
        .env_remove("PARLEY_WHATSAPP_APP_SECRET")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    d.until("the inbound message, live", "[...document.querySelectorAll('.msg.INBOUND')].some(m => m.textContent.includes('cuánto tarda el envío'))").await;
    assert!(d.eval::<bool>("window.__sameDocument === true").await, "no reload");
    // The team is closed (the demo's hours): the row's preview is the away reply that followed.
    d.until("the row's preview", "document.querySelector(\".row[aria-label^='Carlos'] .preview\").textContent.startsWith('Away reply: Thanks for writing')").await;
    d.until("the composer enabled", "!document.querySelector('#composer-text').disabled").await;
    d.until(
        "his away reply, live",
        "[...document.querySelectorAll('.msg.system')].some(m => m.textContent.includes('closed today'))",
    )
    .await;
    d.step("inbound-live").await;

    // A reply, with its tick.
    d.send("¡Sí! Enviamos a todo México.").await;
    d.until(
        "the reply with a tick",
        "[...document.querySelectorAll('.msg.OUTBOUND')].some(m => m.textContent.includes('Enviamos a todo') && ['SENT','DELIVERED','READ'].includes(m.dataset.status) && m.querySelector('.ticks'))",
    )
    .await;
    d.step("reply-sent").await;

    // A saved answer by `/`, then a note.
    d.type_into("#composer-text", "/ret").await;
    d.until("the saved answers", "document.querySelectorAll('#canned-list [role=option]').length === 1")
        .await;
    d.press("#composer-text", "Enter").await;
    d.until(
        "the saved answer inserted",
        "document.querySelector('#composer-text').value.startsWith('You can return any item')",
    )
    .await;
    d.eval::<bool>("(() => { document.querySelector('#composer-text').value = ''; return true; })()").await;
    d.click(".modes button:nth-child(2)").await;
    d.send("Asked about shipping to Monterrey: check the carrier.").await;
    d.until("the note", "[...document.querySelectorAll('.msg.INTERNAL')].some(m => m.textContent.includes('check the carrier'))").await;
    d.step("note-added").await;
    d.click(".modes button:nth-child(1)").await;

    // A label.
    d.select("#add-label", "VIP").await;
    d.until("the VIP chip", "document.querySelector('#labels').textContent.includes('VIP')").await;
    d.until(
        "the row's chip",
        "document.querySelector(\".row[aria-label^='Carlos'] .tags\").textContent.includes('VIP')",
    )
    .await;
    d.step("label-applied").await;

    // Upload an image and send it.
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parcel.png");
    d.choose_file("#composer-file", &photo).await;
    d.until("the attachment", "document.querySelector('.attached')?.textContent.includes('parcel.png')")
        .await;
    d.send("Así llega el paquete").await;
    d.until(
        "the image shown through its signed link",
        "[...document.querySelectorAll('.msg.OUTBOUND img')].some(i => i.complete && i.naturalWidth > 0 && i.src.includes('/media/') && i.src.includes('sig='))",
    )
    .await;
    d.step("image-sent").await;

    // Link to existing: search as you type.
    d.click("#link-existing").await;
    d.until("the contact search", "!!document.querySelector('#contact-search')").await;
    d.type_into("#contact-search", "Amel").await;
    d.until("Amelia in the results", "[...document.querySelectorAll('#contact-results button')].some(b => b.textContent.includes('Amelia Hart'))").await;
    d.step("link-to-existing").await;
    d.assert_every_control_named("link dialog").await;
    d.click("#contact-results button").await;
    d.until(
        "the linked contact",
        "document.querySelector('#contact-card')?.textContent.includes('Amelia Hart')",
    )
    .await;
    d.until("the toast gone", "!document.querySelector('#toast').classList.contains('shown')").await;
    let shot = d.step("contact-linked").await;
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/desktop.png")).unwrap();
    }

    // The keyboard: j/k move, Enter opens, e resolves, ? lists the shortcuts, Esc closes.
    d.eval::<bool>("(() => { document.activeElement.blur(); return true; })()").await;
    d.press("body", "j").await;
    d.press("body", "k").await;
    d.until("a selected row", "!!document.querySelector('.row.selected')").await;
    d.press(".row.selected", "Enter").await;
    d.until(
        "the selected conversation open",
        "document.querySelector('.row.selected')?.getAttribute('aria-current') === 'true' && !!document.querySelector('.conv-actions')",
    )
    .await;
    d.eval::<bool>("(() => { document.activeElement.blur(); return true; })()").await;
    d.press("body", "e").await;
    d.until("resolved", "document.querySelector('.conv-actions button')?.textContent === 'Reopen'").await;
    d.press("body", "?").await;
    d.until("the shortcuts", "document.querySelector('#dialog').open && document.querySelector('#dialog').textContent.includes('Resolve')").await;
    d.step("shortcuts").await;
    d.press("#dialog", "Escape").await;
    d.until("closed", "!document.querySelector('#dialog').open").await;

    // A new conversation by phone, with a template; then Create contact on it.
    d.click("#new-conversation").await;
    d.until(
        "the new-conversation dialog",
        "document.querySelector('#dialog').open && !!document.querySelector('#start-phone')",
    )
    .await;
    d.type_into("#start-phone", "+14155550199").await;
    d.select("#start-template", "order_update (utility, en_US)").await;
    d.until("its parameters", "document.querySelectorAll('#dialog .template-param').length === 2").await;
    d.eval::<bool>(
        "(() => { const [a, b] = document.querySelectorAll('#dialog .template-param'); a.value = '4471'; b.value = 'tomorrow'; return true; })()",
    )
    .await;
    d.assert_every_control_named("new conversation").await;
    d.click("#dialog footer .primary").await;
    d.until(
        "the started conversation with its template",
        "!document.querySelector('#dialog').open && [...document.querySelectorAll('.msg.OUTBOUND .template-tag')].some(t => t.textContent.includes('order_update'))",
    )
    .await;
    d.click("#create-contact").await;
    d.until("the contact form", "!!document.querySelector('#contact-name')").await;
    d.eval::<bool>("(() => { document.querySelector('#contact-name').value = ''; return true; })()").await;
    d.type_into("#contact-name", "Ana Ruiz").await;
    d.type_into("#contact-email", "ana@example.com").await;
    d.click("#dialog footer .primary").await;
    d.until(
        "the created contact",
        "document.querySelector('#contact-card')?.textContent.includes('Ana Ruiz')",
    )
    .await;
    d.until("the row renamed live", "!!document.querySelector(\".row[aria-label^='Ana Ruiz']\")").await;
    d.step("new-conversation-and-contact").await;

    // Reports (admins): the table and its chart, by day and by agent.
    d.click("#reports-button").await;
    d.until(
        "the report by day",
        "document.querySelector('#dialog').open && document.querySelectorAll('.report-table tbody tr').length >= 7",
    )
    .await;
    let report = d
        .eval::<serde_json::Value>(
            "(() => ({ bars: document.querySelectorAll('#report-result svg rect.bar').length,              opened: [...document.querySelectorAll('.report-table tbody tr')].reduce((n, r) => n + Number(r.children[1].textContent), 0),              head: document.querySelector('.report-table thead th').textContent }))()",
        )
        .await;
    assert!(report["bars"].as_u64().unwrap() >= 14, "two bars a day: {report}");
    assert!(report["opened"].as_u64().unwrap() >= 5, "the demo's conversations of the week: {report}");
    assert_eq!(report["head"], "Day", "{report}");
    d.select("#report-group", "Agent").await;
    d.until(
        "the report by agent",
        "document.querySelector('.report-table thead th')?.textContent === 'Agent' && [...document.querySelectorAll('.report-table tbody th')].some(t => t.textContent === 'Unassigned')",
    )
    .await;
    d.assert_every_control_named("reports").await;
    d.step("reports").await;
    d.press("#dialog", "Escape").await;
    d.until("the reports closed", "!document.querySelector('#dialog').open").await;

    // One pane under 800 px.
    d.page.execute(SetDeviceMetricsOverrideParams::new(700, 800, 1.0, true)).await.unwrap();
    d.until("one pane", "getComputedStyle(document.querySelector('.inbox')).display === 'none' || getComputedStyle(document.querySelector('#conversation')).display === 'none'").await;
    d.step("narrow").await;

    d.assert_clean("the whole session");
    browser.close().await.ok();
    browser.wait().await.ok();
    events.abort();
    drop(server);
    let _ = std::fs::remove_dir_all(profile);
}
