//! Time zones: each person reads times in their own (chosen on their
//! account page, or taken from their browser the first time they sign
//! in), else in the admin's default, else in UTC. Times stay UTC in the
//! database and the API.

use ferrodesk_core::Zone;

use crate::audit::Caller;
use crate::settings::HELP_CENTER;
use crate::{Actor, App, AppError, AppResult};

impl App {
    /// The zone the admin set for people who chose none (UTC unless set).
    pub async fn default_zone(&self) -> AppResult<Zone> {
        let name = self.settings().await?.help_center.default_time_zone.clone();
        Ok(Zone::parse(&name).unwrap_or_default())
    }

    /// The zone a person reads times in: theirs, else the default (for
    /// the times in the mail they get).
    pub(crate) async fn zone_of_person(&self, person_id: i64) -> AppResult<Zone> {
        let chosen = self.store().people().time_zone(person_id).await?;
        match Zone::parse(&chosen) {
            Ok(zone) => Ok(zone),
            Err(_) => self.default_zone().await,
        }
    }

    /// The zone `actor` reads times in, and whether they chose it. A
    /// session carries the person's own zone, so this reads no table.
    pub async fn zone_of(&self, actor: &Actor) -> AppResult<(Zone, bool)> {
        let chosen = match actor {
            Actor::Agent(person) | Actor::User(person) => person.time_zone.as_str(),
            Actor::Visitor | Actor::System => "",
        };
        match Zone::parse(chosen) {
            Ok(zone) => Ok((zone, true)),
            Err(_) => Ok((self.default_zone().await?, false)),
        }
    }

    /// Sets the signed-in person's own zone (an IANA name).
    pub async fn set_own_zone(&self, actor: &Actor, name: &str) -> AppResult<Zone> {
        let person_id = match actor {
            Actor::Agent(person) | Actor::User(person) => person.person_id,
            Actor::Visitor | Actor::System => return Err(AppError::Forbidden),
        };
        let zone =
            Zone::parse(name).map_err(|error| AppError::invalid("time_zone", error.to_string()))?;
        self.store()
            .people()
            .set_time_zone(person_id, zone.name(), self.now())
            .await?;
        Ok(zone)
    }

    /// Sets the default zone (admins; audited); empty means UTC.
    pub async fn set_default_zone(&self, caller: &Caller<'_>, name: &str) -> AppResult<()> {
        caller.actor.require_admin()?;
        let name = match name.trim() {
            "" => String::new(),
            text => Zone::parse(text)
                .map_err(|error| AppError::invalid("default_time_zone", error.to_string()))?
                .name()
                .to_owned(),
        };
        let before = self.settings().await?.help_center.clone();
        let after = crate::settings::HelpCenterSettings {
            default_time_zone: name,
            ..before.clone()
        };
        self.put_audited_setting(caller, HELP_CENTER, &before, &after)
            .await
    }
}
