//! A SQL tokenizer for PostgreSQL and SQLite migrations: enough of the lexical grammar to
//! cut a file into statements and to read what a statement drops or builds.
//!
//! It knows what may hide a `;`: string literals (`'…'` with `''`, `E'…'` with backslash
//! escapes), quoted identifiers (`"…"`), dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`),
//! line comments (`--`) and block comments, which nest in PostgreSQL (`/* /* */ */`).
//! It does not parse: a statement ends at a `;` outside all of those. (The SQL-standard
//! `BEGIN ATOMIC … END` function body, which contains bare `;`, is not supported: write
//! such a function with a dollar-quoted body.)

// Over 400 lines with its unit tests: the lexer and the few DDL readers built on its
// tokens (drops, renames, concurrent index builds) belong together.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A keyword, an unquoted identifier or a number.
    Word,
    /// A double-quoted identifier.
    QuotedIdent,
    /// A string literal of any form, or a dollar-quoted body.
    Literal,
    /// Any other character (`;`, `,`, `(`, `.` …), one per token.
    Punct,
}

/// One token: its kind and its text in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) kind: Kind,
    pub(crate) text: &'a str,
    /// Byte offset of the token in the source.
    pub(crate) start: usize,
}

impl Token<'_> {
    /// Whether this is the keyword (or unquoted word) `word`, case-insensitively.
    pub(crate) fn is(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(word)
    }

    /// Whether this is the punctuation `c`.
    pub(crate) fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct && self.text.starts_with(c)
    }

    /// The name this token stands for, as the catalog stores it: an unquoted word folded
    /// to lower case, a quoted identifier unquoted; `None` for other tokens.
    pub(crate) fn name(&self) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text.to_ascii_lowercase()),
            Kind::QuotedIdent => Some(
                self.text
                    .trim_start_matches('"')
                    .strip_suffix('"')
                    .unwrap_or(self.text)
                    .replace("\"\"", "\""),
            ),
            Kind::Literal | Kind::Punct => None,
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || !c.is_ascii()
}

fn is_word_char(c: char) -> bool {
    is_word_start(c) || c == '$'
}

/// The tokens of `sql`, comments and whitespace left out.
pub(crate) fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| sql[i..].chars().next();
    while let Some(c) = at(i) {
        let start = i;
        let next = at(i + c.len_utf8());
        let kind = match c {
            _ if c.is_whitespace() => {
                i += c.len_utf8();
                continue;
            }
            '-' if next == Some('-') => {
                i = sql[i..].find('\n').map_or(sql.len(), |n| i + n + 1);
                continue;
            }
            '/' if next == Some('*') => {
                i = block_comment_end(sql, i);
                continue;
            }
            '\'' => {
                i = quoted_end(bytes, i + 1, b'\'', false);
                Kind::Literal
            }
            'e' | 'E' if next == Some('\'') => {
                i = quoted_end(bytes, i + 2, b'\'', true);
                Kind::Literal
            }
            '"' => {
                i = quoted_end(bytes, i + 1, b'"', false);
                Kind::QuotedIdent
            }
            '$' => match dollar_tag(sql, i) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = sql[body..]
                        .find(tag)
                        .map_or(sql.len(), |n| body + n + tag.len());
                    Kind::Literal
                }
                None => {
                    i += 1;
                    // A parameter ($1) reads as one punctuation token and a number.
                    Kind::Punct
                }
            },
            _ if is_word_start(c) => {
                i += sql[i..]
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(sql.len() - i);
                Kind::Word
            }
            _ => {
                i += c.len_utf8();
                Kind::Punct
            }
        };
        out.push(Token {
            kind,
            text: &sql[start..i],
            start,
        });
    }
    out
}

/// The end (exclusive) of the block comment opening at `start`; nested comments count.
fn block_comment_end(sql: &str, start: usize) -> usize {
    let bytes = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    sql.len()
}

/// The end (exclusive) of a literal whose body starts at `from` and closes with `quote`
/// (doubled, it stands for itself); with `backslash`, `\` escapes the next byte.
fn quoted_end(bytes: &[u8], from: usize, quote: u8, backslash: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b if b == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The opening `$tag$` (or `$$`) at `start`, if one is there.
fn dollar_tag(sql: &str, start: usize) -> Option<&str> {
    let rest = &sql[start + 1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.is_empty()
        || (tag.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && tag.chars().all(|c| is_word_start(c) && c != '$'));
    valid.then(|| &sql[start..start + end + 2])
}

/// `sql` cut into statements, each trimmed and keeping its `;`; statements made of
/// comments and whitespace only are left out.
pub(crate) fn split_statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    for token in tokens(sql) {
        let start = *first.get_or_insert(token.start);
        if token.is_punct(';') {
            out.push(&sql[start..token.start + 1]);
            first = None;
        }
    }
    if let Some(start) = first {
        out.push(sql[start..].trim_end());
    }
    out.retain(|s| *s != ";");
    out
}

/// A table or a column a statement drops.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dropped {
    /// `DROP TABLE t`.
    Table(String),
    /// `ALTER TABLE t DROP [COLUMN] c`.
    Column(String, String),
}

/// What one statement says about tables: the ones it drops or alters (by name, schema
/// left out), the columns it drops, and a table it renames (`ALTER TABLE a RENAME TO b`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TableEffects {
    pub(crate) touched: Vec<String>,
    pub(crate) dropped: Vec<Dropped>,
    pub(crate) renamed: Vec<(String, String)>,
}

/// The tables `statement` drops or alters: `DROP TABLE`, `ALTER TABLE`.
pub(crate) fn table_effects(statement: &str) -> TableEffects {
    let tokens = tokens(statement);
    let mut effects = TableEffects::default();
    let words = |n: usize| tokens.get(n);
    let is = |n: usize, w: &str| words(n).is_some_and(|t| t.is(w));
    if is(0, "DROP") && is(1, "TABLE") {
        let mut n = 2;
        if is(n, "IF") && is(n + 1, "EXISTS") {
            n += 2;
        }
        for name in comma_list(&tokens[n.min(tokens.len())..]) {
            effects.touched.push(name.clone());
            effects.dropped.push(Dropped::Table(name));
        }
    } else if is(0, "ALTER") && is(1, "TABLE") {
        let mut n = 2;
        if is(n, "IF") && is(n + 1, "EXISTS") {
            n += 2;
        }
        if is(n, "ONLY") {
            n += 1;
        }
        let Some((table, after)) = qualified_name(&tokens[n.min(tokens.len())..]) else {
            return effects;
        };
        effects.touched.push(table.clone());
        for action in top_level(after, ',') {
            let is = |n: usize, w: &str| action.get(n).is_some_and(|t| t.is(w));
            if is(0, "RENAME") && is(1, "TO") {
                if let Some((to, _)) = qualified_name(&action[2..]) {
                    effects.renamed.push((table.clone(), to));
                }
            } else if is(0, "DROP") && !is(1, "CONSTRAINT") {
                let mut n = 1 + usize::from(is(1, "COLUMN"));
                if is(n, "IF") && is(n + 1, "EXISTS") {
                    n += 2;
                }
                if let Some(column) = action.get(n).and_then(Token::name) {
                    effects.dropped.push(Dropped::Column(table.clone(), column));
                }
            }
        }
    }
    effects
}

/// A possibly schema-qualified name at the start of `tokens` (the schema left out), and
/// the tokens after it.
fn qualified_name<'t, 'a>(tokens: &'t [Token<'a>]) -> Option<(String, &'t [Token<'a>])> {
    let mut name = tokens.first()?.name()?;
    let mut rest = &tokens[1..];
    while rest.first().is_some_and(|t| t.is_punct('.')) {
        name = rest.get(1)?.name()?;
        rest = &rest[2..];
    }
    Some((name, rest))
}

/// The names of a comma-separated list (`a, s.b CASCADE`).
fn comma_list(tokens: &[Token<'_>]) -> Vec<String> {
    top_level(tokens, ',')
        .into_iter()
        .filter_map(|item| qualified_name(item).map(|(name, _)| name))
        .collect()
}

/// `tokens` cut at each `sep` outside parentheses; a trailing `;` is left out.
fn top_level<'t, 'a>(tokens: &'t [Token<'a>], sep: char) -> Vec<&'t [Token<'a>]> {
    let tokens = match tokens.last() {
        Some(t) if t.is_punct(';') => &tokens[..tokens.len() - 1],
        _ => tokens,
    };
    let mut out = Vec::new();
    let (mut depth, mut from) = (0usize, 0);
    for (n, t) in tokens.iter().enumerate() {
        if t.is_punct('(') {
            depth += 1;
        } else if t.is_punct(')') {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && t.is_punct(sep) {
            out.push(&tokens[from..n]);
            from = n + 1;
        }
    }
    out.push(&tokens[from..]);
    out
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name` statement builds.
pub(crate) fn concurrent_index(statement: &str) -> Option<String> {
    let tokens = tokens(statement);
    let is = |n: usize, w: &str| tokens.get(n).is_some_and(|t| t.is(w));
    let mut n = 1;
    if !is(0, "CREATE") {
        return None;
    }
    if is(n, "UNIQUE") {
        n += 1;
    }
    if !(is(n, "INDEX") && is(n + 1, "CONCURRENTLY")) {
        return None;
    }
    n += 2;
    if is(n, "IF") && is(n + 1, "NOT") && is(n + 2, "EXISTS") {
        n += 3;
    }
    if is(n, "ON") {
        return None;
    }
    qualified_name(&tokens[n.min(tokens.len())..]).map(|(name, _)| name)
}

/// `statement` without the word `CONCURRENTLY` (which refuses a transaction), for a
/// probe that builds the same objects inside one.
pub(crate) fn without_concurrently(statement: &str) -> String {
    let tokens = tokens(statement);
    let is = |n: usize, w: &str| tokens.get(n).is_some_and(|t| t.is(w));
    let at = (is(0, "CREATE") || is(0, "DROP") || is(0, "REINDEX"))
        .then(|| tokens.iter().take(4).position(|t| t.is("CONCURRENTLY")))
        .flatten();
    match at {
        Some(n) => {
            let t = tokens[n];
            format!(
                "{}{}",
                &statement[..t.start],
                &statement[t.start + t.text.len()..]
            )
        }
        None => statement.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_quotes_bodies_and_comments() {
        let sql = r#"-- a note; with a semicolon
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.note := 'a;b';
  RETURN NEW;
END $$;
/* block; /* nested; */ still comment; */
CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;' || $$;$$ $body$;
INSERT INTO t (s, e, "odd;name") VALUES ('it''s; fine', E'back\'slash; \\', 1);
SELECT $1, a$b FROM t;
SELECT 1"#;
        let parts = split_statements(sql);
        assert_eq!(parts.len(), 5, "{parts:#?}");
        assert!(parts[0].starts_with("CREATE FUNCTION f()") && parts[0].ends_with("END $$;"));
        assert!(parts[1].starts_with("CREATE FUNCTION g()") && parts[1].ends_with("$body$;"));
        assert!(parts[2].starts_with("INSERT INTO t") && parts[2].ends_with("1);"));
        assert_eq!(parts[3], "SELECT $1, a$b FROM t;");
        assert_eq!(parts[4], "SELECT 1");
    }

    #[test]
    fn comments_and_empty_statements_are_not_statements() {
        assert!(split_statements("-- only a comment\n/* and /* nested */ */ ;\n").is_empty());
        assert_eq!(
            split_statements(
                "-- note\nDROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY i\n  ON t (c);\n"
            ),
            vec![
                "DROP INDEX CONCURRENTLY IF EXISTS i;",
                "CREATE INDEX CONCURRENTLY i\n  ON t (c);"
            ]
        );
    }

    #[test]
    fn drops_and_renames_are_read_from_ddl() {
        let e = table_effects("DROP TABLE IF EXISTS public.a, \"B\" CASCADE;");
        assert_eq!(
            e.dropped,
            vec![Dropped::Table("a".into()), Dropped::Table("B".into())]
        );
        let e = table_effects(
            "ALTER TABLE ONLY book DROP COLUMN IF EXISTS created_at, DROP CONSTRAINT c, ADD CHECK (a IN (1, 2)), DROP isbn;",
        );
        assert_eq!(e.touched, vec!["book"]);
        assert_eq!(
            e.dropped,
            vec![
                Dropped::Column("book".into(), "created_at".into()),
                Dropped::Column("book".into(), "isbn".into())
            ]
        );
        let e = table_effects("ALTER TABLE review RENAME TO review_new;");
        assert_eq!(e.renamed, vec![("review".into(), "review_new".into())]);
        assert!(
            table_effects("ALTER TABLE r ALTER COLUMN b DROP NOT NULL;")
                .dropped
                .is_empty()
        );
        assert_eq!(table_effects("SELECT 1;"), TableEffects::default());
    }

    #[test]
    fn a_concurrent_index_build_is_recognised_by_its_name() {
        assert_eq!(
            concurrent_index("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u_idx ON t (c);"),
            Some("u_idx".into())
        );
        assert_eq!(
            concurrent_index("create index concurrently \"I\" on t (c)"),
            Some("I".into())
        );
        assert_eq!(
            concurrent_index("CREATE INDEX CONCURRENTLY ON t (c);"),
            None
        );
        assert_eq!(concurrent_index("CREATE INDEX i ON t (c);"), None);
    }

    #[test]
    fn a_probe_builds_concurrent_indexes_in_its_transaction() {
        assert_eq!(
            without_concurrently("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u ON t (c);"),
            "CREATE UNIQUE INDEX  IF NOT EXISTS u ON t (c);"
        );
        assert_eq!(
            without_concurrently("DROP INDEX CONCURRENTLY IF EXISTS u;"),
            "DROP INDEX  IF EXISTS u;"
        );
        assert_eq!(
            without_concurrently("SELECT 'CONCURRENTLY';"),
            "SELECT 'CONCURRENTLY';"
        );
    }
}
