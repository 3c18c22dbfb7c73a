//! What can go wrong with the database, each refusal its own variant and message.
//!
//! No message carries a password, a full database URL with its password, or a value read
//! from or written to the database (those are sealed records and keyed digests, but they are
//! still nobody's business in a log).

/// A database refusal or failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The database URL does not parse (shown with any password replaced by `***`).
    #[error("the database URL {url} is not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")]
    BadUrl {
        /// The URL, redacted.
        url: String,
    },
    /// Nothing answered at the database's address.
    #[error("cannot reach the database at {host_port}: check the host, the port and that PostgreSQL is running")]
    Unreachable {
        /// `host:port` (or the socket path).
        host_port: String,
    },
    /// PostgreSQL refused the user or its password.
    #[error("the database refused user {user}: check the user name and password in the database URL")]
    Auth {
        /// The user name the URL gave.
        user: String,
    },
    /// The server has no database of that name.
    #[error("the database server has no database {name}: create it (createdb {name}) or fix the URL")]
    NoDatabase {
        /// The database name the URL gave.
        name: String,
    },
    /// The database holds a migration this build does not know.
    #[error("the database was migrated by a newer version of Casebridge (migration {version}); upgrade this replica")]
    NewerSchema {
        /// The newest unknown migration's version.
        version: i64,
    },
    /// `init_agency` on a database that already holds one.
    #[error("this database already holds agency {agency}")]
    AlreadyInitialised {
        /// The agency it holds.
        agency: uuid::Uuid,
    },
    /// A compare-and-swap found something else than expected (another replica changed it
    /// meanwhile), a single-use thing was already used, or a unique key was taken.
    #[error("{what}: another replica changed it meanwhile, or it was already used")]
    Conflict {
        /// What conflicted (a fixed phrase, never a value).
        what: &'static str,
    },
    /// The thing asked for does not exist.
    #[error("no such {what}")]
    NotFound {
        /// What was looked for (a fixed phrase, never a value).
        what: &'static str,
    },
    /// A caller's argument is out of range (a fixed description, never a value).
    #[error("invalid argument: {what}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
    },
    /// The connection to the database was lost, or no connection could be had in time: the
    /// endpoint answers 503 and the client retries.
    #[error("the database is unavailable right now; try again shortly")]
    Unavailable,
    /// Anything else the database reported (its own message, which carries no values).
    #[error("database error: {0}")]
    Other(String),
}

/// A PostgreSQL error code (SQLSTATE) of `e`, when it is a server error.
fn code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Classifies an error met while running (not while connecting): lost connections and
/// exhausted pools are [`DbError::Unavailable`], serialisation failures and unique
/// violations are [`DbError::Conflict`] about `what`.
pub(crate) fn running(e: sqlx::Error, what: &'static str) -> DbError {
    match &e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Tls(_) => {
            DbError::Unavailable
        }
        sqlx::Error::Protocol(_) => DbError::Unavailable,
        _ => match code(&e).as_deref() {
            // connection exceptions, shutdowns, too many connections, the server starting up
            Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => DbError::Unavailable,
            // unique violation, serialisation failure, deadlock, a lock wait timed out
            Some("23505" | "40001" | "40P01" | "55P03") => DbError::Conflict { what },
            _ => DbError::Other(e.to_string()),
        },
    }
}

/// Classifies an error met while connecting, naming what the operator must fix.
pub(crate) fn connecting(e: sqlx::Error, opts: &sqlx::postgres::PgConnectOptions) -> DbError {
    let host_port = || {
        let host = opts.get_host();
        if host.starts_with('/') {
            host.to_string()
        } else {
            format!("{host}:{}", opts.get_port())
        }
    };
    match &e {
        sqlx::Error::Io(_) => DbError::Unreachable { host_port: host_port() },
        // The server and the URL's sslmode disagree: sqlx's message says how.
        sqlx::Error::Tls(_) => DbError::Other(e.to_string()),
        _ => match code(&e).as_deref() {
            Some("28P01" | "28000") => DbError::Auth { user: opts.get_username().to_string() },
            Some("3D000") => DbError::NoDatabase { name: opts.get_database().unwrap_or(opts.get_username()).to_string() },
            _ => running(e, "connecting"),
        },
    }
}

/// A database URL for messages and logs: the password (in the user part or a `password=`
/// query parameter) replaced by `***`. A URL that does not parse is not shown at all, since
/// where its password is cannot be known.
pub fn redacted(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a database URL that does not parse)".to_string();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return "(a database URL that does not parse)".to_string();
    }
    if parsed.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") { "***".to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn redacted_hides_the_password_wherever_it_is() {
        assert_eq!(redacted("postgres://u:s3cret@db:5432/cb"), "postgres://u:***@db:5432/cb");
        assert_eq!(redacted("postgres://u@db/cb?password=s3cret&sslmode=require"), "postgres://u@db/cb?password=***&sslmode=require");
        assert_eq!(redacted("postgres://u@db/cb"), "postgres://u@db/cb");
        let odd = redacted("not a url with s3cret");
        assert!(!odd.contains("s3cret"), "{odd}");
    }
}
