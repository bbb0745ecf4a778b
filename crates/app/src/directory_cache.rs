//! Agents, teams and departments, and each agent's macros and saved views:
//! read on every agent list and ticket page, changed seldom. A copy is
//! kept until this process changes any of them (the store's directory
//! generation moves) and for at most `DIRECTORY_TTL`, which bounds how long
//! a change made on another node goes unseen. Only choices and names come
//! from here: every change an agent asks for is checked against the
//! database, and what an agent may see is never read from this copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ferrodesk_store::{DepartmentRecord, MacroRecord, MemberRecord, TeamRecord, TicketViewRecord};

use crate::{App, AppResult};

/// How long a copy is used at most.
const DIRECTORY_TTL: Duration = Duration::from_secs(5);

/// The most agents whose macros and views are kept at once.
const AGENT_LIBRARIES: usize = 1_000;

/// What every agent's pages share.
#[derive(Debug)]
pub(crate) struct SharedDirectory {
    /// Agents who are not disabled, admins first, by name.
    pub agents: Vec<MemberRecord>,
    pub teams: Vec<TeamRecord>,
    pub departments: Vec<DepartmentRecord>,
}

/// One agent's macros (their own and shared ones) and saved views (their
/// own and every shared one; which they may open is decided by teams).
#[derive(Debug)]
pub(crate) struct AgentLibrary {
    pub macros: Vec<MacroRecord>,
    pub views: Vec<TicketViewRecord>,
}

#[derive(Debug)]
struct Kept<T> {
    generation: u64,
    read_at: Instant,
    value: Arc<T>,
}

impl<T> Kept<T> {
    fn current(&self, generation: u64) -> Option<Arc<T>> {
        (self.generation == generation && self.read_at.elapsed() < DIRECTORY_TTL)
            .then(|| Arc::clone(&self.value))
    }
}

#[derive(Debug, Default)]
pub(crate) struct DirectoryCache {
    shared: Mutex<Option<Kept<SharedDirectory>>>,
    libraries: Mutex<HashMap<i64, Kept<AgentLibrary>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl App {
    /// Agents, teams and departments, from the copy while it is current.
    pub(crate) async fn shared_directory(&self) -> AppResult<Arc<SharedDirectory>> {
        // Read before the database: a change committed meanwhile moves the
        // generation, so what is read now is replaced next time.
        let generation = self.store().directory_generation();
        let cache = &self.inner.directory;
        if let Some(kept) = locked(&cache.shared)
            .as_ref()
            .and_then(|kept| kept.current(generation))
        {
            return Ok(kept);
        }
        let agents = self
            .store()
            .people()
            .list_agents()
            .await?
            .into_iter()
            .filter(|agent| !agent.is_disabled)
            .map(|agent| MemberRecord {
                id: agent.id,
                name: agent.name,
                email: agent.email,
            })
            .collect();
        let departments = self.store().departments();
        let value = Arc::new(SharedDirectory {
            agents,
            teams: departments.list_teams().await?,
            departments: departments.list_departments().await?,
        });
        *locked(&cache.shared) = Some(Kept {
            generation,
            read_at: Instant::now(),
            value: Arc::clone(&value),
        });
        Ok(value)
    }

    /// An agent's macros and saved views, from the copy while it is
    /// current.
    pub(crate) async fn agent_library(&self, agent_id: i64) -> AppResult<Arc<AgentLibrary>> {
        let generation = self.store().directory_generation();
        let cache = &self.inner.directory;
        if let Some(kept) = locked(&cache.libraries)
            .get(&agent_id)
            .and_then(|kept| kept.current(generation))
        {
            return Ok(kept);
        }
        let value = Arc::new(AgentLibrary {
            macros: self.store().macros().usable_macros(agent_id).await?,
            views: self.store().ticket_views().views_for(agent_id).await?,
        });
        let mut libraries = locked(&cache.libraries);
        if libraries.len() >= AGENT_LIBRARIES {
            libraries.clear();
        }
        libraries.insert(
            agent_id,
            Kept {
                generation,
                read_at: Instant::now(),
                value: Arc::clone(&value),
            },
        );
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_current_only_for_its_generation_and_while_young() {
        let kept = Kept {
            generation: 3,
            read_at: Instant::now(),
            value: Arc::new(7),
        };
        assert_eq!(kept.current(3).as_deref(), Some(&7));
        assert!(kept.current(4).is_none());
        let old = Kept {
            generation: 3,
            read_at: Instant::now() - DIRECTORY_TTL - Duration::from_millis(1),
            value: Arc::new(7),
        };
        assert!(old.current(3).is_none());
    }
}
