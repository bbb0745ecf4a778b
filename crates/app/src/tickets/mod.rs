//! Tickets for agents, one file per concern:
//!
//! - `context`: who acts and which tickets they reach (by id or reference);
//! - `inputs`: the typed inputs forms and the API parse into;
//! - `list` and `count_cache`: the list, its views and their counts;
//! - `view`: a ticket with its thread, as the page and the API show it;
//! - `create`: opening a ticket (and what the help center shares: fresh
//!   references, requesters found or made by address);
//! - `reply`: replies and notes, and the mail a reply sends;
//! - `change`: property changes with their log, and deleting;
//! - `merge`, `ccs`, `locks`: merging, copied users, locks and following;
//! - `bulk`: one change, merge or follow on many tickets from the list.
//!
//! Every use case starts from what the acting agent may see; a ticket
//! outside it is "not found", never "forbidden".

mod bulk;
mod ccs;
mod change;
mod context;
mod count_cache;
pub(crate) mod create;
mod export;
mod inputs;
mod list;
mod locks;
mod log;
mod merge;
mod reply;
mod view;

pub use bulk::{BULK_LIMIT, BulkAction, BulkChoices, BulkOutcome, BulkTicket};
pub use context::{AgentContext, TicketKey};
pub use export::{TICKET_EXPORT_COLUMNS, TicketExport};
pub use inputs::{
    Channel, FieldValues, NewTicket, Parsed, ReplyInput, Requester, TicketChange, parsed,
};
pub use list::{
    AgentListPage, LIST_COUNT_CAP, ListView, SORT_WITHOUT_INDEX_LIMIT, StatusFilter,
    TICKET_PAGE_SIZE, TicketList, TicketListQuery, TicketNeighbours,
};
pub use locks::TICKET_LOCK_DURATION;
pub use log::{LogNames, describe as describe_log_entry};
pub use reply::PostedMessage;
pub use view::{RequesterCard, TicketState, TicketThread, TicketView};

pub(crate) use count_cache::{TicketCountCache, TicketCountKey};
pub(crate) use create::Drawn;
pub(crate) use list::PageRequest;
pub(crate) use reply::{MessageCue, new_attachments};
