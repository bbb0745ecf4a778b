//! `ferrodesk seed`: fills a database with realistic data for benchmarks
//! and demos. Departments, teams, groups, agents, fields, articles and news
//! go through the ordinary use cases (few rows, every rule applied); users
//! and tickets with their threads are written in bulk, since a million
//! tickets one use case at a time would take hours. The data comes from a
//! fixed pseudo-random sequence, so two runs with the same numbers match.

use ferrodesk_core::Secret;
use ferrodesk_store::{SeedAttachment, SeedBatch, SeedMessage, SeedTicket, SeedUser, StoreError};

use crate::audit::Caller;
use crate::knowledge_base::ArticleInput;
use crate::permissions::GroupInput;
use crate::ticket_fields::FieldInput;
use crate::{AccountKind, Actor, App, AppError, AppResult, NewAccount, SignedIn, markdown};

/// What to make.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    pub tickets: u64,
    pub users: u64,
    pub agents: u64,
    pub articles: u64,
}

/// The password every seeded agent signs in with.
pub const SEED_PASSWORD: &str = "seeded agents share this passphrase";

/// What a seed made, for the closing message.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub admin_email: String,
    pub agent_emails: Vec<String>,
    pub tickets: u64,
    pub messages: u64,
}

/// Tickets written per transaction.
const TICKETS_PER_BATCH: u64 = 2_000;
const REFERENCE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// splitmix64: small, fast and good enough for made-up data.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number below `bound` (which is not zero).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A reference for seeded ticket `id`: a bijection of the id onto 40 bits,
/// spelled in the reference alphabet, so references never repeat and do
/// not count up visibly.
fn seeded_reference(id: i64) -> String {
    let mixed = (id as u64)
        .wrapping_mul(0x009E_3779_B97F)
        .wrapping_add(0x5A5A_5A5A)
        & ((1 << 40) - 1);
    let symbols: String = (0..8)
        .map(|index| char::from(REFERENCE_ALPHABET[((mixed >> (35 - index * 5)) & 31) as usize]))
        .collect();
    format!("{}-{}", &symbols[..4], &symbols[4..])
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoë",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Böhm", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Usman", "Virtanen", "Wójcik", "Yamamoto", "Zhang",
];
const COMPANY_WORDS: &[&str] = &[
    "Acme", "Blue", "Cedar", "Delta", "Echo", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kite", "Lumen", "Maple", "Nimbus", "Orbit", "Pine",
];
const COMPANY_KINDS: &[&str] = &[
    "Labs",
    "Logistics",
    "Foods",
    "Studio",
    "Systems",
    "Clinic",
    "Bank",
    "Media",
];
const SUBJECTS: &[&str] = &[
    "Cannot log in since this morning",
    "Invoice shows the wrong amount",
    "Printer on floor 3 is jammed",
    "Refund for order",
    "VPN disconnects every few minutes",
    "How do I export my data?",
    "Password reset mail never arrives",
    "Feature request: dark mode",
    "App crashes when uploading a photo",
    "Change of billing address",
    "Delivery is late",
    "Two-factor codes are rejected",
    "Cancel my subscription",
    "Question about the new pricing",
    "Error 500 on the dashboard",
    "Need a copy of last month's invoice",
];
const LABELS: &[&str] = &[
    "billing", "bug", "vip", "hardware", "login", "refund", "feature", "urgent", "mobile",
    "network", "shipping", "account",
];
const PRODUCTS: &[&str] = &["Starter", "Team", "Business", "Enterprise"];
const USER_LINES: &[&str] = &[
    "Hello, since this morning I get an error whenever I try this. Could you have a look?",
    "I attached a screenshot. It happens on **every** attempt, on both my laptop and my phone.",
    "Any news on this? My team is blocked until it works again.",
    "Thanks, that fixed it! You can close this.",
    "I tried that, but it still fails with the same message:\n\n    error: connection reset",
    "Could you also check the other account we have under the same company?",
    "Our order number is in the subject. We need this sorted before Friday.",
    "It worked for a day and then broke again.",
];
const AGENT_LINES: &[&str] = &[
    "Thanks for reaching out. Could you tell us which browser and version you use?",
    "I have reset the setting on our side. Please try again and let us know.",
    "This is a known issue; a fix ships with the next release. Meanwhile:\n\n1. Sign out\n2. Clear the cache\n3. Sign in again",
    "I've issued the refund; it shows on your statement within 3–5 working days.",
    "I'm handing this to our billing team, who will follow up today.",
    "Could you send the exact error message, or a screenshot of it?",
];
const NOTE_LINES: &[&str] = &[
    "Customer is on the Enterprise plan — keep them updated daily.",
    "Looks like the same root cause as last week's outage.",
    "Checked the logs: three failed logins from a new address, then success.",
];
const ARTICLE_TOPICS: &[&str] = &[
    "Resetting your password",
    "Setting up two-factor login",
    "Exporting your data",
    "Understanding your invoice",
    "Connecting to the VPN",
    "Adding team members",
    "Changing your billing address",
    "Troubleshooting uploads",
    "Keyboard shortcuts",
    "Mobile app basics",
];

fn person_name(random: &mut Sequence) -> String {
    format!("{} {}", random.pick(FIRST_NAMES), random.pick(LAST_NAMES))
}

/// Bodies rendered once and reused, so a million tickets do not render
/// ten million markdown texts.
struct RenderedLines {
    user: Vec<(String, String)>,
    agent: Vec<(String, String)>,
    note: Vec<(String, String)>,
}

impl RenderedLines {
    fn new() -> RenderedLines {
        let render = |lines: &[&str]| {
            lines
                .iter()
                .map(|line| ((*line).to_owned(), markdown::render_message(line)))
                .collect()
        };
        RenderedLines {
            user: render(USER_LINES),
            agent: render(AGENT_LINES),
            note: render(NOTE_LINES),
        }
    }
}

const STATUSES: &[(&str, u64)] = &[
    ("resolved", 40),
    ("awaiting_agent", 25),
    ("awaiting_user", 15),
    ("pending", 10),
    ("archived", 8),
    ("spam", 2),
];

fn seeded_status(random: &mut Sequence) -> &'static str {
    let mut roll = random.below(100);
    for (status, weight) in STATUSES {
        if roll < *weight {
            return status;
        }
        roll -= weight;
    }
    "awaiting_agent"
}

impl App {
    /// Fills the database as `plan` says, calling `progress` with
    /// (stage, done, total) as it goes.
    pub async fn seed(
        &self,
        plan: &SeedPlan,
        progress: &mut (dyn FnMut(&str, u64, u64) + Send),
    ) -> AppResult<SeedSummary> {
        let system = Caller::system();
        let mut random = Sequence(0x00C0_FFEE);
        let ids = self.store().seed().seed_next_ids().await?;
        // Marks this run's addresses and names, so seeding twice adds to
        // the data rather than clashing with it.
        let run = ids.person;

        progress("departments, teams and groups", 0, 1);
        let support = self
            .create_department(&system, &format!("Support {run}"), None)
            .await?;
        let billing = self
            .create_department(&system, &format!("Billing {run}"), None)
            .await?;
        let sales = self
            .create_department(&system, &format!("Sales {run}"), None)
            .await?;
        let technical = self
            .create_department(&system, &format!("Technical {run}"), None)
            .await?;
        let hardware = self
            .create_department(&system, "Hardware", Some(technical))
            .await?;
        let software = self
            .create_department(&system, "Software", Some(technical))
            .await?;
        let departments = [support, billing, sales, hardware, software];
        let first_line = self
            .create_team(&system, &format!("First line {run}"))
            .await?;
        let specialists = self
            .create_team(&system, &format!("Specialists {run}"))
            .await?;
        let teams = [first_line, specialists];
        let everyday = [
            "tickets.reply",
            "tickets.note",
            "tickets.edit",
            "tickets.merge",
            "people.view",
        ];
        let mut groups = Vec::new();
        for (name, department, extra) in [
            (
                "Support desk",
                support,
                &["people.edit", "content.manage"][..],
            ),
            ("Billing desk", billing, &["tickets.spam"][..]),
            ("Sales desk", sales, &[][..]),
            ("Technical desk", technical, &["tickets.delete"][..]),
        ] {
            let permissions: Vec<String> = everyday
                .iter()
                .chain(extra.iter())
                .map(|key| (*key).to_owned())
                .collect();
            groups.push(
                self.create_permission_group(
                    &system,
                    &GroupInput {
                        name: format!("{name} {run}"),
                        description: "Made by ferrodesk seed".to_owned(),
                        permissions,
                        departments: vec![(department, "full".to_owned())],
                    },
                )
                .await?,
            );
        }

        let password = Secret::new(SEED_PASSWORD);
        let admin_email = format!("admin.{run}@seed.example.org");
        let admin = self
            .create_account(
                &NewAccount {
                    email: &admin_email,
                    name: "Seed Admin",
                    password: &password,
                    password_confirmation: None,
                },
                AccountKind::Admin,
            )
            .await?;
        // Who may be assigned tickets of each department: the admin, and
        // the agents whose group covers it.
        let mut assignable: std::collections::HashMap<i64, Vec<i64>> = departments
            .iter()
            .map(|department| (*department, vec![admin.id]))
            .collect();
        let group_departments = [
            vec![support],
            vec![billing],
            vec![sales],
            vec![hardware, software],
        ];
        let mut agent_emails = Vec::new();
        for number in 1..=plan.agents {
            progress("agents", number, plan.agents);
            let email = format!("agent{number}.{run}@seed.example.org");
            let agent = self
                .create_account(
                    &NewAccount {
                        email: &email,
                        name: &person_name(&mut random),
                        password: &password,
                        password_confirmation: None,
                    },
                    AccountKind::Agent,
                )
                .await?;
            let group = groups[(number as usize - 1) % groups.len()];
            let team = teams[(number as usize - 1) % teams.len()];
            self.set_agent_access(&system, agent.id, &[group], &[team])
                .await?;
            for department in &group_departments[(number as usize - 1) % groups.len()] {
                assignable.entry(*department).or_default().push(agent.id);
            }
            agent_emails.push(email);
        }
        let admin_actor = Actor::Agent(SignedIn {
            person_id: admin.id,
            name: admin.name.clone(),
            email: admin.email.clone(),
            is_admin: true,
            remembered: false,
            must_change_password: false,
            must_set_up_two_factor: false,
            time_zone: String::new(),
        });
        let as_admin = Caller::new(&admin_actor, "192.0.2.1");

        let order_field = self
            .create_ticket_field(
                &system,
                &FieldInput {
                    name: format!("Order number {run}"),
                    kind: "text".to_owned(),
                    choices: String::new(),
                    is_required: false,
                    visible_to_users: true,
                    position: "1".to_owned(),
                },
            )
            .await?;
        let product_field = self
            .create_ticket_field(
                &system,
                &FieldInput {
                    name: format!("Product {run}"),
                    kind: "choice".to_owned(),
                    choices: PRODUCTS.join("\n"),
                    is_required: false,
                    visible_to_users: true,
                    position: "2".to_owned(),
                },
            )
            .await?;

        // Organizations and users, in bulk.
        let ids = self.store().seed().seed_next_ids().await?;
        let organization_count = (plan.users / 25).max(u64::from(plan.users > 0));
        let organizations: Vec<(i64, String)> = (0..organization_count)
            .map(|index| {
                (
                    ids.organization + index as i64,
                    format!(
                        "{} {} {}",
                        random.pick(COMPANY_WORDS),
                        random.pick(COMPANY_KINDS),
                        index + 1
                    ),
                )
            })
            .map(|(id, name)| (id, format!("{name} ({run})")))
            .collect();
        progress("organizations", 0, organization_count);
        self.store()
            .seed()
            .seed_organizations(&organizations, self.now())
            .await?;
        let now = self.now().millis();
        let year = 365 * 24 * 60 * 60 * 1000_i64;
        let mut users = Vec::with_capacity(plan.users as usize);
        let mut user_organizations = Vec::with_capacity(plan.users as usize);
        for index in 0..plan.users {
            let organization = if !organizations.is_empty() && random.chance(60) {
                Some(organizations[random.below(organizations.len() as u64) as usize].0)
            } else {
                None
            };
            let name = person_name(&mut random);
            users.push(SeedUser {
                id: ids.person + index as i64,
                email: format!("user{index}.{run}@customers.example.org"),
                name,
                organization_id: organization,
                is_organization_manager: organization.is_some() && random.chance(5),
                created_at: now - year - random.below(year as u64) as i64,
            });
            user_organizations.push(organization);
            if (users.len() as u64).is_multiple_of(10_000) {
                progress("users", index + 1, plan.users);
            }
        }
        for chunk in users.chunks(10_000) {
            self.store().seed().seed_users(chunk).await?;
        }
        progress("users", plan.users, plan.users);

        // One picture for the attachments, stored the ordinary way.
        let picture = match self.begin_upload(&admin_actor, "screenshot.png").await {
            Ok(mut upload) => {
                upload.write(SEED_PICTURE).await?;
                Some(self.finish_upload(upload).await?)
            }
            Err(AppError::Internal(_)) => None,
            Err(other) => return Err(other),
        };

        // Tickets with their threads, in bulk.
        let lines = RenderedLines::new();
        let ids = self.store().seed().seed_next_ids().await?;
        let mut next_ticket = ids.ticket;
        let mut next_message = ids.message;
        let mut written = 0;
        let mut messages_written = 0;
        while written < plan.tickets && !users.is_empty() {
            let size = TICKETS_PER_BATCH.min(plan.tickets - written);
            let mut batch = SeedBatch::default();
            for _ in 0..size {
                let id = next_ticket;
                next_ticket += 1;
                let requester_index = random.below(users.len() as u64) as usize;
                let requester = users[requester_index].id;
                let status = seeded_status(&mut random);
                let created_at = now - random.below(year as u64) as i64;
                let message_count = 1 + (random.below(30) * random.below(30)) / 30;
                let department_id = *random.pick(&departments);
                let agent_id = if random.chance(70) {
                    assignable
                        .get(&department_id)
                        .map(|agents| *random.pick(agents))
                } else {
                    None
                };
                let mut at = created_at;
                let mut first_agent_reply_at = None;
                for number in 0..message_count {
                    let from_agent = number % 2 == 1;
                    let is_note = from_agent && random.chance(10);
                    let (body_markdown, body_html) = if is_note {
                        random.pick(&lines.note).clone()
                    } else if from_agent {
                        random.pick(&lines.agent).clone()
                    } else {
                        random.pick(&lines.user).clone()
                    };
                    if from_agent && !is_note && first_agent_reply_at.is_none() {
                        first_agent_reply_at = Some(at);
                    }
                    let author_id = if from_agent {
                        agent_id.unwrap_or(admin.id)
                    } else {
                        requester
                    };
                    batch.messages.push(SeedMessage {
                        id: next_message,
                        ticket_id: id,
                        author_id,
                        is_note,
                        body_markdown,
                        body_html,
                        channel: if from_agent { "agent" } else { "web" },
                        created_at: at,
                    });
                    if let Some(picture) = &picture
                        && !from_agent
                        && random.chance(5)
                    {
                        batch.attachments.push(SeedAttachment {
                            message_id: next_message,
                            blob_sha256: picture.sha256.clone(),
                            file_name: picture.file_name.clone(),
                            content_type: picture.content_type.clone(),
                            size: picture.size,
                            created_at: at,
                        });
                    }
                    next_message += 1;
                    at += 1 + random.below(48 * 60 * 60 * 1000) as i64;
                }
                let updated_at = at.min(now);
                let mut labels: Vec<&str> = Vec::new();
                for _ in 0..random.below(3) {
                    let label = *random.pick(LABELS);
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
                batch
                    .labels
                    .extend(labels.into_iter().map(|label| (id, label.to_owned())));
                if random.chance(30) {
                    batch.field_values.push((
                        id,
                        order_field,
                        format!("ORD-{}", 100_000 + random.below(900_000)),
                    ));
                }
                if random.chance(50) {
                    batch.field_values.push((
                        id,
                        product_field,
                        (*random.pick(PRODUCTS)).to_owned(),
                    ));
                }
                batch.tickets.push(SeedTicket {
                    id,
                    reference: seeded_reference(id),
                    subject: format!("{} #{}", random.pick(SUBJECTS), 1000 + id),
                    status,
                    urgency: 1 + random.below(10) as i64,
                    department_id,
                    requester_id: requester,
                    organization_id: user_organizations[requester_index],
                    agent_id,
                    team_id: random.chance(20).then(|| *random.pick(&teams)),
                    created_at,
                    updated_at,
                    first_agent_reply_at,
                    resolved_at: (status == "resolved" || status == "archived")
                        .then_some(updated_at),
                    // The first message is the user's, from the help center.
                    channel: "web",
                });
            }
            messages_written += batch.messages.len() as u64;
            self.store()
                .seed()
                .seed_tickets(&batch)
                .await
                .map_err(|error| match error {
                    StoreError::Conflict(_) => AppError::Conflict(
                        "a seeded reference is taken; seed into a fresh database".to_owned(),
                    ),
                    other => other.into(),
                })?;
            written += size;
            progress("tickets", written, plan.tickets);
        }

        // Knowledge base and news, through the use cases.
        let category_count = (plan.articles / 10).clamp(1, 50);
        let mut categories = Vec::new();
        for index in 0..category_count {
            let name = format!("{} {}", random.pick(ARTICLE_TOPICS), index + 1);
            categories.push(
                self.create_article_category(&as_admin, &name, "Made by ferrodesk seed", None, "0")
                    .await?,
            );
        }
        for number in 1..=plan.articles {
            let topic = random.pick(ARTICLE_TOPICS);
            let content = format!(
                "{}\n\n## Steps\n\n1. Open **Settings**.\n2. Choose *{topic}*.\n3. Follow the prompts.\n\n{}\n",
                random.pick(AGENT_LINES),
                random.pick(USER_LINES),
            );
            self.save_article(
                &as_admin,
                None,
                &ArticleInput {
                    title: format!("{topic} ({number})"),
                    slug: String::new(),
                    category_id: random.pick(&categories).to_string(),
                    content,
                    status: if random.chance(85) {
                        "published"
                    } else {
                        "draft"
                    }
                    .to_owned(),
                },
            )
            .await?;
            progress("articles", number, plan.articles);
        }
        let news_category = self
            .create_news_category(&as_admin, &format!("Announcements {run}"))
            .await?;
        for number in 1..=5 {
            self.save_news_post(
                &as_admin,
                None,
                &ArticleInput {
                    title: format!("Release notes {number}"),
                    slug: String::new(),
                    category_id: news_category.to_string(),
                    content: format!(
                        "What is new in release {number}:\n\n- Faster lists\n- Fewer clicks"
                    ),
                    status: "published".to_owned(),
                },
            )
            .await?;
        }
        self.store().seed().finish_seed().await?;
        Ok(SeedSummary {
            admin_email,
            agent_emails,
            tickets: written,
            messages: messages_written,
        })
    }
}

/// A 1×1 PNG.
const SEED_PICTURE: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_references_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for id in 1..200_000 {
            let reference = seeded_reference(id);
            assert!(
                ferrodesk_core::TicketRef::parse(&reference).is_ok(),
                "{reference}"
            );
            assert!(seen.insert(reference), "{id}");
        }
    }
}
