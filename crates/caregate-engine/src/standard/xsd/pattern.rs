//! An XSD `xs:pattern` (XML Schema 1.0, Appendix F) as a JSON Schema `pattern` that means the same.
//!
//! For: the differences that change a verdict — an XSD pattern is implicitly anchored at both ends; `^` and `$`
//! are plain characters; `.` excludes carriage return as well as newline; `\d`, `\w`, `\s` are defined by
//! Unicode categories (`\s` by four characters), not as JSON Schema's regex dialect defines them; groups do not
//! capture. Not for: what the translation cannot say exactly (character class subtraction, Unicode block
//! escapes `\p{IsBasicLatin}`, the name escapes `\i` and `\c`): those are refused, naming the construct.
//!
//! Hand-written: no crate translates XSD regular expressions; the output uses only syntax that the regex crate
//! and fancy-regex (which the jsonschema crate compiles patterns with) read alike, and no shorthand (`\d`) that
//! jsonschema rewrites to its ECMA 262 meaning.

/// Why a pattern cannot be translated.
pub type PatternError = String;

/// The JSON Schema pattern of an XSD pattern: anchored, with every construct spelled explicitly.
pub fn translate(xsd: &str) -> Result<String, PatternError> {
    Ok(anchored(&translate_unanchored(xsd)?))
}

/// The JSON Schema pattern of the XSD patterns of one derivation step, of which any may match.
pub fn translate_any(xsd: &[&str]) -> Result<String, PatternError> {
    let parts: Vec<String> = xsd.iter().map(|p| translate_unanchored(p)).collect::<Result<_, _>>()?;
    Ok(anchored(&parts.join("|")))
}

fn anchored(body: &str) -> String {
    format!("^(?:{body})$")
}

fn translate_unanchored(xsd: &str) -> Result<String, PatternError> {
    let mut parser = Parser { chars: xsd.chars().collect(), at: 0, out: String::with_capacity(xsd.len() + 8) };
    parser.alternation()?;
    if parser.at < parser.chars.len() {
        return Err(format!("unexpected `{}` at character {}", parser.chars[parser.at], parser.at + 1));
    }
    Ok(parser.out)
}

/// An XSD pattern of a JSON Schema pattern, for the export: the anchors dropped (XSD's patterns are
/// anchored), groups written without `?:`, and escapes XSD does not have (`\&`, `\#`, …) written as the
/// character. Meant for the patterns [`translate`] writes and the plain ones packs carry (`^[A-Z]{2}$`).
pub fn to_xsd(pattern: &str) -> String {
    let body = match pattern.strip_prefix("^(?:").and_then(|p| p.strip_suffix(")$")) {
        Some(body) => body,
        None => {
            let p = pattern.strip_prefix('^').unwrap_or(pattern);
            p.strip_suffix('$').unwrap_or(p)
        }
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() && !XSD_ESCAPED.contains(e) => out.push(e),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '(' if chars.peek() == Some(&'?') => {
                chars.next();
                if chars.peek() == Some(&':') {
                    chars.next();
                }
                out.push('(');
            }
            other => out.push(other),
        }
    }
    out
}

/// The characters XSD writes escaped (its single-character escapes).
const XSD_ESCAPED: &str = "\\|.?*+(){}-[]^";

/// The characters `\w` matches: all but punctuation, separators and "other" (XSD F.1.1).
const WORD: &str = r"\p{L}\p{M}\p{N}\p{S}";
const NOT_WORD: &str = r"\p{P}\p{Z}\p{C}";
/// The characters `\s` matches: space, tab, newline, carriage return.
const SPACE: &str = r" \t\n\r";

const CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi",
    "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So", "C", "Cc", "Cf", "Co", "Cn",
];

struct Parser {
    chars: Vec<char>,
    at: usize,
    out: String,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn alternation(&mut self) -> Result<(), PatternError> {
        self.branch()?;
        while self.peek() == Some('|') {
            self.at += 1;
            self.out.push('|');
            self.branch()?;
        }
        Ok(())
    }

    fn branch(&mut self) -> Result<(), PatternError> {
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                return Ok(());
            }
            self.atom()?;
            self.quantifier()?;
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), PatternError> {
        let Some(c) = self.peek() else { return Ok(()) };
        self.at += 1;
        match c {
            '(' => {
                self.out.push_str("(?:");
                self.alternation()?;
                if self.peek() != Some(')') {
                    return Err("a group `(` is not closed".into());
                }
                self.at += 1;
                self.out.push(')');
            }
            '[' => self.class()?,
            '.' => self.out.push_str(r"[^\n\r]"),
            '\\' => {
                let escape = self.escape()?;
                match escape {
                    Escape::Char(c) => literal(c, &mut self.out),
                    // One category stands alone: `\p{Nd}`, not `[\p{Nd}]`.
                    Escape::Set { text, negated: false }
                        if text.matches('\\').count() == 1 && text.starts_with("\\p") =>
                    {
                        self.out.push_str(&text)
                    }
                    Escape::Set { text, negated } => {
                        self.out.push('[');
                        if negated {
                            self.out.push('^');
                        }
                        self.out.push_str(&text);
                        self.out.push(']');
                    }
                }
            }
            '?' | '*' | '+' | '{' => return Err(format!("`{c}` repeats nothing at character {}", self.at)),
            ']' | '}' => return Err(format!("an unescaped `{c}` at character {}", self.at)),
            other => literal(other, &mut self.out),
        }
        Ok(())
    }

    fn quantifier(&mut self) -> Result<(), PatternError> {
        match self.peek() {
            Some(c @ ('?' | '*' | '+')) => {
                self.at += 1;
                self.out.push(c);
            }
            Some('{') => {
                self.at += 1;
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == ',') {
                    self.at += 1;
                }
                if self.peek() != Some('}') {
                    return Err(format!("a quantifier `{{` is not closed at character {start}"));
                }
                let body: String = self.chars[start..self.at].iter().collect();
                self.at += 1;
                let (low, high) = match body.split_once(',') {
                    Some((low, high)) => (low, Some(high)),
                    None => (body.as_str(), None),
                };
                let low: u32 = low.parse().map_err(|_| format!("quantifier `{{{body}}}` has no lower bound"))?;
                if let Some(high) = high.filter(|h| !h.is_empty()) {
                    let high: u32 = high.parse().map_err(|_| format!("quantifier `{{{body}}}` is not a count"))?;
                    if high < low {
                        return Err(format!("quantifier `{{{body}}}` has its bounds the wrong way round"));
                    }
                }
                if low > 1000 || high.and_then(|h| h.parse::<u32>().ok()).is_some_and(|h| h > 1000) {
                    return Err(format!("quantifier `{{{body}}}` repeats more than 1000 times"));
                }
                self.out.push('{');
                self.out.push_str(&body);
                self.out.push('}');
            }
            _ => return Ok(()),
        }
        if matches!(self.peek(), Some('?' | '*' | '+' | '{')) {
            return Err(format!("a quantifier follows a quantifier at character {}", self.at + 1));
        }
        Ok(())
    }

    /// A character class `[...]`, the `[` read.
    fn class(&mut self) -> Result<(), PatternError> {
        let mut text = String::new();
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else { return Err("a character class `[` is not closed".into()) };
            self.at += 1;
            match c {
                ']' if first => return Err(format!("an empty character class at character {}", self.at)),
                ']' => break,
                '[' => return Err(format!("`[` inside a character class at character {}", self.at)),
                '-' if self.peek() == Some('[') => {
                    return Err(format!(
                        "character class subtraction (`-[`) at character {} cannot be translated",
                        self.at
                    ))
                }
                '-' if !first && self.peek() != Some(']') => {
                    return Err(format!("a `-` that starts no range at character {}", self.at));
                }
                _ => {
                    let start = if c == '\\' {
                        match self.escape()? {
                            Escape::Char(c) => c,
                            Escape::Set { text: set, negated: false } => {
                                text.push_str(&set);
                                first = false;
                                continue;
                            }
                            Escape::Set { negated: true, .. } => {
                                return Err(format!(
                                    "a negated escape inside a character class at character {} cannot be translated",
                                    self.at
                                ))
                            }
                        }
                    } else {
                        c
                    };
                    // A range `a-z` (a `-` before `]` or `[` is not one).
                    if self.peek() == Some('-') && !matches!(self.chars.get(self.at + 1), Some(']' | '[') | None) {
                        self.at += 1;
                        let Some(end) = self.peek() else { return Err("a character class `[` is not closed".into()) };
                        self.at += 1;
                        let end = if end == '\\' {
                            match self.escape()? {
                                Escape::Char(e) => e,
                                Escape::Set { .. } => {
                                    return Err(format!("a range ends in a class escape at character {}", self.at))
                                }
                            }
                        } else if end == '[' {
                            return Err(format!("`[` inside a character class at character {}", self.at));
                        } else {
                            end
                        };
                        if end < start {
                            return Err(format!("range `{start}-{end}` has its ends the wrong way round"));
                        }
                        literal(start, &mut text);
                        text.push('-');
                        literal(end, &mut text);
                    } else {
                        literal(start, &mut text);
                    }
                }
            }
            first = false;
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        self.out.push_str(&text);
        self.out.push(']');
        Ok(())
    }

    /// An escape, the `\` read.
    fn escape(&mut self) -> Result<Escape, PatternError> {
        let Some(c) = self.peek() else { return Err("the pattern ends in `\\`".into()) };
        self.at += 1;
        let set = |text: &str, negated: bool| Ok(Escape::Set { text: text.to_string(), negated });
        match c {
            'n' => Ok(Escape::Char('\n')),
            'r' => Ok(Escape::Char('\r')),
            't' => Ok(Escape::Char('\t')),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^' => Ok(Escape::Char(c)),
            'd' => set(r"\p{Nd}", false),
            'D' => set(r"\P{Nd}", false),
            'w' => set(WORD, false),
            'W' => set(NOT_WORD, false),
            's' => set(SPACE, false),
            'S' => set(SPACE, true),
            'p' | 'P' => {
                if self.peek() != Some('{') {
                    return Err(format!("`\\{c}` without a `{{category}}`"));
                }
                let start = self.at + 1;
                let Some(len) = self.chars[start..].iter().position(|&c| c == '}') else {
                    return Err(format!("`\\{c}{{` is not closed"));
                };
                let name: String = self.chars[start..start + len].iter().collect();
                self.at = start + len + 1;
                if !CATEGORIES.contains(&name.as_str()) {
                    return Err(format!(
                        "`\\{c}{{{name}}}` cannot be translated (only Unicode general categories, not blocks)"
                    ));
                }
                Ok(Escape::Set { text: format!("\\{c}{{{name}}}"), negated: false })
            }
            'i' | 'I' | 'c' | 'C' => Err(format!("the XML name escape `\\{c}` cannot be translated")),
            other => Err(format!("`\\{other}` is not an escape of XSD patterns")),
        }
    }
}

enum Escape {
    Char(char),
    /// Class members (without brackets); `negated` when the escape matches everything else.
    Set {
        text: String,
        negated: bool,
    },
}

/// Writes `c` so that it stands for itself both inside and outside a class.
fn literal(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str(r"\n"),
        '\r' => out.push_str(r"\r"),
        '\t' => out.push_str(r"\t"),
        c if c.is_ascii_punctuation() => {
            out.push('\\');
            out.push(c);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn matches(xsd: &str, text: &str) -> bool {
        let pattern = translate(xsd).unwrap();
        regex::Regex::new(&pattern).unwrap().is_match(text)
    }

    #[test]
    fn anchored_and_literal_anchors() {
        assert!(matches("[A-Z]{2}", "AB"));
        assert!(!matches("[A-Z]{2}", "ABC"));
        assert!(matches("a^b$", "a^b$"));
        assert!(matches("a|b", "b"));
        assert!(!matches("a|b", "ab"));
    }

    #[test]
    fn escapes_mean_what_xsd_says() {
        assert!(matches(r"\d+", "٣4"));
        assert!(!matches(r"\s", "\u{a0}"));
        assert!(matches(r"\s", "\r"));
        assert!(!matches(".", "\r"));
        assert!(matches(r"\w", "£"));
        assert!(!matches(r"\w", "_"));
        assert!(matches(r"[\d\-]+", "1-2"));
        assert!(matches(r"[^a-c]", "d"));
        assert!(matches(r"[a-]", "-"));
        assert!(matches(r"\p{Lu}\P{Lu}", "Ab"));
        assert!(matches(r"(ab)?c", "c"));
        assert!(matches(r"&&~~", "&&~~"));
    }

    #[test]
    fn translated_patterns_export_as_they_were() {
        for xsd in [r"[A-Z]{2}\d", r"a\.b|(c|d)?", r"[\-^$&]+", r"\p{Lu}\s"] {
            let back = super::to_xsd(&translate(xsd).unwrap());
            assert_eq!(translate(&back).unwrap(), translate(xsd).unwrap(), "{xsd} → {back}");
        }
        assert_eq!(super::to_xsd("^[A-Za-z0-9_-]*$"), "[A-Za-z0-9_-]*");
    }

    #[test]
    fn untranslatable_constructs_are_refused() {
        for bad in [r"[a-z-[aeiou]]", r"\p{IsBasicLatin}", r"\i\c*", "a**", "(a", "[a", r"\z", "{1}"] {
            assert!(translate(bad).is_err(), "{bad}");
        }
    }
}
