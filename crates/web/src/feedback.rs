//! "Was this page helpful?" answers, kept in an SQLite database (WAL) in the user's data
//! directory so they survive restarts. The only thing any endpoint changes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::Serialize;

/// Longest comment accepted, in characters.
pub const MAX_COMMENT: usize = 1000;

/// One of the three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Yes,
    Partly,
    No,
}

impl Answer {
    pub fn parse(s: &str) -> Option<Answer> {
        match s {
            "yes" => Some(Answer::Yes),
            "partly" => Some(Answer::Partly),
            "no" => Some(Answer::No),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::Partly => "partly",
            Answer::No => "no",
        }
    }
}

/// Why the feedback store failed. The cause is part of the message (in a field named `err`)
/// and not chained as `source()`, so a caller printing the chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the data directory {}: {err}", .path.display())]
    Dir { path: PathBuf, err: std::io::Error },
    #[error("feedback database {}: {err}", .path.display())]
    Open { path: PathBuf, err: rusqlite::Error },
    #[error("feedback database: {err}")]
    Sql { err: rusqlite::Error },
    #[error("feedback database lock poisoned")]
    Poisoned,
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Error {
        Error::Sql { err }
    }
}

/// Answer counts for one port.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub port: u16,
    pub yes: u64,
    pub partly: u64,
    pub no: u64,
}

/// A stored comment.
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub port: u16,
    pub answer: String,
    pub comment: String,
    /// Unix seconds.
    pub at: i64,
}

/// Answer counts over all ports.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub yes: u64,
    pub partly: u64,
    pub no: u64,
}

/// The feedback page's data.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub total: Totals,
    /// Per port, most answers first (at most 200).
    pub ports: Vec<Counts>,
    /// Newest first (at most 50).
    pub comments: Vec<Comment>,
}

#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) `dir/feedback.sqlite3`.
    pub fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|err| Error::Dir {
            path: dir.to_owned(),
            err,
        })?;
        let path = dir.join("feedback.sqlite3");
        let open = |path: &Path| -> rusqlite::Result<Connection> {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.busy_timeout(std::time::Duration::from_secs(2))?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS feedback (
                    id INTEGER PRIMARY KEY,
                    port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
                    answer TEXT NOT NULL CHECK (answer IN ('yes', 'partly', 'no')),
                    comment TEXT NOT NULL DEFAULT '',
                    lang TEXT NOT NULL DEFAULT 'en',
                    at INTEGER NOT NULL
                );
                CREATE INDEX IF NOT EXISTS feedback_port ON feedback (port);",
            )?;
            Ok(conn)
        };
        let conn = open(&path).map_err(|err| Error::Open {
            path: path.clone(),
            err,
        })?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub fn add(&self, port: u16, answer: Answer, comment: &str, lang: &str) -> Result<(), Error> {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let conn = self.conn.lock().map_err(|_| Error::Poisoned)?;
        conn.execute(
            "INSERT INTO feedback (port, answer, comment, lang, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![port, answer.as_str(), comment, lang, at],
        )?;
        Ok(())
    }

    pub fn summary(&self) -> Result<Summary, Error> {
        let conn = self.conn.lock().map_err(|_| Error::Poisoned)?;
        let mut stmt = conn.prepare(
            "SELECT port,
                    SUM(answer = 'yes'), SUM(answer = 'partly'), SUM(answer = 'no')
             FROM feedback GROUP BY port ORDER BY COUNT(*) DESC, port LIMIT 200",
        )?;
        let ports: Vec<Counts> = stmt
            .query_map([], |r| {
                Ok(Counts {
                    port: r.get(0)?,
                    yes: r.get(1)?,
                    partly: r.get(2)?,
                    no: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let total = conn.query_row(
            "SELECT COALESCE(SUM(answer = 'yes'), 0), COALESCE(SUM(answer = 'partly'), 0),
                    COALESCE(SUM(answer = 'no'), 0) FROM feedback",
            [],
            |r| {
                Ok(Totals {
                    yes: r.get(0)?,
                    partly: r.get(1)?,
                    no: r.get(2)?,
                })
            },
        )?;
        let mut stmt = conn.prepare(
            "SELECT port, answer, comment, at FROM feedback WHERE comment != ''
             ORDER BY id DESC LIMIT 50",
        )?;
        let comments = stmt
            .query_map([], |r| {
                Ok(Comment {
                    port: r.get(0)?,
                    answer: r.get(1)?,
                    comment: r.get(2)?,
                    at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Summary {
            total,
            ports,
            comments,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stores_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.add(797, Answer::Yes, "good <b>", "en").unwrap();
            s.add(797, Answer::No, "", "he").unwrap();
            s.add(22, Answer::Partly, "", "de").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let sum = s.summary().unwrap();
        assert_eq!(
            sum.ports[0],
            Counts {
                port: 797,
                yes: 1,
                partly: 0,
                no: 1
            }
        );
        assert_eq!(sum.total.partly, 1);
        assert_eq!(sum.comments.len(), 1);
        assert_eq!(sum.comments[0].comment, "good <b>");
    }

    /// `e` as the CLI prints it (`{:#}`: the message, then every `source()` in the chain),
    /// with the cause's own text, which must appear exactly once.
    fn chain_and_cause(e: Error) -> (String, String) {
        let cause = match &e {
            Error::Dir { err, .. } => err.to_string(),
            Error::Open { err, .. } | Error::Sql { err } => err.to_string(),
            Error::Poisoned => unreachable!(),
        };
        assert!(std::error::Error::source(&e).is_none(), "{e:?}");
        (format!("{:#}", anyhow::Error::from(e)), cause)
    }

    #[test]
    fn errors_name_their_cause_once() {
        let dir = tempfile::tempdir().unwrap();

        // A data directory under a regular file cannot be created.
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = Store::open(&file.join("sub")).unwrap_err();
        assert!(matches!(e, Error::Dir { .. }), "{e:?}");
        let os = std::fs::create_dir_all(file.join("sub"))
            .unwrap_err()
            .to_string();
        let (text, cause) = chain_and_cause(e);
        assert_eq!(cause, os);
        assert_eq!(text.matches(&os).count(), 1, "{text}");
        assert!(
            text.starts_with("cannot create the data directory"),
            "{text}"
        );

        // The database file is a directory: SQLite cannot open it.
        let db_dir = dir.path().join("db");
        std::fs::create_dir_all(db_dir.join("feedback.sqlite3")).unwrap();
        let e = Store::open(&db_dir).unwrap_err();
        assert!(matches!(e, Error::Open { .. }), "{e:?}");
        let (text, cause) = chain_and_cause(e);
        assert!(!cause.is_empty());
        assert_eq!(text.matches(&cause).count(), 1, "{text}");

        // A statement fails: the table was dropped behind the store's back.
        let s = Store::open(dir.path()).unwrap();
        Connection::open(dir.path().join("feedback.sqlite3"))
            .unwrap()
            .execute_batch("DROP TABLE feedback")
            .unwrap();
        let e = s.add(797, Answer::Yes, "", "en").unwrap_err();
        assert!(matches!(e, Error::Sql { .. }), "{e:?}");
        let (text, cause) = chain_and_cause(e);
        assert!(cause.contains("no such table"), "{cause}");
        assert_eq!(text.matches(&cause).count(), 1, "{text}");
        assert_eq!(text.matches("no such table").count(), 1, "{text}");
    }
}
