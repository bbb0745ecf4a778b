//! A small client for the W3C WebDriver protocol, driving Debian's headless
//! Chromium through chromedriver. The protocol is a handful of JSON calls;
//! speaking it over the reqwest client the tests already use keeps a second
//! HTTP stack (and its TLS dependencies) out of the build.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::skip;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

pub struct Browser {
    driver: Child,
    endpoint: String,
    session: String,
    http: reqwest::Client,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` (after printing
    /// why) when they are not installed outside CI.
    pub async fn launch() -> Option<Browser> {
        for program in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(program).exists() {
                skip(&format!(
                    "{program} is not installed (apt-get install chromium chromium-driver)"
                ));
                return None;
            }
        }
        // Port 0: the system picks a free one and chromedriver names it, so
        // two tests never race for a port released between probe and use.
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let stdout = driver.stdout.take().expect("chromedriver's output");
        let mut lines = BufReader::new(stdout).lines();
        // "ChromeDriver was started successfully on port 43975."
        let started = tokio::time::timeout(STARTUP_LIMIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("started successfully") {
                    return line
                        .rsplit("on port ")
                        .next()
                        .and_then(|rest| rest.trim().trim_end_matches('.').parse::<u16>().ok());
                }
            }
            None
        })
        .await;
        let Ok(Some(port)) = started else {
            panic!("chromedriver did not start, or did not say on which port");
        };
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile =
            std::env::temp_dir().join(format!("ferrodesk-chromium-{}", crate::random_suffix()));
        let http = reqwest::Client::new();
        let endpoint = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    "--disable-sync", "--disable-quic", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let answer: Value = http
            .post(format!("{endpoint}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("create a WebDriver session")
            .json()
            .await
            .expect("a WebDriver answer");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        Some(Browser {
            driver,
            endpoint,
            session,
            http,
            profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err((error, message)) => panic!("WebDriver {path}: {error}: {message}"),
        }
    }

    /// One WebDriver command: its value, or its error and message.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, Value)> {
        let url = format!("{}/session/{}{path}", self.endpoint, self.session);
        let request = self.http.request(method, url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver call")
            .json()
            .await
            .expect("WebDriver JSON");
        match answer["value"]["error"].as_str() {
            Some(error) => Err((error.to_owned(), answer["value"]["message"].clone())),
            None => Ok(answer["value"].clone()),
        }
    }

    /// Runs a command on the element `css` names. While a page is still
    /// being replaced after a click, the element may be missing or belong to
    /// the page going away; such commands are retried for a few seconds.
    async fn on_element(
        &self,
        css: &str,
        method: reqwest::Method,
        command: &str,
        body: Option<Value>,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let attempt = async {
                let found = self
                    .try_call(
                        reqwest::Method::POST,
                        "/element",
                        Some(json!({"using": "css selector", "value": css})),
                    )
                    .await?;
                let element = found[ELEMENT_KEY].as_str().unwrap_or_default().to_owned();
                self.try_call(
                    method.clone(),
                    &format!("/element/{element}{command}"),
                    body.clone(),
                )
                .await
            };
            match attempt.await {
                Ok(value) => return value,
                Err((error, _))
                    if Instant::now() < deadline
                        && (error == "no such element" || error == "stale element reference") =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err((error, message)) => panic!("WebDriver element {css}: {error}: {message}"),
            }
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(
            css,
            reqwest::Method::POST,
            "/value",
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, reqwest::Method::POST, "/click", Some(json!({})))
            .await;
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.on_element(css, reqwest::Method::GET, "/text", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page's URL satisfies `expected` (after a form submit
    /// the browser navigates on its own time).
    pub async fn wait_for_url(&self, expected: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.current_url().await;
            if expected(&url) || Instant::now() > deadline {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets the size of the browser window, as a screen of that size would.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Runs `script` (a function body; `return` gives the answer) in the
    /// page and answers what it returned.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Pages from now on see the system preferring a dark theme
    /// (Chromium's DevTools command, through chromedriver).
    pub async fn prefer_dark(&self) {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            })),
        )
        .await;
    }

    /// Runs axe-core (the accessibility engine, installed from the npm
    /// registry into `scripts/axe` by `./scripts/test`) on the page and
    /// answers its serious and critical violations, one line each: the
    /// rule, its impact and the first offending elements. `None` (after
    /// printing why) when axe-core is not installed outside CI.
    pub async fn accessibility_violations(&self) -> Option<Vec<String>> {
        let engine = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts/axe/node_modules/axe-core/axe.min.js");
        let Ok(source) = std::fs::read_to_string(&engine) else {
            skip("axe-core is not installed (npm ci --prefix scripts/axe)");
            return None;
        };
        // Loaded through WebDriver, so the page's strict CSP does not apply.
        self.script(&format!("{source}\nreturn typeof axe;")).await;
        let report = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({
                    "script": "const done = arguments[arguments.length - 1];\
                        axe.run(document, {resultTypes: ['violations']})\
                          .then(result => done(result.violations))\
                          .catch(error => done([{id: 'axe-failed', impact: 'critical', help: String(error), nodes: []}]));",
                    "args": [],
                })),
            )
            .await;
        let violations = report
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("axe-core answered no list: {report}"));
        Some(
            violations
                .iter()
                .filter(|violation| {
                    matches!(violation["impact"].as_str(), Some("serious" | "critical"))
                })
                .map(|violation| {
                    let targets: Vec<String> = violation["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .take(3)
                        .map(|node| node["target"].to_string())
                        .collect();
                    format!(
                        "{} ({}): {} at {}",
                        violation["id"].as_str().unwrap_or("?"),
                        violation["impact"].as_str().unwrap_or("?"),
                        violation["help"].as_str().unwrap_or("?"),
                        targets.join(", ")
                    )
                })
                .collect(),
        )
    }

    /// Saves what the window shows as a PNG file, for people to look at.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = decode_base64(encoded.as_str().unwrap_or_default());
        std::fs::write(path, bytes).expect("write the screenshot");
    }

    /// Ends the browser session and chromedriver.
    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.endpoint, self.session))
            .send()
            .await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (what WebDriver sends screenshots in), without a crate
/// for twenty lines.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for sixbits in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | u32::from(sixbits);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    bytes
}
