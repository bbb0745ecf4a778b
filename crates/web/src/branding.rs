//! The admin's branding in every page: the product name and logo the
//! layout shows (taken from this node's copy of the settings for each
//! request, so every page shows the settings it was made with), the colour
//! stylesheet, and the logo itself.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use ferrodesk_core::colour::Rgb;

use crate::AppState;
use crate::error::WebResult;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/brand.css", get(stylesheet))
        .route("/brand/logo", get(logo))
}

/// What the layout shows of the branding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Brand {
    /// The product name, in titles and the top bar.
    pub name: String,
    /// Whether an uploaded logo replaces the name in the top bar.
    pub has_logo: bool,
    /// Whether the help center offers chat (a link in its top bar).
    pub chat_offered: bool,
}

impl Brand {
    pub(crate) fn of(settings: &ferrodesk_app::Settings) -> Brand {
        Brand {
            name: settings.branding.product_name.clone(),
            has_logo: settings.branding.logo_sha256.is_some(),
            chat_offered: settings.chat.enabled,
        }
    }
}

/// A colour made darker, for hover and borders: each channel at 3/4.
fn darker(colour: &str) -> String {
    let channel = |range: std::ops::Range<usize>| {
        colour
            .get(range)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .map_or(0, |value| u16::from(value) * 3 / 4)
    };
    format!(
        "#{:02x}{:02x}{:02x}",
        channel(1..3),
        channel(3..5),
        channel(5..7)
    )
}

async fn stylesheet(State(state): State<AppState>) -> WebResult<Response> {
    let branding = state.app.settings().await?.branding.clone();
    // The colour was checked when saved: #rrggbb, with a text colour that
    // reads on it. A value stored before that check falls back to ours.
    let accent = Rgb::parse(&branding.accent).unwrap_or(Rgb {
        red: 0x1f,
        green: 0x5f,
        blue: 0xbf,
    });
    let (text, _) = accent.text_colour();
    let css = format!(
        "body.portal {{ --brand: {accent}; --brand-dark: {dark}; --brand-text: {text}; --brand-link: {link}; }}\n\
         @media (prefers-color-scheme: dark) {{ body.portal {{ --brand-link: {dark_link}; }} }}\n",
        dark = darker(&accent.to_string()),
        link = accent.readable_on_white(),
        dark_link = accent.readable_on_dark(),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        css,
    )
        .into_response())
}

async fn logo(State(state): State<AppState>) -> WebResult<Response> {
    let download = state.app.brand_logo().await?;
    crate::downloads::serve(download).await
}

#[cfg(test)]
mod tests {
    use super::darker;

    #[test]
    fn darker_colours_scale_each_channel() {
        assert_eq!(darker("#ffffff"), "#bfbfbf");
        assert_eq!(darker("#1f5fbf"), "#17478f");
        assert_eq!(darker("nonsense"), "#000000");
    }
}
