//! Cutting the quoted history from below a reply, in plain text. A mail
//! client quotes the earlier message under a line that introduces it ("On
//! Monday, Ada wrote:", "-----Original Message-----", an Outlook "From: /
//! Sent:" block) or as a run of `>` lines; everything from there down is
//! history the ticket already has. A forwarded message is not history: it
//! is what the sender means to send.

/// The new text and the quoted history below it. When the message is
/// nothing but a quote (or the cut would leave nothing), all of it counts
/// as new, so no words are lost.
pub fn split_quoted_text(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let cut = (0..lines.len())
        .find(|&at| introduces_quote(&lines, at))
        .or_else(|| trailing_quote_start(&lines));
    match cut {
        Some(at) => {
            let reply = lines[..at].join("\n").trim_end().to_owned();
            if reply.trim().is_empty() {
                (text.trim_end().to_owned(), String::new())
            } else {
                (reply, lines[at..].join("\n").trim().to_owned())
            }
        }
        None => (text.trim_end().to_owned(), String::new()),
    }
}

/// The verb of a quote introduction in common languages ("On …, Ada
/// wrote:", "Am … schrieb Ada:").
const WROTE: [&str; 8] = [
    "wrote",
    "a écrit",
    "schrieb",
    "escribió",
    "scrisse",
    "schreef",
    "написал",
    "kirjoitti",
];

/// Words that start one.
const INTRODUCTION_STARTS: [&str; 7] = ["On ", "Le ", "Am ", "El ", "Il ", "Op ", "В "];

/// Whether the line at `at` starts the quoted history.
fn introduces_quote(lines: &[&str], at: usize) -> bool {
    let line = lines[at].trim();
    if line.is_empty() {
        return false;
    }
    let lower = line.to_lowercase();
    if lower.contains("forwarded message") || lower.starts_with("begin forwarded message") {
        return false;
    }
    if lower.starts_with("-----original message-----")
        || lower.starts_with("-----ursprüngliche nachricht-----")
        || lower.starts_with("-----message d'origine-----")
    {
        return true;
    }
    // "On Mon, 3 Nov 2026, Ada <a@example.org> wrote:", also wrapped over
    // two lines.
    if INTRODUCTION_STARTS
        .iter()
        .any(|start| line.starts_with(start))
    {
        let joined = match lines.get(at + 1) {
            Some(next) if !line_ends_introduction(line) => format!("{line} {}", next.trim()),
            _ => line.to_owned(),
        };
        if line_ends_introduction(&joined) {
            return true;
        }
    }
    // Outlook: a rule of underscores, or a blank line, then "From:" with
    // "Sent:"/"Date:" and "Subject:" right below.
    let is_rule = line.len() >= 20 && line.chars().all(|character| character == '_');
    let header_start = if is_rule { at + 1 } else { at };
    let starts_header_block = lines
        .get(header_start)
        .is_some_and(|first| header_name(first, &["from:", "von:", "de :", "de:"]));
    if starts_header_block && (is_rule || at == 0 || lines[at - 1].trim().is_empty()) {
        let block = &lines[header_start..lines.len().min(header_start + 6)];
        let has_sent = block.iter().any(|line| {
            header_name(
                line,
                &["sent:", "date:", "gesendet:", "envoyé :", "envoyé:"],
            )
        });
        let has_subject = block
            .iter()
            .any(|line| header_name(line, &["subject:", "betreff:", "objet :", "objet:"]));
        return has_sent && has_subject;
    }
    false
}

/// Whether a line (starting like an introduction) ends one: a colon at
/// the end and the verb in it.
fn line_ends_introduction(line: &str) -> bool {
    let lower = line.trim_end().to_lowercase();
    lower.ends_with(':') && WROTE.iter().any(|wrote| lower.contains(wrote))
}

fn header_name(line: &str, names: &[&str]) -> bool {
    let lower = line.trim_start().trim_start_matches('*').to_lowercase();
    names.iter().any(|name| lower.starts_with(name))
}

/// Where a run of `>` lines (blank lines allowed) that lasts to the end of
/// the message starts.
fn trailing_quote_start(lines: &[&str]) -> Option<usize> {
    let mut start = None;
    for (at, line) in lines.iter().enumerate().rev() {
        let trimmed = line.trim();
        if trimmed.starts_with('>') {
            start = Some(at);
        } else if !trimmed.is_empty() {
            break;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_introductions_cut_the_history() {
        let (reply, quoted) = split_quoted_text(
            "Thanks, that fixed it.\n\nOn Mon, 3 Nov 2026 at 10:02, Ada Agent <support@example.org>\nwrote:\n> Could you restart it?\n",
        );
        assert_eq!(reply, "Thanks, that fixed it.");
        assert!(quoted.contains("Could you restart it?"));
    }

    #[test]
    fn outlook_blocks_and_separators_cut_the_history() {
        let (reply, _) = split_quoted_text(
            "Here it is.\n\n________________________________\nFrom: Ada Agent\nSent: Monday\nTo: Ines\nSubject: RE: Printer\n\nOld text",
        );
        assert_eq!(reply, "Here it is.");
        let (reply, _) =
            split_quoted_text("Done.\n-----Original Message-----\nFrom: Ada\nOld text");
        assert_eq!(reply, "Done.");
        let (reply, _) = split_quoted_text(
            "Bitte sehr.\n\nAm 03.11.2026 um 10:02 schrieb Ada Agent <support@example.org>:\n> Alt",
        );
        assert_eq!(reply, "Bitte sehr.");
    }

    #[test]
    fn inline_answers_forwards_and_plain_quotes_stay() {
        let inline = "> Is it on?\nYes.\n> Which model?\nThe P-100.";
        assert_eq!(split_quoted_text(inline).0, inline);
        let forwarded = "See below.\n\n---------- Forwarded message ---------\nFrom: Bo <bo@example.org>\nDate: Monday\nSubject: Broken\n\nIt is broken.";
        assert_eq!(split_quoted_text(forwarded).0, forwarded);
        let only_quote = "> a\n> b";
        assert_eq!(
            split_quoted_text(only_quote).0,
            only_quote,
            "nothing is lost"
        );
        let (reply, quoted) = split_quoted_text("Yes.\n\n> old one\n>\n> old two\n");
        assert_eq!(
            (reply.as_str(), quoted.as_str()),
            ("Yes.", "> old one\n>\n> old two")
        );
    }
}
