//! Mail in: storing what arrives, then turning it into a ticket, a reply,
//! an agent's answer or a note, or refusing it to the rejection log.

mod threading;
