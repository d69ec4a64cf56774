//! Multi-row INSERTs with bound values on SQLite, for settlement's bulk writes (transfers,
//! balances, mints, log leaves: hundreds of thousands of rows a day).
//!
//! Written-out SQL (the values as literals) makes SQLite parse every row again: in the day
//! benchmark, parsing was a sixth of the CPU. Here a statement holds a fixed number of rows
//! of `?` placeholders, so the same few statements (a full chunk, and power-of-two pieces for
//! the rest) are prepared once per connection by diesel's statement cache and reused; only the
//! values are bound. PostgreSQL keeps its own path (one round trip per chunk matters more
//! there than parsing).

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Binary, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl, SqliteConnection};

/// Rows per full statement. With 18 columns that is 4,608 bound values, far below SQLite's
/// 32,766; the rest of a batch goes in power-of-two pieces, so at most 9 statement shapes
/// per table are ever cached.
const ROWS_PER_STATEMENT: usize = 256;

/// One bound value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

/// `head` (e.g. `INSERT INTO t (a, b) VALUES `), then one `(?, ?)` group per row, then `tail`
/// (e.g. an `ON CONFLICT` clause).
struct Rows<'q> {
    head: &'q str,
    tail: &'q str,
    columns: usize,
    values: &'q [Value<'q>],
}

impl QueryId for Rows<'_> {
    type QueryId = ();
    // Not static: the statement cache keys these by their SQL text, which is the same for
    // every statement of the same table and row count.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Sqlite> for Rows<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.head);
        for (i, row) in self.values.chunks(self.columns).enumerate() {
            out.push_sql(if i == 0 { "(" } else { ",(" });
            for (j, value) in row.iter().enumerate() {
                if j > 0 {
                    out.push_sql(",");
                }
                match value {
                    Value::Int(v) => out.push_bind_param::<BigInt, _>(v)?,
                    Value::OptInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                    Value::Text(v) => out.push_bind_param::<Text, _>(*v)?,
                    Value::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                    // SQLite binds a zero-length blob as NULL (diesel passes a null pointer),
                    // so an empty one is written as a literal.
                    Value::Blob([]) => out.push_sql("x''"),
                    Value::Blob(v) => out.push_bind_param::<Binary, _>(*v)?,
                }
            }
            out.push_sql(")");
        }
        out.push_sql(self.tail);
        Ok(())
    }
}

impl RunQueryDsl<SqliteConnection> for Rows<'_> {}

/// Inserts `values` (row after row, `columns` values each) with `head` and `tail` around the
/// rows. `values.len()` must be a multiple of `columns`.
pub(crate) fn insert(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    columns: usize,
    values: &[Value<'_>],
) -> QueryResult<()> {
    debug_assert_eq!(values.len() % columns.max(1), 0);
    let mut rest = values;
    while !rest.is_empty() {
        let rows = rest.len() / columns;
        // A full statement, or the largest power of two that fits what is left.
        let take = if rows >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << rows.ilog2()
        };
        let (now, later) = rest.split_at(take * columns);
        Rows {
            head,
            tail,
            columns,
            values: now,
        }
        .execute(conn)?;
        rest = later;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    use super::*;

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        a: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        b: Option<i64>,
        #[diesel(sql_type = Text)]
        c: String,
        #[diesel(sql_type = Nullable<Text>)]
        d: Option<String>,
        #[diesel(sql_type = Binary)]
        e: Vec<u8>,
    }

    /// Every row arrives exactly once, whatever the count (full statements, power-of-two
    /// pieces, one row), including texts SQL would need quoted, and an upsert tail works.
    #[test]
    fn every_row_is_inserted_once_with_its_values() {
        let mut conn = SqliteConnection::establish(":memory:").expect("sqlite");
        for count in [0usize, 1, 2, 3, 255, 256, 257, 700] {
            conn.batch_execute(
                "DROP TABLE IF EXISTS t; CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER, c TEXT NOT NULL, d TEXT, e BLOB NOT NULL);",
            )
            .expect("table");
            let texts: Vec<String> = (0..count).map(|i| format!("it's row {i}")).collect();
            let blobs: Vec<[u8; 3]> = (0..count).map(|i| [0, (i % 256) as u8, b'\'']).collect();
            let mut values = Vec::new();
            for (i, (text, blob)) in texts.iter().zip(&blobs).enumerate() {
                values.push(Value::Int(i as i64));
                values.push(Value::OptInt((i % 2 == 0).then_some(i as i64 * 10)));
                values.push(Value::Text(text));
                values.push(Value::OptText((i % 3 == 0).then_some("x")));
                values.push(Value::Blob(blob));
            }
            insert(
                &mut conn,
                "INSERT INTO t (a, b, c, d, e) VALUES ",
                "",
                5,
                &values,
            )
            .expect("insert");
            let rows: Vec<Row> = diesel::sql_query("SELECT a, b, c, d, e FROM t ORDER BY a")
                .load(&mut conn)
                .expect("read");
            assert_eq!(rows.len(), count);
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(
                    row,
                    &Row {
                        a: i as i64,
                        b: (i % 2 == 0).then_some(i as i64 * 10),
                        c: format!("it's row {i}"),
                        d: (i % 3 == 0).then(|| "x".to_owned()),
                        e: blobs[i].to_vec(),
                    }
                );
            }
        }
        let again = [
            Value::Int(1),
            Value::OptInt(Some(-5)),
            Value::Text("new"),
            Value::OptText(None),
            Value::Blob(&[]),
        ];
        insert(
            &mut conn,
            "INSERT INTO t (a, b, c, d, e) VALUES ",
            " ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c",
            5,
            &again,
        )
        .expect("upsert");
        let row: Row = diesel::sql_query("SELECT a, b, c, d, e FROM t WHERE a = 1")
            .get_result(&mut conn)
            .expect("read");
        assert_eq!((row.b, row.c.as_str()), (Some(-5), "new"));
    }
}
