//! Text the app wrote (log lines, termination messages) on its way to readers: people's
//! terminals and agents read it, so it must arrive as inert text. One sanitizer for every
//! route that hands app output back (diagnosis signals, runtime logs).

/// Removes control characters (and whole ANSI escape sequences) and invisible characters,
/// turns tabs and line breaks into spaces, trims, and keeps at most `max_chars` characters;
/// true when it cut the text short.
pub fn sanitize(text: &str, max_chars: usize) -> (String, bool) {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let mut count = 0;
    let mut truncated = false;
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte; other escapes: ESC + one char.
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        let c = if c == '\t' || c == '\n' || c == '\r' {
            ' '
        } else {
            c
        };
        if c.is_control() || invisible(c) {
            continue;
        }
        if count == max_chars {
            truncated = true;
            break;
        }
        out.push(c);
        count += 1;
    }
    (out.trim().to_owned(), truncated)
}

/// Characters that change how text reads without showing: zero-width and direction marks,
/// word joiners and invisible operators (U+200B–U+200F, U+202A–U+202E, U+2060–U+206F), the
/// byte-order mark, and tag characters (U+E0000–U+E007F, which can smuggle hidden text).
pub(crate) fn invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}'
        | '\u{e0000}'..='\u{e007f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_invisibles_go_and_the_length_is_bounded() {
        let (text, cut) = sanitize("\u{1b}[31mred\u{1b}[0m\tok\u{7}\u{202e}!\r\n", 100);
        assert_eq!(text, "red ok!");
        assert!(!cut);
        let (text, cut) = sanitize(&"x".repeat(20), 8);
        assert_eq!(text, "x".repeat(8));
        assert!(cut);
    }
}
