//! Users and organizations as agents see and change them: the directory
//! with search, a user's addresses and tickets, organizations with members
//! and managers, and merging two users. Seeing the directory takes
//! `people.view`, changing it `people.edit`, merging `people.merge`; the
//! tickets shown are only those the agent may see anyway. Every change is
//! in the audit log.

use ferrodesk_core::{Email, Permission, PersonName, TicketStatus};
use ferrodesk_store::{
    NamePage, OrganizationRecord, PersonEmail, TicketFilter, TicketRecord, UserChange, UserRecord,
};

use crate::audit::{Audit, Caller};
use crate::departments::checked_name;
use crate::error::taken;
use crate::tickets::AgentContext;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// Rows per page of the user and organization lists.
pub const DIRECTORY_PAGE_SIZE: i64 = 50;
/// Tickets shown on a user's or an organization's page.
const RECENT_TICKETS: i64 = 50;
/// Addresses one person may have.
const MAX_EMAILS_PER_PERSON: usize = 20;
const MAX_SEARCH_CHARS: usize = 100;

/// A search and the cursor of the page.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    pub search: String,
    /// "id.lower-case name" of the last row of the page before.
    pub after: Option<String>,
    /// Rows per page; the pages' own size when `None`.
    pub limit: Option<i64>,
    /// Rows to skip when there is no cursor.
    pub offset: i64,
}

/// One page of a directory list.
#[derive(Debug, Clone)]
pub struct DirectoryList<T> {
    pub rows: Vec<T>,
    pub total: i64,
    pub next: Option<String>,
}

/// A user's page.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: UserRecord,
    pub emails: Vec<PersonEmail>,
    /// The newest tickets the agent may see where the user is the requester.
    pub tickets: Vec<TicketRecord>,
    pub ticket_total: i64,
    pub may_edit: bool,
    pub may_merge: bool,
}

/// An organization's page.
#[derive(Debug, Clone)]
pub struct OrganizationDetail {
    pub organization: OrganizationRecord,
    pub members: Vec<UserRecord>,
    pub tickets: Vec<TicketRecord>,
    pub ticket_total: i64,
    pub may_edit: bool,
}

/// A user as the form sends it.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub name: String,
    /// Only when creating; addresses change through their own actions.
    pub email: String,
    /// An organization's name; empty for none.
    pub organization: String,
    pub is_organization_manager: bool,
    pub is_disabled: bool,
}

fn checked_search(text: &str) -> AppResult<Option<String>> {
    let search = text.trim();
    // Before trimming, as the API's document states it.
    if text.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "search",
            "Search for text without control characters.",
        ));
    }
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::invalid(
            "q",
            format!("Search for at most {MAX_SEARCH_CHARS} characters."),
        ));
    }
    Ok(Some(search.to_owned()).filter(|search| !search.is_empty()))
}

fn parse_cursor(cursor: Option<&str>) -> AppResult<Option<(String, i64)>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(cursor) => cursor
            .split_once('.')
            .and_then(|(id, name)| Some((name.to_owned(), id.parse().ok()?)))
            .map(Some)
            .ok_or_else(|| AppError::unresolved("after", "That page does not exist.")),
    }
}

/// The store's page for a query: one row over the page size, to know
/// whether another page follows.
fn name_page(query: &DirectoryQuery) -> AppResult<NamePage> {
    Ok(NamePage {
        search: checked_search(&query.search)?,
        after: parse_cursor(query.after.as_deref())?,
        limit: page_size(query) + 1,
        offset: query.offset.max(0),
    })
}

fn page_size(query: &DirectoryQuery) -> i64 {
    query.limit.unwrap_or(DIRECTORY_PAGE_SIZE).clamp(1, 200)
}

/// The page and the cursor of the next one, from rows fetched one over.
fn paged<T>(
    mut rows: Vec<T>,
    size: i64,
    key: impl Fn(&T) -> (i64, &str),
) -> (Vec<T>, Option<String>) {
    let size = size as usize;
    if rows.len() <= size {
        return (rows, None);
    }
    rows.truncate(size);
    let next = rows.last().map(|last| {
        let (id, name) = key(last);
        format!("{id}.{name}")
    });
    (rows, next)
}

fn user_state(user: &UserRecord) -> serde_json::Value {
    serde_json::json!({
        "name": user.name,
        "organization": user.organization_name,
        "organization_manager": user.is_organization_manager,
        "disabled": user.is_disabled,
    })
}

impl App {
    /// The acting agent, when they hold `permission`.
    async fn directory_context(
        &self,
        actor: &Actor,
        permission: Permission,
    ) -> AppResult<AgentContext> {
        let context = self.agent_context(actor).await?;
        if context.effective.has(permission) {
            Ok(context)
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The help-center user with this address (any of theirs); agents are
    /// not users.
    async fn user_with_address(&self, email: &Email) -> AppResult<Option<UserRecord>> {
        match self
            .store()
            .directory()
            .find_person_by_any_email(&email.normalized())
            .await?
        {
            Some(person_id) => Ok(self.store().directory().get_user(person_id).await?),
            None => Ok(None),
        }
    }

    /// `Forbidden` unless the actor may create and change users.
    pub async fn require_people_editor(&self, actor: &Actor) -> AppResult<()> {
        self.directory_context(actor, Permission::PeopleEdit)
            .await
            .map(|_| ())
    }

    /// The newest tickets of a requester or an organization that the agent
    /// may see, with how many there are.
    async fn tickets_for(
        &self,
        context: &AgentContext,
        filter: TicketFilter,
    ) -> AppResult<(Vec<TicketRecord>, i64)> {
        let filter = TicketFilter {
            statuses: TicketStatus::VISIBLE.to_vec(),
            ..filter
        };
        let visibility = context.visibility();
        let tickets = self
            .store()
            .tickets()
            .list_tickets(
                &visibility,
                &filter,
                ferrodesk_store::TicketPage {
                    after: None,
                    limit: RECENT_TICKETS,
                    ..Default::default()
                },
            )
            .await?;
        let total = self
            .store()
            .tickets()
            .count_tickets(&visibility, &filter)
            .await?;
        Ok((tickets, total))
    }

    pub async fn list_users(
        &self,
        actor: &Actor,
        query: &DirectoryQuery,
    ) -> AppResult<DirectoryList<UserRecord>> {
        self.directory_context(actor, Permission::PeopleView)
            .await?;
        let page = name_page(query)?;
        let (rows, next) = paged(
            self.store().directory().list_users(&page).await?,
            page_size(query),
            |user| (user.id, user.sort_key.as_str()),
        );
        let total = self
            .store()
            .directory()
            .count_users(page.search.as_deref())
            .await?;
        Ok(DirectoryList { rows, total, next })
    }

    pub async fn user_detail(&self, actor: &Actor, id: i64) -> AppResult<UserDetail> {
        let context = self
            .directory_context(actor, Permission::PeopleView)
            .await?;
        let user = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let emails = self.store().directory().person_emails(id).await?;
        let (tickets, ticket_total) = self
            .tickets_for(
                &context,
                TicketFilter {
                    requester_id: Some(id),
                    ..TicketFilter::default()
                },
            )
            .await?;
        Ok(UserDetail {
            user,
            emails,
            tickets,
            ticket_total,
            may_edit: context.effective.has(Permission::PeopleEdit),
            may_merge: context.effective.has(Permission::PeopleMerge),
        })
    }

    /// The organization a form named: none for an empty name, otherwise one
    /// that exists.
    async fn named_organization(
        &self,
        name: &str,
        errors: &mut FieldErrors,
    ) -> AppResult<Option<OrganizationRecord>> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(None);
        }
        let found = self.store().directory().find_organization(name).await?;
        if found.is_none() {
            errors.add(
                "organization",
                "No organization has that name; create it first.",
            );
        }
        Ok(found)
    }

    /// Creates a help-center user; they set a password through a reset
    /// link when they want to sign in. Returns the new id.
    pub async fn create_user(&self, caller: &Caller<'_>, input: &UserInput) -> AppResult<i64> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let mut errors = FieldErrors::new();
        let name = PersonName::parse(&input.name)
            .map_err(|error| errors.add("name", error.to_string()))
            .ok();
        let email = Email::parse(&input.email)
            .map_err(|error| errors.add("email", error.to_string()))
            .ok();
        let organization = self
            .named_organization(&input.organization, &mut errors)
            .await?;
        if let Some(email) = &email
            && self
                .store()
                .directory()
                .find_person_by_any_email(&email.normalized())
                .await?
                .is_some()
        {
            errors.add_unresolved("email", "Someone has this address already.");
        }
        errors.into_result()?;
        let (Some(name), Some(email)) = (name, email) else {
            return Err(AppError::invalid("name", "Enter a name."));
        };
        let audit = Audit::new(caller, "user.created")
            .on("person", None, &format!("{name} <{email}>"))
            .after(&serde_json::json!({
                "name": name.as_str(),
                "email": email.as_str(),
                "organization": organization.as_ref().map(|found| &found.name),
                "organization_manager": input.is_organization_manager,
            }));
        Ok(self
            .store()
            .directory()
            .create_user(
                name.as_str(),
                email.as_str(),
                &email.normalized(),
                organization
                    .as_ref()
                    .map(|found| (found.id, input.is_organization_manager)),
                &audit.entry(),
                self.now(),
            )
            .await?)
    }

    /// Changes a user's name, organization, manager flag and whether they
    /// may sign in.
    pub async fn update_user(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &UserInput,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let current = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut errors = FieldErrors::new();
        let name = PersonName::parse(&input.name)
            .map_err(|error| errors.add("name", error.to_string()))
            .ok();
        let organization = self
            .named_organization(&input.organization, &mut errors)
            .await?;
        errors.into_result()?;
        let Some(name) = name else {
            return Err(AppError::invalid("name", "Enter a name."));
        };
        self.write_user(caller, &current, name.as_str(), organization, input)
            .await
    }

    async fn write_user(
        &self,
        caller: &Caller<'_>,
        current: &UserRecord,
        name: &str,
        organization: Option<OrganizationRecord>,
        input: &UserInput,
    ) -> AppResult<()> {
        let change = UserChange {
            name,
            organization_id: organization.as_ref().map(|found| found.id),
            is_organization_manager: organization.is_some() && input.is_organization_manager,
            is_disabled: input.is_disabled,
        };
        let after = UserRecord {
            name: name.to_owned(),
            organization_name: organization.map(|found| found.name),
            is_organization_manager: change.is_organization_manager,
            is_disabled: change.is_disabled,
            ..current.clone()
        };
        let audit = Audit::new(caller, "user.changed")
            .on_person(current.id, &current.name, &current.email)
            .change(&user_state(current), &user_state(&after));
        if !self
            .store()
            .directory()
            .change_user(current.id, &change, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    pub async fn add_user_email(&self, caller: &Caller<'_>, id: i64, email: &str) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let user = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let email =
            Email::parse(email).map_err(|error| AppError::invalid("email", error.to_string()))?;
        if self.store().directory().person_emails(id).await?.len() >= MAX_EMAILS_PER_PERSON {
            return Err(AppError::invalid(
                "email",
                format!("A person has at most {MAX_EMAILS_PER_PERSON} addresses."),
            ));
        }
        if self
            .store()
            .directory()
            .find_person_by_any_email(&email.normalized())
            .await?
            .is_some()
        {
            return Err(AppError::invalid(
                "email",
                "Someone has this address already; merge the two users instead.",
            ));
        }
        let audit = Audit::new(caller, "user.email_added")
            .on_person(user.id, &user.name, &user.email)
            .after(&serde_json::json!({ "email": email.as_str() }));
        self.store()
            .directory()
            .add_person_email(
                id,
                email.as_str(),
                &email.normalized(),
                &audit.entry(),
                self.now(),
            )
            .await
            .map_err(taken("email", "Someone has this address already."))
    }

    /// The user and one of their addresses, or `NotFound`.
    async fn user_email(&self, id: i64, email_id: i64) -> AppResult<(UserRecord, PersonEmail)> {
        let user = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let email = self
            .store()
            .directory()
            .person_emails(id)
            .await?
            .into_iter()
            .find(|email| email.id == email_id)
            .ok_or(AppError::NotFound)?;
        Ok((user, email))
    }

    pub async fn remove_user_email(
        &self,
        caller: &Caller<'_>,
        id: i64,
        email_id: i64,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let (user, email) = self.user_email(id, email_id).await?;
        if email.email == user.email {
            return Err(AppError::Conflict(
                "This is where mail goes: make another address the primary one first.".to_owned(),
            ));
        }
        let audit = Audit::new(caller, "user.email_removed")
            .on_person(user.id, &user.name, &user.email)
            .change(
                &serde_json::json!({ "email": email.email }),
                &serde_json::json!({ "email": null }),
            );
        if !self
            .store()
            .directory()
            .remove_person_email(id, email_id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    pub async fn make_user_email_primary(
        &self,
        caller: &Caller<'_>,
        id: i64,
        email_id: i64,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let (user, email) = self.user_email(id, email_id).await?;
        let audit = Audit::new(caller, "user.primary_email_changed")
            .on_person(user.id, &user.name, &user.email)
            .change(
                &serde_json::json!({ "email": user.email }),
                &serde_json::json!({ "email": email.email }),
            );
        if !self
            .store()
            .directory()
            .make_email_primary(id, email_id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// Merges user `id` into the user with the address `into` (any of
    /// their addresses). Returns the id of the user that stays.
    pub async fn merge_users(&self, caller: &Caller<'_>, id: i64, into: &str) -> AppResult<i64> {
        self.directory_context(caller.actor, Permission::PeopleMerge)
            .await?;
        let source = self
            .store()
            .directory()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let email =
            Email::parse(into).map_err(|error| AppError::invalid("into", error.to_string()))?;
        let Some(target) = self.user_with_address(&email).await? else {
            return Err(AppError::invalid("into", "No user has that address."));
        };
        if target.id == source.id {
            return Err(AppError::invalid(
                "into",
                "That is this user's own address; give the other user's.",
            ));
        }
        let audit = Audit::new(caller, "user.merged")
            .on_person(target.id, &target.name, &target.email)
            .change(
                &serde_json::json!({ "merged_user": { "id": source.id, "name": source.name, "email": source.email } }),
                &serde_json::json!({ "kept_user": { "id": target.id, "name": target.name, "email": target.email } }),
            );
        if !self
            .store()
            .directory()
            .merge_users(source.id, target.id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        tracing::info!(source = source.id, target = target.id, "users merged");
        Ok(target.id)
    }

    pub async fn list_organizations(
        &self,
        actor: &Actor,
        query: &DirectoryQuery,
    ) -> AppResult<DirectoryList<OrganizationRecord>> {
        self.directory_context(actor, Permission::PeopleView)
            .await?;
        let page = name_page(query)?;
        let (rows, next) = paged(
            self.store().directory().list_organizations(&page).await?,
            page_size(query),
            |found| (found.id, found.sort_key.as_str()),
        );
        let total = self
            .store()
            .directory()
            .count_organizations(page.search.as_deref())
            .await?;
        Ok(DirectoryList { rows, total, next })
    }

    pub async fn organization_detail(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<OrganizationDetail> {
        let context = self
            .directory_context(actor, Permission::PeopleView)
            .await?;
        let organization = self
            .store()
            .directory()
            .get_organization(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let members = self.store().directory().organization_members(id).await?;
        let (tickets, ticket_total) = self
            .tickets_for(
                &context,
                TicketFilter {
                    organization_id: Some(id),
                    ..TicketFilter::default()
                },
            )
            .await?;
        Ok(OrganizationDetail {
            organization,
            members,
            tickets,
            ticket_total,
            may_edit: context.effective.has(Permission::PeopleEdit),
        })
    }

    pub async fn create_organization(&self, caller: &Caller<'_>, name: &str) -> AppResult<i64> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let name = checked_name(name, "name")?;
        let audit = Audit::new(caller, "organization.created")
            .on("organization", None, &name)
            .after(&serde_json::json!({ "name": name }));
        self.store()
            .directory()
            .create_audited_organization(&name, &audit.entry(), self.now())
            .await
            .map_err(taken("name", "An organization has this name already."))
    }

    pub async fn rename_organization(
        &self,
        caller: &Caller<'_>,
        id: i64,
        name: &str,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let current = self
            .store()
            .directory()
            .get_organization(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let name = checked_name(name, "name")?;
        let audit = Audit::new(caller, "organization.renamed")
            .on("organization", Some(id), &current.name)
            .change(
                &serde_json::json!({ "name": current.name }),
                &serde_json::json!({ "name": name }),
            );
        if self
            .store()
            .directory()
            .rename_organization(id, &name, &audit.entry(), self.now())
            .await
            .map_err(taken("name", "An organization has this name already."))?
        {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn delete_organization(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let current = self
            .store()
            .directory()
            .get_organization(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let audit = Audit::new(caller, "organization.deleted")
            .on("organization", Some(id), &current.name)
            .change(
                &serde_json::json!({ "name": current.name, "members": current.member_count }),
                &serde_json::json!(null),
            );
        if !self
            .store()
            .directory()
            .delete_organization(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// Puts the user with this address (any of theirs) into the
    /// organization, as a manager or not; they leave any other one.
    pub async fn add_organization_member(
        &self,
        caller: &Caller<'_>,
        id: i64,
        email: &str,
        is_manager: bool,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let organization = self
            .store()
            .directory()
            .get_organization(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let email =
            Email::parse(email).map_err(|error| AppError::invalid("email", error.to_string()))?;
        let Some(user) = self.user_with_address(&email).await? else {
            return Err(AppError::invalid("email", "No user has that address."));
        };
        let input = UserInput {
            is_organization_manager: is_manager,
            is_disabled: user.is_disabled,
            ..UserInput::default()
        };
        let name = user.name.clone();
        self.write_user(caller, &user, &name, Some(organization), &input)
            .await
    }

    /// Takes a member out of the organization.
    pub async fn remove_organization_member(
        &self,
        caller: &Caller<'_>,
        id: i64,
        person_id: i64,
    ) -> AppResult<()> {
        self.directory_context(caller.actor, Permission::PeopleEdit)
            .await?;
        let user = self
            .store()
            .directory()
            .get_user(person_id)
            .await?
            .filter(|user| user.organization_id == Some(id))
            .ok_or(AppError::NotFound)?;
        let input = UserInput {
            is_disabled: user.is_disabled,
            ..UserInput::default()
        };
        let name = user.name.clone();
        self.write_user(caller, &user, &name, None, &input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_names_with_dots() {
        assert_eq!(
            parse_cursor(Some("42.j.r. smith")).unwrap(),
            Some(("j.r. smith".to_owned(), 42))
        );
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert!(parse_cursor(Some("smith")).is_err());
        assert!(parse_cursor(Some("x.smith")).is_err());
    }

    #[test]
    fn a_page_one_over_gives_a_cursor() {
        let rows: Vec<(i64, String)> = (0..=DIRECTORY_PAGE_SIZE)
            .map(|id| (id, format!("name {id}")))
            .collect();
        let (page, next) = paged(rows, DIRECTORY_PAGE_SIZE, |row: &(i64, String)| {
            (row.0, row.1.as_str())
        });
        assert_eq!(page.len(), DIRECTORY_PAGE_SIZE as usize);
        assert_eq!(next.as_deref(), Some("49.name 49"));
    }
}
