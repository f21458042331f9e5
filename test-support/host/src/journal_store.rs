//! A fresh journal for one test on either store: a SQLite file in a
//! directory of its own, or a database of its own on the test binary's
//! throwaway PostgreSQL server (`provisioning-test-postgres`), so that the
//! end-to-end journal tests run once per store.

use std::path::PathBuf;
use std::sync::Arc;

use provisioning_host::journal::{JournalOptions, JournalStore, Sealer};
use provisioning_host::{Journal, JournalLocation};
use provisioning_test_postgres::PgServer;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// One test's journal: where it is and the key that seals it. A SQLite
/// file's directory is removed on drop (a database stays with its server,
/// removed with it).
pub struct TestJournal {
    location: JournalLocation,
    key: String,
    dir: Option<PathBuf>,
}

impl TestJournal {
    /// A new empty journal on `store`, named after `test`.
    pub fn new(store: Store, test: &str) -> TestJournal {
        match store {
            Store::Sqlite => {
                let dir = std::env::temp_dir().join(format!(
                    "journal-e2e-{test}-{}-{:?}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                TestJournal {
                    location: JournalLocation::Sqlite(dir.join("journal.sqlite3")),
                    key: Sealer::generate_key_hex(),
                    dir: Some(dir),
                }
            }
            Store::Postgres => TestJournal::on(PgServer::shared(), test),
        }
    }

    /// A new empty database on `server` (a server of the test's own, for
    /// a test that stops it).
    pub fn on(server: &PgServer, test: &str) -> TestJournal {
        TestJournal {
            location: JournalLocation::Postgres(server.database(test)),
            key: Sealer::generate_key_hex(),
            dir: None,
        }
    }

    /// A new handle on the store (a host's own connection).
    pub fn store(&self) -> Arc<dyn JournalStore> {
        self.location.open_store().expect("the journal opens")
    }

    /// A journal over `store` with this journal's key.
    pub fn journal_over(&self, store: Arc<dyn JournalStore>, options: JournalOptions) -> Journal {
        Journal::with_options(store, Sealer::from_hex(&self.key).unwrap(), options).unwrap()
    }

    /// A journal of its own on this store, as another host would open it.
    pub fn open(&self, options: JournalOptions) -> Journal {
        Journal::open_at(&self.location, &self.key, options).expect("the journal opens")
    }

    /// Opens this journal as a host given `key` would (it may refuse).
    pub fn open_with_key(&self, key: &str) -> anyhow::Result<Journal> {
        Journal::open_at(&self.location, key, JournalOptions::default())
    }

    /// The key the journal was made with.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for TestJournal {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
