//! A real IMAP server on loopback for mail tests: Debian's Dovecot
//! (package `dovecot-imapd`), run in the foreground from a throwaway
//! configuration with one user whose Maildir the test writes mail into.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{skip, unique_temp_path};

const DOVECOT: &str = "/usr/sbin/dovecot";
/// The one mailbox user and its password.
pub const IMAP_USER: &str = "helpdesk";
pub const IMAP_PASSWORD: &str = "imap-test-password";

/// A running Dovecot with one user.
#[derive(Debug)]
pub struct ImapServer {
    pub port: u16,
    directory: PathBuf,
    child: Child,
    /// Who owns the mail (Dovecot never reads mail as root): the user
    /// running the tests, or `nobody` when that is root.
    mail_owner: (u32, u32),
}

/// `nobody` and `nogroup` on Debian.
const NOBODY: (u32, u32) = (65_534, 65_534);

static DELIVERED: AtomicU64 = AtomicU64::new(0);

fn current_user() -> (u32, u32, String) {
    let output = |args: &[&str]| {
        Command::new("id")
            .args(args)
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    (
        output(&["-u"]).parse().unwrap_or(0),
        output(&["-g"]).parse().unwrap_or(0),
        output(&["-un"]),
    )
}

impl ImapServer {
    /// Starts Dovecot on a free loopback port, or `None` (after printing
    /// why) when it is not installed outside CI.
    pub fn start() -> Option<ImapServer> {
        if !Path::new(DOVECOT).exists() {
            skip("Dovecot is not installed (apt-get install dovecot-imapd)");
            return None;
        }
        let directory = unique_temp_path("ferrodesk-imap");
        for folder in ["run", "state", "home", "mail"] {
            std::fs::create_dir_all(directory.join(folder)).expect("the server's folders");
        }
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let (uid, gid, name) = current_user();
        let mail_owner = if uid == 0 { NOBODY } else { (uid, gid) };
        // As root, Dovecot's own unprivileged users run its login processes;
        // otherwise everything runs as the user running the tests.
        let service_users = if uid == 0 {
            String::new()
        } else {
            format!("default_login_user = {name}\ndefault_internal_user = {name}\n")
        };
        let dir = directory.display();
        std::fs::write(
            directory.join("users"),
            format!("{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n"),
        )
        .expect("the users file");
        let config = format!(
            "base_dir = {dir}/run\nstate_dir = {dir}/state\nlog_path = {dir}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nmail_location = maildir:{dir}/mail/%u\n\
             {service_users}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {dir}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid={} gid={} home={dir}/home/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service stats {{\n  unix_listener stats-reader {{\n    mode = 0666\n  }}\n  unix_listener stats-writer {{\n    mode = 0666\n  }}\n}}\n",
            mail_owner.0, mail_owner.1
        );
        let config_path = directory.join("dovecot.conf");
        std::fs::write(&config_path, config).expect("the configuration");
        let server = ImapServer {
            port,
            child: Command::new(DOVECOT)
                .arg("-F")
                .arg("-c")
                .arg(&config_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start dovecot"),
            directory,
            mail_owner,
        };
        server.make_folder("");
        server.make_folder(".Processed");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "dovecot did not start: {}",
                std::fs::read_to_string(server.directory.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn maildir(&self) -> PathBuf {
        self.directory.join("mail").join(IMAP_USER)
    }

    fn make_folder(&self, name: &str) {
        for part in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(self.maildir().join(name).join(part))
                .expect("a Maildir folder");
        }
        for path in [
            self.directory.join("mail"),
            self.directory.join("home"),
            self.maildir(),
        ] {
            self.give_to_mail_owner(&path);
        }
        for part in ["", "cur", "new", "tmp"] {
            self.give_to_mail_owner(&self.maildir().join(name).join(part));
        }
    }

    fn give_to_mail_owner(&self, path: &Path) {
        let _ = std::os::unix::fs::chown(path, Some(self.mail_owner.0), Some(self.mail_owner.1));
    }

    /// Puts a message into the inbox, as a mail server delivering it would.
    pub fn deliver(&self, raw: &[u8]) {
        let number = DELIVERED.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let name = format!("{nanos}.{}_{number}.ferrodesk-test", std::process::id());
        let temporary = self.maildir().join("tmp").join(&name);
        std::fs::write(&temporary, raw).expect("write the message");
        self.give_to_mail_owner(&temporary);
        std::fs::rename(&temporary, self.maildir().join("new").join(&name))
            .expect("deliver the message");
    }

    /// How many messages a folder holds ("" for the inbox), and how many of
    /// them are marked seen.
    pub fn count(&self, folder: &str) -> (usize, usize) {
        let mut total = 0;
        let mut seen = 0;
        for part in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(folder).join(part)) else {
                continue;
            };
            for entry in entries.flatten() {
                total += 1;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name
                    .rsplit_once(":2,")
                    .is_some_and(|(_, flags)| flags.contains('S'))
                {
                    seen += 1;
                }
            }
        }
        (total, seen)
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
