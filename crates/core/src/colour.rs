//! Colours as WCAG measures them: relative luminance and contrast ratio,
//! so a brand colour can never make text unreadable.

use std::fmt;

/// WCAG AA for normal text.
pub const AA_TEXT_CONTRAST: f64 = 4.5;

/// A colour written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub red: u8,
    pub green: u8,
    pub blue: u8,
}

/// Text on light backgrounds (the near-black of the stylesheet).
pub const INK: Rgb = Rgb {
    red: 0x11,
    green: 0x18,
    blue: 0x27,
};
pub const WHITE: Rgb = Rgb {
    red: 0xff,
    green: 0xff,
    blue: 0xff,
};

impl Rgb {
    /// `#rrggbb`, any case; anything else is `None`.
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.trim().strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
        Some(Rgb {
            red: channel(0)?,
            green: channel(2)?,
            blue: channel(4)?,
        })
    }

    /// Relative luminance, 0 (black) to 1 (white), per WCAG 2.
    pub fn luminance(self) -> f64 {
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.039_28 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.red) + 0.7152 * linear(self.green) + 0.0722 * linear(self.blue)
    }

    /// The contrast ratio of two colours, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (lighter, darker) = {
            let (a, b) = (self.luminance(), other.luminance());
            if a >= b { (a, b) } else { (b, a) }
        };
        (lighter + 0.05) / (darker + 0.05)
    }

    /// Each channel scaled by `factor` (below 1 darkens).
    pub fn scaled(self, factor: f64) -> Rgb {
        let scale = |channel: u8| (f64::from(channel) * factor).round().clamp(0.0, 255.0) as u8;
        Rgb {
            red: scale(self.red),
            green: scale(self.green),
            blue: scale(self.blue),
        }
    }

    /// The text colour, white or ink, that reads best on this background,
    /// with its contrast.
    pub fn text_colour(self) -> (Rgb, f64) {
        let on_white = self.contrast(WHITE);
        let on_ink = self.contrast(INK);
        if on_white >= on_ink {
            (WHITE, on_white)
        } else {
            (INK, on_ink)
        }
    }

    /// This colour, darkened as little as needed to read as text on a
    /// white page (links).
    pub fn readable_on_white(self) -> Rgb {
        let mut colour = self;
        for _ in 0..40 {
            if colour.contrast(WHITE) >= AA_TEXT_CONTRAST {
                return colour;
            }
            colour = colour.scaled(0.92);
        }
        INK
    }
}

/// The page behind text in the dark theme.
pub const DARK_SURFACE: Rgb = Rgb {
    red: 0x1b,
    green: 0x21,
    blue: 0x29,
};

impl Rgb {
    /// This colour, lightened as little as needed to read as text on the
    /// dark theme's page (links).
    pub fn readable_on_dark(self) -> Rgb {
        let mut colour = self;
        for step in 1..=20 {
            if colour.contrast(DARK_SURFACE) >= AA_TEXT_CONTRAST {
                return colour;
            }
            let towards_white = |channel: u8| {
                let lift = f64::from(255 - channel) * f64::from(step) / 20.0;
                (f64::from(channel) + lift).round().clamp(0.0, 255.0) as u8
            };
            colour = Rgb {
                red: towards_white(self.red),
                green: towards_white(self.green),
                blue: towards_white(self.blue),
            };
        }
        WHITE
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "#{:02x}{:02x}{:02x}",
            self.red, self.green, self.blue
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_wcag() {
        let black = Rgb::parse("#000000").unwrap();
        assert!((WHITE.contrast(black) - 21.0).abs() < 0.01);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        let grey = Rgb::parse("#767676").unwrap();
        assert!(
            (grey.contrast(WHITE) - 4.54).abs() < 0.01,
            "{}",
            grey.contrast(WHITE)
        );
        assert_eq!(Rgb::parse("#1F5FBF").unwrap().to_string(), "#1f5fbf");
        for junk in ["1f5fbf", "#1f5fb", "#1f5fbg", "", "#1f5fbf0"] {
            assert!(Rgb::parse(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn the_text_on_a_colour_is_chosen_to_read() {
        let (text, contrast) = Rgb::parse("#1f5fbf").unwrap().text_colour();
        assert_eq!(text, WHITE);
        assert!(contrast >= AA_TEXT_CONTRAST);
        let (text, contrast) = Rgb::parse("#ffd400").unwrap().text_colour();
        assert_eq!(text, INK, "dark text on yellow");
        assert!(contrast >= AA_TEXT_CONTRAST);
        // A mid grey reads with neither.
        let (_, contrast) = Rgb::parse("#787878").unwrap().text_colour();
        assert!(contrast < AA_TEXT_CONTRAST, "{contrast}");
    }

    #[test]
    fn a_light_colour_is_darkened_for_links() {
        let yellow = Rgb::parse("#ffd400").unwrap();
        let link = yellow.readable_on_white();
        assert!(link.contrast(WHITE) >= AA_TEXT_CONTRAST, "{link}");
        let blue = Rgb::parse("#1f5fbf").unwrap();
        assert_eq!(
            blue.readable_on_white(),
            blue,
            "a dark colour stays as it is"
        );
        let dark_link = blue.readable_on_dark();
        assert!(
            dark_link.contrast(DARK_SURFACE) >= AA_TEXT_CONTRAST,
            "{dark_link}"
        );
    }
}
