//! How much text a session keeps: each message is cut to `sessions.max_message_chars`, and while
//! the history's text is over `sessions.max_session_bytes` the oldest texts are cut first, so
//! the newest messages stay whole for the brain. Entries are never removed (their ids keep a
//! redelivery recognised and the answered/counted indexes stay right), only their text is cut,
//! with a visible marker where it was: `[… cut: N characters]`.

use super::session::Session;

/// The limits a session's history is kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeCaps {
    /// The most characters kept of one message, customer's or AI's (the marker aside).
    pub max_message_chars: usize,
    /// The most bytes of history text kept in all (markers included).
    pub max_session_bytes: usize,
}

impl Default for SizeCaps {
    fn default() -> Self {
        SizeCaps {
            max_message_chars: 20_000,
            max_session_bytes: 1_000_000,
        }
    }
}

const MARKER_START: &str = "[… cut: ";
const MARKER_END: &str = " characters]";
/// The longest a marker (with its line break) can be: room kept for it when cutting to a size.
const MARKER_ROOM: usize = 48;

/// The marker for `n` characters cut.
pub fn cut_marker(n: usize) -> String {
    format!("{MARKER_START}{n}{MARKER_END}")
}

/// A text's kept part and how many characters were cut from it already (its trailing marker).
fn split_marker(text: &str) -> (&str, usize) {
    let parsed = text.strip_suffix(MARKER_END).and_then(|rest| {
        let at = rest.rfind(MARKER_START)?;
        let n = rest[at + MARKER_START.len()..].parse().ok()?;
        let kept = &rest[..at];
        Some((kept.strip_suffix('\n').unwrap_or(kept), n))
    });
    parsed.unwrap_or((text, 0))
}

/// `text` with its kept part cut to at most `keep` bytes (at a character boundary) and the
/// marker counting everything cut so far; `None` when it already fits.
fn cut_to(text: &str, keep: usize) -> Option<String> {
    let (kept, already) = split_marker(text);
    if kept.len() <= keep {
        return None;
    }
    let mut end = keep;
    while !kept.is_char_boundary(end) {
        end -= 1;
    }
    let cut = already + kept[end..].chars().count();
    let head = &kept[..end];
    Some(if head.is_empty() {
        cut_marker(cut)
    } else {
        format!("{head}\n{}", cut_marker(cut))
    })
}

impl Session {
    /// Cuts the history's texts to `caps` (see the module); returns how many characters were
    /// cut now (0: it fitted).
    pub fn enforce_caps(&mut self, caps: &SizeCaps) -> usize {
        let before: usize = self.history.iter().map(|e| chars_cut(&e.text)).sum();
        for entry in &mut self.history {
            let (kept, _) = split_marker(&entry.text);
            // No more bytes than the cap means no more characters: nothing to count.
            if kept.len() <= caps.max_message_chars {
                continue;
            }
            if let Some((end, _)) = kept.char_indices().nth(caps.max_message_chars) {
                if let Some(cut) = cut_to(&entry.text, end) {
                    entry.text = cut.into();
                }
            }
        }
        let mut total: usize = self.history.iter().map(|e| e.text.len()).sum();
        for entry in &mut self.history {
            if total <= caps.max_session_bytes {
                break;
            }
            let excess = total - caps.max_session_bytes;
            let (kept, _) = split_marker(&entry.text);
            if kept.is_empty() {
                continue;
            }
            let keep = kept.len().saturating_sub(excess + MARKER_ROOM);
            if let Some(cut) = cut_to(&entry.text, keep) {
                total = total - entry.text.len() + cut.len();
                entry.text = cut.into();
            }
        }
        let after: usize = self.history.iter().map(|e| chars_cut(&e.text)).sum();
        after.saturating_sub(before)
    }

    /// Bytes of history text: what `max_session_bytes` bounds.
    pub fn history_bytes(&self) -> usize {
        self.history.iter().map(|e| e.text.len()).sum()
    }
}

fn chars_cut(text: &str) -> usize {
    split_marker(text).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::CustomerMessage;
    use crate::domain::session::Accepted;

    fn caps(max_message_chars: usize, max_session_bytes: usize) -> SizeCaps {
        SizeCaps {
            max_message_chars,
            max_session_bytes,
        }
    }

    fn session(texts: &[String]) -> Session {
        let mut s = Session::new(1);
        for (i, text) in texts.iter().enumerate() {
            s.accept(&CustomerMessage::sample(1, i as u64 + 1, text), i as u64);
        }
        s
    }

    #[test]
    fn a_long_message_is_cut_to_the_limit_with_a_marker_saying_how_much() {
        let mut s = session(&["é".repeat(50), "ok".into()]);
        assert_eq!(s.enforce_caps(&caps(10, 1_000_000)), 40);
        assert_eq!(
            s.history[0].text,
            format!("{}\n[… cut: 40 characters]", "é".repeat(10)).into()
        );
        assert_eq!(&*s.history[1].text, "ok");
        // Cutting again changes nothing; a tighter cap adds to the same marker.
        assert_eq!(s.enforce_caps(&caps(10, 1_000_000)), 0);
        assert_eq!(s.enforce_caps(&caps(4, 1_000_000)), 6);
        assert_eq!(
            s.history[0].text,
            format!("{}\n[… cut: 46 characters]", "é".repeat(4)).into()
        );
    }

    #[test]
    fn over_the_session_cap_the_oldest_texts_are_cut_first_and_the_newest_kept_whole() {
        let texts: Vec<String> = (0..10).map(|i| format!("{i}").repeat(1000)).collect();
        let mut s = session(&texts);
        let cut = s.enforce_caps(&caps(20_000, 4_000));
        assert!(s.history_bytes() <= 4_000, "{}", s.history_bytes());
        assert!(cut >= 6_000, "{cut}");
        // The newest three whole, the oldest cut to their marker.
        for entry in &s.history[7..] {
            assert_eq!(entry.text.len(), 1000);
        }
        assert_eq!(&*s.history[0].text, "[… cut: 1000 characters]");
        // Nothing is lost of the entries themselves: a redelivery is still known.
        assert_eq!(s.history.len(), 10);
        assert_eq!(
            s.accept(&CustomerMessage::sample(1, 1, &texts[0]), 99),
            Accepted::Known
        );
        let total_marked: usize = s.history.iter().map(|e| chars_cut(&e.text)).sum();
        assert_eq!(total_marked, cut);
    }

    #[test]
    fn a_session_within_its_caps_is_untouched() {
        let texts = vec!["where is my order?".to_string(), "thanks".to_string()];
        let mut s = session(&texts);
        let before = s.clone();
        assert_eq!(s.enforce_caps(&SizeCaps::default()), 0);
        assert_eq!(s, before);
    }

    #[test]
    fn a_customers_text_that_looks_like_a_marker_is_only_counted_not_trusted_for_more() {
        let mut s = session(&["x[… cut: 5 characters]".to_string()]);
        assert_eq!(s.enforce_caps(&SizeCaps::default()), 0);
        assert_eq!(&*s.history[0].text, "x[… cut: 5 characters]");
    }
}
