//! A fresh PostgreSQL database for each test that needs one, on the server `CAREGATE_TEST_POSTGRES` names
//! (`.ci/run` starts Debian's PostgreSQL and sets it), dropped when the test ends. Without the variable such a
//! test fails, saying how to give one: it never passes without having run.

use std::path::Path;
use std::str::FromStr as _;

use caregate_gateway::config::StoreConfig;
use tokio_postgres::config::Host;
use tokio_postgres::NoTls;

/// What a test without a server says.
pub const HOW: &str = "this test needs PostgreSQL: set CAREGATE_TEST_POSTGRES to the URL of a role that may create \
databases and roles, e.g. postgres://caregate_test:PASSWORD@127.0.0.1:5432/postgres (.ci/run installs Debian's postgresql, \
starts it and sets this)";

pub struct TestDatabase {
    pub name: String,
    admin: tokio_postgres::Config,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
}

impl TestDatabase {
    /// Creates a database with a name of its own.
    pub fn new() -> TestDatabase {
        let url = std::env::var("CAREGATE_TEST_POSTGRES").unwrap_or_else(|_| panic!("{HOW}"));
        let admin = tokio_postgres::Config::from_str(&url).unwrap_or_else(|e| panic!("CAREGATE_TEST_POSTGRES: {e}"));
        let host = match admin.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            _ => panic!("CAREGATE_TEST_POSTGRES must name a TCP host (the gateway connects over TCP)"),
        };
        let database = TestDatabase {
            name: format!("caregate_test_{}", uuid::Uuid::new_v4().simple()),
            port: admin.get_ports().first().copied().unwrap_or(5432),
            user: admin.get_user().unwrap_or("postgres").to_string(),
            password: admin.get_password().map(|p| String::from_utf8_lossy(p).into_owned()),
            host,
            admin,
        };
        database.admin(&format!("CREATE DATABASE {}", database.name));
        database
    }

    /// `[store]` for this database: its URL without the password, which goes to `dir/db-password`.
    pub fn store_config(&self, dir: &Path) -> StoreConfig {
        self.store_config_as(dir, &self.user, self.password.as_deref())
    }

    /// `[store]` for this database as another role, its password in `dir/<role>-password`.
    pub fn store_config_as(&self, dir: &Path, role: &str, password: Option<&str>) -> StoreConfig {
        let password_file = password.map(|password| {
            let path = dir.join(format!("{role}-password"));
            std::fs::write(&path, password).expect("writes the password file");
            path
        });
        StoreConfig {
            kind: "postgres".into(),
            data: dir.join("data"),
            url: Some(format!("postgres://{role}@{}:{}/{}", self.host, self.port, self.name)),
            password_file,
            sslmode: "disable".into(),
            ..StoreConfig::default()
        }
    }

    /// Runs statements in this database as the role of CAREGATE_TEST_POSTGRES (its owner).
    pub fn in_database(&self, sql: &str) {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        run(config, sql.to_string(), |client, sql| async move { client.batch_execute(&sql).await });
    }

    /// Runs a statement in this database as `role`: `ok`, or the server's error.
    pub fn as_role(&self, role: &str, password: &str, sql: &str) -> String {
        let mut config = self.admin.clone();
        config.dbname(&self.name).user(role).password(password);
        run(config, sql.to_string(), |client, sql| async move {
            Ok(match client.batch_execute(&sql).await {
                Ok(()) => "ok".to_string(),
                Err(error) => error.as_db_error().map_or_else(|| error.to_string(), |e| e.message().to_string()),
            })
        })
    }

    /// Drops the database now (again when the test ends changes nothing). Tried a few times: FORCE cannot end
    /// a connection of another role (an autovacuum worker that has just started on it), which ends soon.
    pub fn drop_database(&self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        for _ in 0..20 {
            let tried = run(self.admin.clone(), sql.clone(), |client, sql| async move {
                Ok(client.batch_execute(&sql).await.map_err(|e| e.to_string()))
            });
            match tried {
                Ok(()) => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(250)),
            }
        }
        self.admin(&sql);
    }

    /// Runs statements on the server's administrative database (as the role of CAREGATE_TEST_POSTGRES).
    pub fn admin(&self, sql: &str) {
        run(self.admin.clone(), sql.to_string(), |client, sql| async move { client.batch_execute(&sql).await });
    }

    /// The number a query in this database answers (a count).
    pub fn count(&self, sql: &str) -> i64 {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        run(config, sql.to_string(), |client, sql| async move { client.query_one(&sql, &[]).await?.try_get(0) })
    }

    /// Makes the database unreachable (every connection to it ended, new ones refused), as a server down or
    /// restarting is to the gateway, without disturbing other tests' databases on the same server.
    pub fn go_down(&self) {
        self.admin(&format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
            self.name
        ));
    }

    pub fn come_back(&self) {
        self.admin(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.name));
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Not from a panicking test's unwinding: a second panic would abort and hide the first.
        if !std::thread::panicking() {
            self.drop_database();
        }
    }
}

/// Connects and runs `work` on a thread of its own with its own runtime (so that it can be called from a test's
/// runtime or from none).
fn run<T, F, W>(config: tokio_postgres::Config, sql: String, work: W) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    W: FnOnce(tokio_postgres::Client, String) -> F + Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async move {
            let (client, connection) =
                config.connect(NoTls).await.unwrap_or_else(|e| panic!("cannot reach CAREGATE_TEST_POSTGRES: {e}"));
            let driver = tokio::spawn(connection);
            let out = work(client, sql.clone()).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            driver.abort();
            out
        })
    })
    .join()
    .expect("the database helper")
}
