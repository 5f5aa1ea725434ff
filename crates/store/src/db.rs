//! The two databases behind one small interface: statements written once with `?`
//! placeholders and values that are either integers or text, so the same SQL runs on SQLite
//! and PostgreSQL. Every value is a bound parameter; no SQL is built from data.

use crate::StoreError;

/// A bound value or a read column. `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Value {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => *v,
            Value::Text(_) => None,
        }
    }

    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Value::Text(v) => v.clone(),
            Value::Int(_) => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Value {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(Some(v.to_owned()))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(Some(v))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        Value::Text(v)
    }
}

/// What a query's columns are, in order, so PostgreSQL (strictly typed) reads them right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Text,
}

pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

/// `?` placeholders numbered for PostgreSQL (`$1`, `$2`...). Our statements have no `?`
/// inside string literals.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_params(values: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Value::Int(i) => Box::new(*i),
                Value::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn sqlite_params(values: &[Value]) -> Vec<rusqlite::types::Value> {
    values
        .iter()
        .map(|v| match v {
            Value::Int(Some(i)) => rusqlite::types::Value::Integer(*i),
            Value::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
            Value::Int(None) | Value::Text(None) => rusqlite::types::Value::Null,
        })
        .collect()
}

fn sqlite_row(row: &rusqlite::Row<'_>, kinds: &[Kind]) -> rusqlite::Result<Vec<Value>> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Ok(match k {
                Kind::Int => Value::Int(row.get::<_, Option<i64>>(i)?),
                Kind::Text => Value::Text(row.get::<_, Option<String>>(i)?),
            })
        })
        .collect()
}

fn pg_row(row: &postgres::Row, kinds: &[Kind]) -> Result<Vec<Value>, postgres::Error> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Ok(match k {
                Kind::Int => Value::Int(row.try_get::<_, Option<i64>>(i)?),
                Kind::Text => Value::Text(row.try_get::<_, Option<String>>(i)?),
            })
        })
        .collect()
}

/// Statements run inside one transaction: everything or nothing is written.
pub(crate) enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>),
}

impl<'a> Tx<'a> {
    pub(crate) fn exec(&mut self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(t) => {
                let mut st = t.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(sqlite_params(values)))? as u64)
            }
            Tx::Postgres(t) => {
                let sql = numbered(sql);
                let params = pg_params(values);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|b| b.as_ref()).collect();
                Ok(t.execute(sql.as_str(), &refs)?)
            }
        }
    }

    pub(crate) fn query(
        &mut self,
        sql: &str,
        values: &[Value],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        match self {
            Tx::Sqlite(t) => {
                let mut st = t.prepare_cached(sql)?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(sqlite_params(values)), |r| {
                        sqlite_row(r, kinds)
                    })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Tx::Postgres(t) => {
                let sql = numbered(sql);
                let params = pg_params(values);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|b| b.as_ref()).collect();
                let rows = t.query(sql.as_str(), &refs)?;
                rows.iter()
                    .map(|r| pg_row(r, kinds).map_err(StoreError::from))
                    .collect()
            }
        }
    }

    /// The PostgreSQL transaction, for what only PostgreSQL has (COPY).
    pub(crate) fn postgres(&mut self) -> Option<&mut postgres::Transaction<'a>> {
        match self {
            Tx::Sqlite(_) => None,
            Tx::Postgres(t) => Some(t),
        }
    }

    pub(crate) fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit()?,
            Tx::Postgres(t) => t.commit()?,
        }
        Ok(())
    }
}

impl Db {
    pub(crate) fn transaction(&mut self) -> Result<Tx<'_>, StoreError> {
        Ok(match self {
            Db::Sqlite(c) => Tx::Sqlite(c.transaction()?),
            Db::Postgres(c) => Tx::Postgres(c.transaction()?),
        })
    }

    pub(crate) fn exec(&mut self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        let mut tx = self.transaction()?;
        let n = tx.exec(sql, values)?;
        tx.commit()?;
        Ok(n)
    }

    pub(crate) fn query(
        &mut self,
        sql: &str,
        values: &[Value],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(sqlite_params(values)), |r| {
                        sqlite_row(r, kinds)
                    })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(c) => {
                let sql = numbered(sql);
                let params = pg_params(values);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|b| b.as_ref()).collect();
                let rows = c.query(sql.as_str(), &refs)?;
                rows.iter()
                    .map(|r| pg_row(r, kinds).map_err(StoreError::from))
                    .collect()
            }
        }
    }
}

/// `(?, ?, ?), (?, ?, ?)`: the VALUES of a multi-row insert of `rows` rows of `cols` columns
/// (placeholders only; the values are bound).
pub(crate) fn value_groups(rows: usize, cols: usize) -> String {
    let group = format!("({})", vec!["?"; cols].join(", "));
    vec![group; rows].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_groups_are_placeholders() {
        assert_eq!(value_groups(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(value_groups(1, 1), "(?)");
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
    }
}
