//! The corpus of real-world-shaped messages in `tests/corpus/`: each
//! `NAME.eml` is read and compared with `NAME.expected.json`.

use std::path::Path;

use super::*;

fn corpus() -> Vec<(String, Vec<u8>, serde_json::Value)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "eml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let expected = folder.join(format!("{name}.expected.json"));
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
            found.push((name, std::fs::read(&path).unwrap(), expected));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_corpus_message_reads_as_expected() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 30,
        "the corpus has {} messages",
        corpus.len()
    );
    let mut problems = Vec::new();
    for (name, raw, expected) in &corpus {
        let message = match parse_inbound(raw) {
            Ok(message) => message,
            Err(error) => {
                problems.push(format!("{name}: {error}"));
                continue;
            }
        };
        let mut check = |what: &str, ok: bool, detail: String| {
            if !ok {
                problems.push(format!("{name}: {what}: {detail}"));
            }
        };
        let from = message.from.clone().unwrap_or(MailPerson {
            address: String::new(),
            name: None,
        });
        check(
            "from",
            from.address.to_lowercase() == expected["from_address"].as_str().unwrap_or(""),
            from.address.clone(),
        );
        check(
            "from name",
            from.name.as_deref() == expected["from_name"].as_str(),
            format!("{:?}", from.name),
        );
        check(
            "subject",
            message.subject == expected["subject"].as_str().unwrap_or(""),
            message.subject.clone(),
        );
        check(
            "message id",
            message.message_id.as_deref() == expected["message_id"].as_str(),
            format!("{:?}", message.message_id),
        );
        check(
            "in-reply-to",
            message.in_reply_to == strings(&expected["in_reply_to"]),
            format!("{:?}", message.in_reply_to),
        );
        check(
            "references",
            message.references == strings(&expected["references"]),
            format!("{:?}", message.references),
        );
        let cc: Vec<String> = message
            .cc
            .iter()
            .map(|person| person.address.to_lowercase())
            .collect();
        check("cc", cc == strings(&expected["cc"]), format!("{cc:?}"));
        for wanted in strings(&expected["reply_contains"]) {
            check(
                "reply text",
                message.reply_text.contains(&wanted),
                format!("{wanted:?} not in {:?}", message.reply_text),
            );
        }
        for unwanted in strings(&expected["reply_excludes"]) {
            check(
                "quoted history",
                !message.reply_text.contains(&unwanted),
                format!("{unwanted:?} in {:?}", message.reply_text),
            );
            if let Some(html) = &message.html {
                check(
                    "quoted history in html",
                    !html.reply_html.contains(&unwanted),
                    format!("{unwanted:?} in the HTML"),
                );
            }
        }
        let files: Vec<(String, String)> = message
            .attachments
            .iter()
            .map(|file| (file.file_name.clone(), file.content_type.clone()))
            .collect();
        let wanted_files: Vec<(String, String)> = expected["attachments"]
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .map(|file| {
                        (
                            file["name"].as_str().unwrap_or("").to_owned(),
                            file["content_type"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        check("attachments", files == wanted_files, format!("{files:?}"));
        check(
            "automatic",
            message.automatic.map(Automatic::key) == expected["automatic"].as_str(),
            format!("{:?}", message.automatic),
        );
        let bounce = expected["bounce"].as_bool().unwrap_or(false);
        check(
            "bounce",
            message.bounce.is_some() == bounce,
            format!("{:?}", message.bounce),
        );
        if let Some(original) = expected
            .get("bounce_original_message_id")
            .and_then(|id| id.as_str())
        {
            check(
                "bounced message",
                message.bounce.as_ref().is_some_and(|bounce| {
                    bounce.original_message_ids.iter().any(|id| id == original)
                }),
                format!("{:?}", message.bounce),
            );
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn garbage_and_oversized_input_is_refused_or_harmless() {
    assert_eq!(
        parse_inbound(&vec![b'x'; MAX_INBOUND_BYTES + 1]).unwrap_err(),
        InboundError::TooLarge
    );
    for garbage in [&b""[..], b"\0\0\0", b"not a mail at all", b"\xff\xfe\xfd"] {
        if let Ok(message) = parse_inbound(garbage) {
            assert!(message.from.is_none());
        }
    }
    // Deep nesting does not take the parser down.
    let mut deep =
        String::from("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
    for level in 1..200 {
        deep.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n",
            level - 1
        ));
    }
    let _ = parse_inbound(deep.as_bytes());
}

#[test]
fn precedence_from_a_built_message() {
    let raw = "From: news@example.com\r\nTo: help@example.org\r\nSubject: Our newsletter\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nPrecedence: bulk\r\n\r\nDeals!\r\n";
    let message = parse_inbound(raw.as_bytes()).unwrap();
    assert_eq!(message.automatic, Some(Automatic::Precedence));
}
