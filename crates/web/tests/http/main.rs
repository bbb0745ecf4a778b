//! HTTP tests: each story runs against a real server, once on SQLite and once
//! on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access_matrix;
mod admin_access;
mod api;
mod attachments;
mod bad_input;
mod branding;
mod browser;
mod bulk_actions;
mod business_hours;
mod chat;
mod client_address;
mod csrf;
mod errors_and_headers;
mod escalations;
mod front_page;
mod health;
mod help_tickets;
mod ip_allow_list;
mod knowledge_base;
mod layout;
mod live_updates;
mod lockout;
mod login_mails;
mod macros;
mod mail;
mod mail_in;
mod names;

mod network;
mod newcomer;
mod news_search;
mod organization;
mod password_reset;
mod people;
mod portal;
mod registration;
mod report_builder;
mod reports;
mod saved_views;
mod scale;
mod security;
mod sessions;
mod setup;
mod slas;
mod snippets;
mod staff_login;
mod surveys;
mod ticket_actions;
mod ticket_search;
mod tickets;
mod time_zones;
mod triggers;
mod two_factor;
mod webhooks;
