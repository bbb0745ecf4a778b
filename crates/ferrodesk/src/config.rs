//! What Ferrodesk needs to boot: read from an optional `ferrodesk.toml`, then
//! from `FERRODESK_*` environment variables, which win. Everything else is a
//! runtime setting in the database. A bad value names its setting.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferrodesk_app::{InstanceKey, SmtpConfig};
use ipnet::IpNet;
use serde::Deserialize;

pub const DEFAULT_CONFIG_FILE: &str = "ferrodesk.toml";
const KEY_FILE_NAME: &str = "secret.key";
const DATABASE_FILE_NAME: &str = "ferrodesk.db";

/// The settings file; every key is optional and the environment overrides it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    trusted_proxies: Option<ProxyList>,
    admin_allow: Option<ProxyList>,
    agent_allow: Option<ProxyList>,
    webhook_allow: Option<ProxyList>,
    secret_key: Option<String>,
    secret_key_file: Option<PathBuf>,
    smtp_url: Option<String>,
    workers: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ProxyList {
    Text(String),
    List(Vec<String>),
}

/// A configuration problem: which setting, and what is wrong with it.
#[derive(Debug)]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.setting, self.problem)
    }
}

#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: String,
    pub trusted_proxies: Vec<IpNet>,
    /// `FERRODESK_ADMIN_ALLOW`: addresses that may reach the admin interface
    /// (empty: any). Configuration, not a setting, so nobody can lock
    /// everyone out from inside.
    pub admin_allow: Vec<IpNet>,
    /// `FERRODESK_AGENT_ALLOW`: addresses that may reach the staff interface.
    pub agent_allow: Vec<IpNet>,
    /// `FERRODESK_WEBHOOK_ALLOW`: internal addresses webhooks may reach
    /// anyway (configuration only, never the admin interface).
    pub webhook_allow: Vec<IpNet>,
    /// `FERRODESK_SMTP_URL`: the mail server, instead of the admin's settings.
    pub smtp: Option<SmtpConfig>,
    /// `FERRODESK_WORKERS`: background jobs run at once on this node.
    pub workers: usize,
    /// `FERRODESK_BENCH_BASELINE_BYTES`: serve `/bench/baseline`, a static
    /// page of this many bytes, as the benchmark's baseline (off unless set).
    pub bench_baseline_bytes: Option<usize>,
    key_source: KeySource,
}

/// Background jobs run at once per node unless configured.
pub const DEFAULT_WORKERS: usize = 4;
const MAX_WORKERS: usize = 256;

#[derive(Debug)]
enum KeySource {
    Inline(&'static str, ferrodesk_core::Secret),
    File(&'static str, PathBuf),
    Generated,
}

/// Where a value came from, for error messages.
struct Source<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Source<'_> {
    fn pick<T>(
        &self,
        variable: &'static str,
        from_file: Option<T>,
        parse: impl Fn(String) -> T,
    ) -> Option<(String, T)> {
        match (self.env)(variable) {
            Some(value) => Some((variable.to_owned(), parse(value))),
            None => from_file.map(|value| {
                (
                    format!("{} in {DEFAULT_CONFIG_FILE}", setting_key(variable)),
                    value,
                )
            }),
        }
    }
}

fn setting_key(variable: &str) -> String {
    variable.trim_start_matches("FERRODESK_").to_lowercase()
}

impl Config {
    /// Loads the configuration. `file` is the settings file to read: when it
    /// was named explicitly it must exist; the default one is optional.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file_settings = read_file(file)?;
        let source = Source { env };

        let listen = match source.pick("FERRODESK_LISTEN", file_settings.listen, |value| value) {
            Some((setting, text)) => text.trim().parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    setting,
                    format!("{text:?} is not an address and port such as 127.0.0.1:8080"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let data_dir = source
            .pick("FERRODESK_DATA_DIR", file_settings.data_dir, PathBuf::from)
            .map_or_else(|| PathBuf::from("./ferrodesk-data"), |(_, dir)| dir);

        let database_url = match source.pick(
            "FERRODESK_DATABASE_URL",
            file_settings.database_url,
            |value| value,
        ) {
            Some((setting, url)) => {
                let url = url.trim().to_owned();
                let known = ["sqlite:", "postgres://", "postgresql://"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme));
                if !known {
                    return Err(ConfigError::new(
                        setting,
                        "must start with sqlite: or postgres://",
                    ));
                }
                url
            }
            None => String::new(),
        };

        let public_url =
            match source.pick("FERRODESK_PUBLIC_URL", file_settings.public_url, |value| {
                value
            }) {
                Some((setting, url)) => {
                    parse_public_url(&url).map_err(|problem| ConfigError::new(setting, problem))?
                }
                None => default_public_url(listen),
            };

        let trusted_proxies = address_list(
            &source,
            "FERRODESK_TRUSTED_PROXIES",
            file_settings.trusted_proxies,
        )?;
        let admin_allow =
            address_list(&source, "FERRODESK_ADMIN_ALLOW", file_settings.admin_allow)?;
        let agent_allow =
            address_list(&source, "FERRODESK_AGENT_ALLOW", file_settings.agent_allow)?;
        let webhook_allow = address_list(
            &source,
            "FERRODESK_WEBHOOK_ALLOW",
            file_settings.webhook_allow,
        )?;

        let smtp = match source.pick("FERRODESK_SMTP_URL", file_settings.smtp_url, |value| value) {
            Some((setting, url)) => Some(
                SmtpConfig::from_url(url.trim())
                    .map_err(|error| ConfigError::new(setting, error.to_string()))?,
            ),
            None => None,
        };

        let workers = match source.pick(
            "FERRODESK_WORKERS",
            file_settings.workers.map(|count| count.to_string()),
            |value| value,
        ) {
            Some((setting, text)) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|count| (1..=MAX_WORKERS).contains(count))
                .ok_or_else(|| {
                    ConfigError::new(
                        setting,
                        format!("{text:?} is not a number of workers from 1 to {MAX_WORKERS}"),
                    )
                })?,
            None => DEFAULT_WORKERS,
        };

        let bench_baseline_bytes = match env("FERRODESK_BENCH_BASELINE_BYTES") {
            Some(text) => Some(
                text.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|bytes| (1..=10 * 1024 * 1024).contains(bytes))
                    .ok_or_else(|| {
                        ConfigError::new(
                            "FERRODESK_BENCH_BASELINE_BYTES".to_owned(),
                            format!("{text:?} is not a size from 1 to 10485760 bytes"),
                        )
                    })?,
            ),
            None => None,
        };

        let key_source = if let Some(key) = env("FERRODESK_SECRET_KEY") {
            KeySource::Inline("FERRODESK_SECRET_KEY", ferrodesk_core::Secret::new(key))
        } else if let Some(path) = env("FERRODESK_SECRET_KEY_FILE") {
            KeySource::File("FERRODESK_SECRET_KEY_FILE", PathBuf::from(path))
        } else if let Some(key) = file_settings.secret_key {
            KeySource::Inline(
                "secret_key in ferrodesk.toml",
                ferrodesk_core::Secret::new(key),
            )
        } else if let Some(path) = file_settings.secret_key_file {
            KeySource::File("secret_key_file in ferrodesk.toml", path)
        } else {
            KeySource::Generated
        };

        Ok(Config {
            bench_baseline_bytes,
            listen,
            data_dir,
            database_url,
            public_url,
            trusted_proxies,
            admin_allow,
            agent_allow,
            webhook_allow,
            smtp,
            workers,
            key_source,
        })
    }

    /// Creates the data directory (mode 0700) if needed and fills in the
    /// defaults that live in it: the SQLite file and the generated key.
    pub fn prepare_data_dir(&mut self) -> Result<(), ConfigError> {
        let setting = "FERRODESK_DATA_DIR";
        if !self.data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.data_dir)
                .map_err(|error| {
                    ConfigError::new(
                        setting,
                        format!("cannot create {}: {error}", self.data_dir.display()),
                    )
                })?;
        }
        if !self.data_dir.is_dir() {
            return Err(ConfigError::new(
                setting,
                format!("{} is not a directory", self.data_dir.display()),
            ));
        }
        self.data_dir = self.data_dir.canonicalize().map_err(|error| {
            ConfigError::new(
                setting,
                format!("cannot resolve {}: {error}", self.data_dir.display()),
            )
        })?;
        if let Ok(metadata) = std::fs::metadata(&self.data_dir)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                data_dir = %self.data_dir.display(),
                "the data directory is readable by other users; `chmod 700` it"
            );
        }
        if self.database_url.is_empty() {
            self.database_url = format!(
                "sqlite:{}",
                self.data_dir.join(DATABASE_FILE_NAME).display()
            );
        }
        Ok(())
    }

    pub fn uses_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// The instance key: configured, read from a file, or generated once into
    /// the data directory (mode 0600).
    pub fn instance_key(&self) -> Result<InstanceKey, ConfigError> {
        match &self.key_source {
            KeySource::Inline(setting, key) => InstanceKey::from_text(key.expose())
                .map_err(|error| ConfigError::new(*setting, error.to_string())),
            KeySource::File(setting, path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    ConfigError::new(*setting, format!("cannot read {}: {error}", path.display()))
                })?;
                InstanceKey::from_text(&text)
                    .map_err(|error| ConfigError::new(*setting, error.to_string()))
            }
            KeySource::Generated => self.generated_key(),
        }
    }

    fn generated_key(&self) -> Result<InstanceKey, ConfigError> {
        let setting = "FERRODESK_SECRET_KEY";
        let path = self.data_dir.join(KEY_FILE_NAME);
        if !path.exists() {
            write_new_key(&path).map_err(|error| {
                ConfigError::new(
                    setting,
                    format!("cannot create {}: {error}", path.display()),
                )
            })?;
        }
        if let Ok(metadata) = std::fs::metadata(&path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the instance key file is readable by other users; `chmod 600` it");
        }
        let text = std::fs::read_to_string(&path).map_err(|error| {
            ConfigError::new(setting, format!("cannot read {}: {error}", path.display()))
        })?;
        InstanceKey::from_text(&text).map_err(|error| {
            ConfigError::new(
                format!("{setting} (generated {})", path.display()),
                error.to_string(),
            )
        })
    }

    pub fn key_is_generated(&self) -> bool {
        matches!(self.key_source, KeySource::Generated)
    }
}

/// Writes a fresh key so that the file appears complete or not at all: two
/// processes starting at once both end up reading the same, whole key.
fn write_new_key(path: &Path) -> std::io::Result<()> {
    let key =
        InstanceKey::generate_text().map_err(|error| std::io::Error::other(error.to_string()))?;
    let staging = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)?;
    std::io::Write::write_all(&mut file, key.as_bytes())?;
    file.sync_all()?;
    // A hard link fails if the key already exists, so the first writer wins.
    let linked = std::fs::hard_link(&staging, path);
    std::fs::remove_file(&staging)?;
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new instance key");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

fn read_file(file: Option<&Path>) -> Result<FileSettings, ConfigError> {
    let (path, required) = match file {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(FileSettings::default());
        }
        Err(error) => {
            return Err(ConfigError::new(
                path.display().to_string(),
                format!("cannot read: {error}"),
            ));
        }
    };
    toml::from_str(&text).map_err(|error| {
        let message = error.message().to_owned();
        ConfigError::new(path.display().to_string(), message)
    })
}

fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A list of addresses and CIDR ranges from the environment variable `name`
/// or its key in the file; a bad item is an error naming the setting.
fn address_list(
    source: &Source<'_>,
    name: &'static str,
    from_file: Option<ProxyList>,
) -> Result<Vec<IpNet>, ConfigError> {
    let items = source.pick(
        name,
        from_file.map(|list| match list {
            ProxyList::Text(text) => split_list(&text),
            ProxyList::List(items) => items,
        }),
        |text| split_list(&text),
    );
    match items {
        Some((setting, items)) => items
            .iter()
            .map(|item| {
                parse_cidr(item).map_err(|problem| ConfigError::new(setting.clone(), problem))
            })
            .collect(),
        None => Ok(Vec::new()),
    }
}

fn parse_cidr(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range such as 10.0.0.0/8"))
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let Some((scheme, authority)) = url.split_once("://") else {
        return Err(format!("{url:?} must start with http:// or https://"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("{url:?} must start with http:// or https://"));
    }
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be a scheme and host only, such as https://help.example.com"
        ));
    }
    Ok(url.to_owned())
}

fn default_public_url(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("http://localhost:{}", listen.port())
    } else {
        format!("http://{listen}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(None, &|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let config = load(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(config.trusted_proxies.is_empty());
        assert!(config.key_is_generated());
    }

    #[test]
    fn bad_values_name_their_setting() {
        let error = load(&[("FERRODESK_LISTEN", "nowhere")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_LISTEN");
        let error = load(&[("FERRODESK_TRUSTED_PROXIES", "10.0.0.0/8, banana")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_TRUSTED_PROXIES");
        assert!(error.problem.contains("banana"));
        let error = load(&[("FERRODESK_PUBLIC_URL", "ftp://x")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_PUBLIC_URL");
        let error = load(&[("FERRODESK_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_DATABASE_URL");
        let error = load(&[("FERRODESK_SMTP_URL", "smtp://mail.example.org")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_SMTP_URL");
        assert!(error.problem.contains("from="), "{error}");
        for workers in ["0", "many", "100000"] {
            let error = load(&[("FERRODESK_WORKERS", workers)]).unwrap_err();
            assert_eq!(error.setting, "FERRODESK_WORKERS");
        }
    }

    #[test]
    fn surface_allow_lists_are_read_and_a_bad_range_names_its_setting() {
        let config = load(&[
            ("FERRODESK_ADMIN_ALLOW", "10.0.0.0/8"),
            ("FERRODESK_AGENT_ALLOW", "10.0.0.0/8, 192.168.0.0/16"),
        ])
        .unwrap();
        assert_eq!(config.admin_allow.len(), 1);
        assert_eq!(config.agent_allow.len(), 2);
        assert!(load(&[]).unwrap().admin_allow.is_empty(), "open by default");
        let error = load(&[("FERRODESK_ADMIN_ALLOW", "10.0.0.0/33")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_ADMIN_ALLOW");
        assert!(error.to_string().contains("10.0.0.0/33"), "{error}");
    }

    #[test]
    fn mail_and_workers_are_configured_from_the_environment() {
        let config = load(&[
            (
                "FERRODESK_SMTP_URL",
                "smtp://mailer:secret@mail.example.org:2525?from=help@example.org",
            ),
            ("FERRODESK_WORKERS", "8"),
        ])
        .unwrap();
        let smtp = config.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.org", 2525));
        assert_eq!(config.workers, 8);
        assert_eq!(load(&[]).unwrap().workers, DEFAULT_WORKERS);
        assert!(load(&[]).unwrap().smtp.is_none());
    }

    #[test]
    fn proxies_and_public_url_parse() {
        let config = load(&[
            ("FERRODESK_TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1 ::1"),
            ("FERRODESK_PUBLIC_URL", "https://help.example.com/"),
        ])
        .unwrap();
        assert_eq!(config.trusted_proxies.len(), 3);
        assert_eq!(config.public_url, "https://help.example.com");
        assert!(
            config.webhook_allow.is_empty(),
            "no internal address by default"
        );
        let allowed = load(&[("FERRODESK_WEBHOOK_ALLOW", "10.20.0.0/16, 192.168.5.5")]).unwrap();
        assert_eq!(allowed.webhook_allow.len(), 2);
        let error = load(&[("FERRODESK_WEBHOOK_ALLOW", "intranet")]).unwrap_err();
        assert_eq!(error.setting, "FERRODESK_WEBHOOK_ALLOW");
    }

    #[test]
    fn a_named_settings_file_must_exist_and_unknown_keys_are_refused() {
        let missing =
            Config::load(Some(Path::new("/nonexistent/ferrodesk.toml")), &|_| None).unwrap_err();
        assert!(missing.problem.starts_with("cannot read"));
        let dir = std::env::temp_dir().join(format!("ferrodesk-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ferrodesk.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nlisen = 1\n").unwrap();
        let error = Config::load(Some(&file), &|_| None).unwrap_err();
        assert!(error.problem.contains("lisen"), "{error}");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &|_| None).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.public_url, "http://localhost:9000");
        let overridden = Config::load(Some(&file), &|name| {
            (name == "FERRODESK_LISTEN").then(|| "127.0.0.1:7000".to_owned())
        })
        .unwrap();
        assert_eq!(overridden.listen.port(), 7000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_short_secret_key_is_refused_by_name() {
        let config = load(&[("FERRODESK_SECRET_KEY", "short")]).unwrap();
        let error = config.instance_key().unwrap_err();
        assert_eq!(error.setting, "FERRODESK_SECRET_KEY");
    }
}
