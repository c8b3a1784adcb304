//! What the cloud's in-process tests share: a database for one test, on SQLite or on a new
//! PostgreSQL database of the test server (dropped at the end), and a way to run a test on both.

use omnitill_cloud::Db;
use omnitill_cloud::clock::SharedClock;

const DEFAULT_POSTGRES: &str = "postgres://omnitill:omnitill@127.0.0.1:5432/postgres";

/// A database for one test: a SQLite file, or a new PostgreSQL database (dropped at the end).
pub struct TestDatabase {
    url: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        TestDatabase {
            url: dir.path().join("cloud.sqlite3").display().to_string(),
            postgres: None,
            _dir: dir,
        }
    }

    pub async fn postgres() -> TestDatabase {
        sqlx::any::install_default_drivers();
        let admin =
            std::env::var("OMNITILL_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let name = format!("omnitill_cloud_test_{}", uuid::Uuid::now_v7().simple());
        let pool = sqlx::AnyPool::connect(&admin)
            .await
            .expect("the test PostgreSQL answers (scripts/setup starts it)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("a test database is created");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDatabase {
            url: format!("{base}/{name}"),
            postgres: Some((admin.clone(), name)),
            _dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub async fn connect(&self, clock: SharedClock) -> Db {
        Db::connect_with_clock(&self.url, clock)
            .await
            .expect("the cloud's database opens and migrates")
    }

    pub async fn drop_postgres(self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(pool) = sqlx::AnyPool::connect(admin).await
        {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&pool)
                .await;
        }
    }
}

pub async fn both_backends<F, Fut>(test: F)
where
    F: Fn(TestDatabase) -> Fut,
    Fut: std::future::Future<Output = TestDatabase>,
{
    test(TestDatabase::sqlite().await).await;
    test(TestDatabase::postgres().await)
        .await
        .drop_postgres()
        .await;
}
