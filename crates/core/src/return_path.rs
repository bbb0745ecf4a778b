/// A place to send someone back to after they log in: only a path on this
/// site, normalised (dot segments resolved) before it is checked. Anything
/// that a browser could read as another origin (`//evil`, `/\evil`,
/// `https://…`, control characters) or that could turn into one once
/// decoded (`%2f`, `%5c`, `%2e`) is refused, which closes the
/// open-redirect hole that login pages are known for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath(String);

const MAX_RETURN_PATH_LENGTH: usize = 2000;

impl ReturnPath {
    /// A local path, normalised: its dot segments resolved (`/a/./b/../c`
    /// is `/a/c`) so that what is checked is where a browser would go.
    /// Refused: anything not starting with one `/`, an empty segment
    /// (`//`) anywhere in the path, a backslash, control characters or
    /// whitespace, encoded slashes, backslashes or dots (`%2f`, `%5c`,
    /// `%2e`, which servers and browsers may decode later), and dot
    /// segments that climb above the root.
    pub fn parse(input: &str) -> Option<ReturnPath> {
        let acceptable = input.len() <= MAX_RETURN_PATH_LENGTH
            && input.starts_with('/')
            && !input.contains('\\')
            && !input.chars().any(|c| c.is_control() || c.is_whitespace());
        if !acceptable {
            return None;
        }
        let split = input.find(['?', '#']).unwrap_or(input.len());
        let (path, rest) = input.split_at(split);
        let lowered = path.to_ascii_lowercase();
        if path.contains("//")
            || ["%2f", "%5c", "%2e"]
                .iter()
                .any(|code| lowered.contains(code))
        {
            return None;
        }
        let mut segments: Vec<&str> = Vec::new();
        let mut parts = path[1..].split('/').peekable();
        while let Some(segment) = parts.next() {
            let last = parts.peek().is_none();
            match segment {
                "." => {
                    if last {
                        segments.push("");
                    }
                }
                ".." => {
                    segments.pop()?;
                    if last {
                        segments.push("");
                    }
                }
                other => segments.push(other),
            }
        }
        let normalised = format!("/{}{rest}", segments.join("/"));
        (!normalised.starts_with("//")).then_some(ReturnPath(normalised))
    }

    /// Like `parse`, but only accepts paths under `prefix` (for example
    /// `/agent`), so a staff login never sends someone into the help center.
    pub fn parse_under(input: &str, prefix: &str) -> Option<ReturnPath> {
        let path = ReturnPath::parse(input)?;
        let rest = path.0.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with(['/', '?', '#'])).then_some(path)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_accepted() {
        assert!(ReturnPath::parse("/agent/tickets?page=2").is_some());
        for bad in [
            "",
            "agent",
            "//evil.example",
            "/\\evil.example",
            "/agent\\..\\x",
            "https://evil.example/",
            "/agent\r\nLocation: x",
            "/a b",
            "javascript:alert(1)",
            "/agent/../..//evil.example",
            "/agent//evil.example",
            "/agent/..%2f..%2fevil.example",
            "/agent/%2E%2E/x",
            "/agent/%5cevil",
            "/..",
            "/agent/../../x",
        ] {
            assert!(ReturnPath::parse(bad).is_none(), "accepted {bad:?}");
        }
        // Dot segments are resolved before anything is checked.
        let normalised = |text: &str| ReturnPath::parse(text).map(|path| path.as_str().to_owned());
        assert_eq!(
            normalised("/agent/./tickets/../people?q=a/../b").as_deref(),
            Some("/agent/people?q=a/../b")
        );
        assert_eq!(normalised("/agent/tickets/..").as_deref(), Some("/agent/"));
        assert_eq!(normalised("/").as_deref(), Some("/"));
        assert_eq!(normalised("/agent/../admin").as_deref(), Some("/admin"));
    }

    #[test]
    fn a_prefix_limits_where_a_return_path_may_lead() {
        assert!(ReturnPath::parse_under("/agent", "/agent").is_some());
        assert!(ReturnPath::parse_under("/agent/x", "/agent").is_some());
        assert!(ReturnPath::parse_under("/agentx", "/agent").is_none());
        assert!(ReturnPath::parse_under("/admin", "/agent").is_none());
        assert!(ReturnPath::parse_under("/agent/../tickets", "/agent").is_none());
        assert!(ReturnPath::parse_under("/agent/../agent/x", "/agent").is_some());
    }
}
