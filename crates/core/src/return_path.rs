/// A place to send someone back to after they log in: only a path on this
/// site. Anything that a browser could read as another origin (`//evil`,
/// `/\evil`, `https://…`, control characters) is refused, which closes the
/// open-redirect hole that login pages are known for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath(String);

const MAX_RETURN_PATH_LENGTH: usize = 2000;

impl ReturnPath {
    pub fn parse(input: &str) -> Option<ReturnPath> {
        let bytes = input.as_bytes();
        let acceptable = input.len() <= MAX_RETURN_PATH_LENGTH
            && bytes.first() == Some(&b'/')
            && !matches!(bytes.get(1), Some(b'/') | Some(b'\\'))
            && !input.contains('\\')
            && !input.chars().any(|c| c.is_control() || c.is_whitespace());
        acceptable.then(|| ReturnPath(input.to_owned()))
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
        ] {
            assert!(ReturnPath::parse(bad).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_prefix_limits_where_a_return_path_may_lead() {
        assert!(ReturnPath::parse_under("/agent", "/agent").is_some());
        assert!(ReturnPath::parse_under("/agent/x", "/agent").is_some());
        assert!(ReturnPath::parse_under("/agentx", "/agent").is_none());
        assert!(ReturnPath::parse_under("/admin", "/agent").is_none());
    }
}
