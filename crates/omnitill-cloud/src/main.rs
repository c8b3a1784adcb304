//! The `omnitill-cloud` command: serve the API, and the admin tasks of brand IT.
//!
//! Every command takes `--database URL` (or `OMNITILL_CLOUD_DATABASE`): a SQLite file path or
//! `sqlite://FILE` (the default is `omnitill-cloud.sqlite3`), or `postgres://...`.
//!
//! `--test-clock` (tests only) sets the process's clock to start at `OMNITILL_CLOUD_NOW_MS`
//! (Unix milliseconds) and run on from there; without the flag the variable is never read.

use std::io::Write;

use anyhow::{Context, Result, bail};
use omnitill_cloud::devices::{self, NewStore};
use omnitill_cloud::{Db, api_keys, demo};

mod import_command;

const USAGE: &str = "usage: omnitill-cloud [--database URL] COMMAND
commands:
  serve --listen ADDR [--demo] [--webhooks-loopback-only]
                                        serve the API (--demo seeds the demo brand first;
                                        --webhooks-loopback-only sends webhooks to loopback
                                        addresses only, for demos and tests)
  demo [--members N]                    seed the demo brand into an empty cloud (3,000 members
                                        unless --members says how many)
  store create --code CODE --name NAME [--currency TWD] [--exponent 2]
               [--tax-mode inclusive|exclusive] [--cash-rounding MINOR] [--utc-offset MINUTES]
  store list
  enrolment-code create --store CODE    issue a one-time till enrolment code (valid 24 hours;
                                        `enrolment-code --store CODE` does the same)
  enrolment-code revoke CODE            withdraw an unused code
  enrolment-code revoke --store CODE    withdraw every unused code of a store
  device revoke DEVICE_ID               refuse a till's token from now on
  api-key create --name NAME --scope SCOPES
                                        create a key for the e-shop API; SCOPES is a list of
                                        read, orders, loyalty, admin (e.g. read,orders,loyalty)
  api-key list                          every key's name, scopes and state (never the key)
  api-key revoke KEY | --name NAME      refuse a key, or every active key with that name
  catalog import FILE.csv [--skip-bad-rows]
                                        import products from CSV with a header naming the columns
                                        sku,name,tax_class,price_minor[,active][,barcodes]
                                        [,effective_from] (barcodes separated by |; README.md has
                                        the format). Every row is checked first; any bad row and
                                        nothing is written (exit 2), unless --skip-bad-rows
                                        imports the good ones (exit 3 when some were bad)
  points expire [--now RFC3339]         book the expiry of points older than the brand's
                                        expiry_months (serve also does it every hour; --now
                                        expires as of another moment)
  coupons birthday [--now RFC3339]      issue the birthday coupon to members born this month
                                        who have none yet (serve also does it every hour)
  jobs run [--now RFC3339]              run the hourly jobs for the hour of now, unless another
                                        process has run (or is running) them for that hour
  feed prune-retired                    take retired (inactive) products out of the tills' feed;
                                        tills that synced before download their catalog again
global flags:
  --test-clock                          tests only: the clock starts at OMNITILL_CLOUD_NOW_MS
                                        (Unix milliseconds) and runs on from there";

struct Args {
    words: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        if let Some(index) = self.words.iter().position(|w| w == name) {
            self.words.remove(index);
            true
        } else {
            false
        }
    }

    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let Some(index) = self.words.iter().position(|w| w == name) else {
            return Ok(None);
        };
        if index + 1 >= self.words.len() {
            bail!("{name} needs a value\n{USAGE}");
        }
        let value = self.words.remove(index + 1);
        self.words.remove(index);
        Ok(Some(value))
    }

    fn required(&mut self, name: &str) -> Result<String> {
        self.value(name)?
            .with_context(|| format!("{name} is required\n{USAGE}"))
    }
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("omnitill-cloud: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let mut args = Args {
        words: std::env::args().skip(1).collect(),
    };
    let database = match args.value("--database")? {
        Some(url) => url,
        None => std::env::var("OMNITILL_CLOUD_DATABASE")
            .unwrap_or_else(|_| "omnitill-cloud.sqlite3".into()),
    };
    let clock = if args.flag("--test-clock") {
        omnitill_cloud::clock::test_clock_from_env().map_err(anyhow::Error::msg)?
    } else {
        omnitill_cloud::clock::system()
    };
    let command: Vec<String> = args
        .words
        .iter()
        .filter(|w| !w.starts_with("--"))
        .take(2)
        .cloned()
        .collect();
    let first = command.first().map(String::as_str).unwrap_or("");
    let second = command.get(1).map(String::as_str).unwrap_or("");
    if first.is_empty() || args.flag("--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let db = Db::connect_with_clock(&database, clock)
        .await
        .with_context(|| format!("opening {database}"))?;
    match (first, second) {
        ("serve", _) => {
            let listen = args.required("--listen")?;
            let options = omnitill_cloud::ServeOptions {
                webhooks_loopback_only: args.flag("--webhooks-loopback-only"),
            };
            if args.flag("--demo") {
                seed_demo(&db).await?;
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let address = listener.local_addr()?;
            println!("OMNITILL_CLOUD_LISTENING {address}");
            std::io::stdout().flush()?;
            omnitill_cloud::serve(db, options, listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        ("demo", _) => {
            let members = args
                .value("--members")?
                .map_or(Ok(omnitill_cloud::demo_members::DEMO_MEMBERS), |v| {
                    v.parse()
                })
                .context("--members must be a number")?;
            if !(1..=10_000_000).contains(&members) {
                bail!("--members must be 1 to 10,000,000, not {members}");
            }
            seed_demo_with(&db, members).await?
        }
        ("store", "create") => {
            let code = args.required("--code")?;
            let name = args.required("--name")?;
            let currency = args.value("--currency")?.unwrap_or_else(|| "TWD".into());
            let exponent = args
                .value("--exponent")?
                .map_or(Ok(2), |v| v.parse())
                .context("--exponent")?;
            let tax_mode = args
                .value("--tax-mode")?
                .unwrap_or_else(|| "inclusive".into());
            let rounding = args
                .value("--cash-rounding")?
                .map_or(Ok(1), |v| v.parse())
                .context("--cash-rounding")?;
            let offset = args
                .value("--utc-offset")?
                .map_or(Ok(0), |v| v.parse())
                .context("--utc-offset")?;
            let store = devices::create_store(
                &db,
                &NewStore {
                    code: &code,
                    name: &name,
                    currency: &currency,
                    currency_exponent: exponent,
                    tax_mode: &tax_mode,
                    cash_rounding_minor: rounding,
                    utc_offset_minutes: offset,
                },
            )
            .await?;
            println!("store {} created with id {}", store.code, store.id);
        }
        ("store", "list") => {
            for store in devices::list_stores(&db).await? {
                println!("{}\t{}\t{}", store.code, store.id, store.name);
            }
        }
        ("enrolment-code", "revoke") => {
            if let Some(store) = args.value("--store")? {
                let revoked =
                    devices::revoke_enrolment_codes(&db, devices::CodesToRevoke::Store(&store))
                        .await?;
                println!(
                    "{revoked} unused enrolment code(s) of store {store} revoked; they enrol nothing now"
                );
            } else {
                let code = command_argument(&args, 2)
                    .context("enrolment-code revoke needs the code, or --store CODE")?;
                devices::revoke_enrolment_codes(&db, devices::CodesToRevoke::Code(&code)).await?;
                println!("enrolment code revoked; it enrols nothing now");
            }
        }
        // `enrolment-code create --store CODE`, and the older `enrolment-code --store CODE`.
        ("enrolment-code", _) => {
            let store = args.required("--store")?;
            let code = devices::issue_enrolment_code(&db, &store).await?;
            println!("{code}");
        }
        ("device", "revoke") => {
            let device = command_argument(&args, 2).context("device revoke needs a device id")?;
            devices::revoke(&db, &device).await?;
            println!("device {device} revoked");
        }
        ("api-key", "create") => {
            let name = args.required("--name")?;
            let scopes = args.value("--scope")?.with_context(|| {
                format!(
                    "--scope is required: name what the key may do, from read, orders, \
                     loyalty, admin (e.g. --scope read,orders,loyalty)\n{USAGE}"
                )
            })?;
            let scopes = omnitill_cloud::scopes::parse_list(&scopes)?;
            let key = api_keys::create(&db, &name, &scopes).await?;
            println!("{key}");
            eprintln!(
                "API key {name:?} created with scope(s) {}; it is shown only now",
                omnitill_cloud::scopes::encode(&scopes).replace(' ', ", ")
            );
        }
        ("api-key", "list") => {
            for key in api_keys::list(&db).await? {
                let state = match key.revoked_at_ms {
                    Some(at) => format!("revoked {}", rfc3339(at)),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\tcreated {}\t{state}",
                    key.name,
                    omnitill_cloud::scopes::encode(&key.scopes).replace(' ', ","),
                    rfc3339(key.created_at_ms)
                );
            }
        }
        ("api-key", "revoke") => {
            let revoked = match args.value("--name")? {
                Some(name) => api_keys::revoke(&db, api_keys::Which::Name(&name)).await?,
                None => {
                    let key = command_argument(&args, 2)
                        .context("api-key revoke needs the key or --name NAME")?;
                    api_keys::revoke(&db, api_keys::Which::Key(&key)).await?
                }
            };
            println!("{revoked} API key(s) revoked; they are refused from now on");
        }
        ("catalog", "import") => {
            let skip_bad_rows = args.flag("--skip-bad-rows");
            let file = command_argument(&args, 2).context("catalog import needs a CSV file")?;
            let code = import_command::run(&db, &file, skip_bad_rows).await?;
            if code != import_command::EXIT_IMPORTED {
                db.write.close().await;
                db.read.close().await;
                std::process::exit(code);
            }
        }
        ("points", "expire") => {
            let now = now_argument(&mut args, &db)?;
            let touched = omnitill_cloud::members::expire_points(&db, now).await?;
            println!("points expired for {touched} member(s)");
        }
        ("coupons", "birthday") => {
            let now = now_argument(&mut args, &db)?;
            let issued = omnitill_cloud::members::issue_birthday_coupons(&db, now).await?;
            println!("{issued} birthday coupon(s) issued");
        }
        ("jobs", "run") => {
            let now = now_argument(&mut args, &db)?;
            let owner = omnitill_cloud::jobs::process_owner();
            let period = omnitill_cloud::jobs::period(now);
            for job in omnitill_cloud::jobs::Job::ALL {
                match omnitill_cloud::jobs::run_once(&db, job, now, &owner).await? {
                    omnitill_cloud::jobs::JobOutcome::Ran { touched } => {
                        println!("{} {period}: ran, {touched} touched", job.name());
                    }
                    omnitill_cloud::jobs::JobOutcome::Skipped => {
                        println!("{} {period}: skipped, another process ran it", job.name());
                    }
                }
            }
        }
        ("feed", "prune-retired") => {
            let pruned = omnitill_cloud::feed::prune_retired(&db).await?;
            println!(
                "{} retired product(s) taken out of the feed; tills with a cursor below {} will download the catalog again",
                pruned.rows, pruned.floor
            );
        }
        _ => bail!("unknown command {first} {second}\n{USAGE}"),
    }
    Ok(())
}

/// A Unix ms time as RFC 3339, for people.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339())
}

/// `--now RFC3339`, or the present moment by the cloud's clock.
fn now_argument(args: &mut Args, db: &Db) -> Result<chrono::DateTime<chrono::Utc>> {
    Ok(match args.value("--now")? {
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .with_context(|| format!("--now {text:?} is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => db.now(),
    })
}

fn command_argument(args: &Args, index: usize) -> Option<String> {
    args.words
        .iter()
        .filter(|w| !w.starts_with("--"))
        .nth(index)
        .cloned()
}

async fn seed_demo(db: &Db) -> Result<()> {
    seed_demo_with(db, omnitill_cloud::demo_members::DEMO_MEMBERS).await
}

async fn seed_demo_with(db: &Db, members: usize) -> Result<()> {
    match demo::seed_with_members(db, members).await? {
        Some(seeded) => {
            demo::seed_floor(db).await?;
            println!(
                "demo brand seeded: {} products, {} members, pickup orders and favourites",
                seeded.products, seeded.members
            );
            for store in &seeded.stores {
                println!("  store {} ({})", store.code, store.name);
            }
        }
        None => println!("the cloud already has stores; demo seeding skipped"),
    }
    Ok(())
}
