//! Reports for agents with the reports permission: the dashboard of a
//! period against the one before, the report builder and saved reports
//! (shared, favourite, exported, mailed on a schedule), and the hostname
//! report. Every figure is counted through the reader's own ticket
//! visibility, inside the store's queries.

mod builder;
mod dashboard;
mod figures;
mod hostnames;
mod period;
mod saved;
mod scope;

pub use builder::{
    BuilderChoices, BuiltReport, CHARTS, ChartSeries, DATASETS, DIMENSIONS, MEASURED, MEASURES,
    ReportInput, ReportRow, ValueKind,
};
pub use dashboard::{Bar, Dashboard, DashboardInput, SlaOutcome, TeamResponse, Tile};
pub use figures::{Change, duration_words};
pub use hostnames::{HostnameReport, HostnameReportInput, OutsideAddress, OutsideAgent};
pub use period::PERIODS;
pub use saved::{ReportScheduleInput, SCHEDULES, SavedReport, SavedReportInput};
