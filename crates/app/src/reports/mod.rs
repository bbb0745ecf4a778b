//! Reports for agents with the reports permission: the dashboard of a
//! period against the one before, and the hostname report. Every figure
//! is counted through the reader's own ticket visibility, inside the
//! store's queries.

mod dashboard;
mod figures;
mod hostnames;
mod period;

pub use dashboard::{Bar, Dashboard, DashboardInput, SlaOutcome, TeamResponse, Tile};
pub use figures::{Change, duration_words};
pub use hostnames::{HostnameReport, HostnameReportInput, OutsideAddress, OutsideAgent};
pub use period::PERIODS;
