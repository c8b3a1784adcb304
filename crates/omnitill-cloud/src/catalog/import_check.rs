//! The checks of an import that need more than one row: tax classes the cloud knows, SKUs and
//! barcodes repeated in the file, barcodes that belong to another product of the catalog; then
//! the plan of what the good rows change.
//!
//! Everything here is pure: it works on the rows `import_file` read and a `Snapshot` of the
//! catalog taken in the import's transaction, so what it approves the database accepts.
//!
//! A barcode may move from one product to another in one import when the file also gives the
//! old product without it. When bad rows are skipped, a row whose barcode would only be freed
//! by a skipped row is bad too (`check_rows` repeats that until nothing changes).

use std::collections::{BTreeMap, HashMap};

use omnitill_protocol::pull::Change;

use super::import_file::{ImportRow, Problem};

/// The catalog as the import finds it.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Tax class ids, sorted.
    pub tax_classes: Vec<String>,
    pub products: HashMap<String, Existing>,
    /// Which product each barcode belongs to.
    pub barcode_owner: HashMap<String, String>,
}

/// A product already in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    pub name: String,
    pub tax_class: String,
    pub active: bool,
    /// Sorted.
    pub barcodes: Vec<String>,
    /// (effective from, price), sorted by effective from.
    pub prices: Vec<(i64, i64)>,
}

/// At most this many other lines are named in a message about a repeated SKU or barcode.
const LINES_NAMED: usize = 3;

/// Checks the rows against each other and the catalog. Returns the problems, each with the
/// index of its row in `rows`; a row with a problem is bad. With `skipping`, the good rows must
/// also stand without the bad ones.
pub fn check_rows(
    rows: &[ImportRow],
    snapshot: &Snapshot,
    skipping: bool,
) -> Vec<(usize, Problem)> {
    let mut problems = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if snapshot.tax_classes.binary_search(&row.tax_class).is_err() {
            problems.push((
                index,
                Problem {
                    line: row.line,
                    column: Some("tax_class"),
                    reason: format!(
                        "unknown tax class {:?}; known: {}",
                        row.tax_class,
                        known_list(&snapshot.tax_classes)
                    ),
                },
            ));
        }
    }
    let mut row_of_sku: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    let mut repeated_skus: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        if let Some(first) = row_of_sku.insert(&row.sku, index) {
            repeated_skus
                .entry(&row.sku)
                .or_insert_with(|| vec![first])
                .push(index);
        }
    }
    for (sku, group) in &repeated_skus {
        for &index in group {
            problems.push((
                index,
                Problem {
                    line: rows[index].line,
                    column: Some("sku"),
                    reason: format!("SKU {sku} is also on {}", other_lines(rows, group, index)),
                },
            ));
        }
    }
    let mut row_of_barcode: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    let mut repeated_barcodes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        for code in &row.barcodes {
            if let Some(first) = row_of_barcode.insert(code, index) {
                repeated_barcodes
                    .entry(code)
                    .or_insert_with(|| vec![first])
                    .push(index);
            }
        }
    }
    for (code, group) in &repeated_barcodes {
        for &index in group {
            problems.push((
                index,
                Problem {
                    line: rows[index].line,
                    column: Some("barcodes"),
                    reason: format!(
                        "barcode {code} is also on {}",
                        other_lines(rows, group, index)
                    ),
                },
            ));
        }
    }
    // A barcode of another product stays that product's unless the file gives that product
    // without it (then the file's row for it must exist: a repeated SKU is bad anyway).
    let mut claims = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        for code in &row.barcodes {
            let Some(owner) = snapshot.barcode_owner.get(code) else {
                continue;
            };
            if *owner == row.sku {
                continue;
            }
            match row_of_sku.get(owner.as_str()) {
                Some(&owner_row) => claims.push((index, code.as_str(), owner.as_str(), owner_row)),
                None => problems.push((
                    index,
                    Problem {
                        line: row.line,
                        column: Some("barcodes"),
                        reason: format!(
                            "barcode {code} belongs to product {owner}, which this file does not change"
                        ),
                    },
                )),
            }
        }
    }
    if skipping {
        let mut bad = vec![false; rows.len()];
        for (index, _) in &problems {
            bad[*index] = true;
        }
        loop {
            let mut changed = false;
            for &(index, code, owner, owner_row) in &claims {
                if bad[owner_row] && !bad[index] {
                    bad[index] = true;
                    changed = true;
                    problems.push((
                        index,
                        Problem {
                            line: rows[index].line,
                            column: Some("barcodes"),
                            reason: format!(
                                "barcode {code} stays with product {owner}, whose row on line {} is bad",
                                super::import_file::thousands(rows[owner_row].line)
                            ),
                        },
                    ));
                }
            }
            if !changed {
                break;
            }
        }
    }
    problems.sort_by_key(|(index, _)| *index);
    problems
}

fn known_list(known: &[String]) -> String {
    match known.len() {
        0 => "none; create one first".into(),
        1..=12 => known.join(", "),
        n => format!("{} and {} more", known[..12].join(", "), n - 12),
    }
}

/// "line 7" or "lines 7, 9 and 12" (and how many more), leaving out `this` row.
fn other_lines(rows: &[ImportRow], group: &[usize], this: usize) -> String {
    let others: Vec<String> = group
        .iter()
        .filter(|&&i| i != this)
        .map(|&i| super::import_file::thousands(rows[i].line))
        .collect();
    let named = &others[..others.len().min(LINES_NAMED)];
    let more = others.len() - named.len();
    let mut text = if named.len() == 1 {
        format!("line {}", named[0])
    } else {
        format!(
            "lines {} and {}",
            named[..named.len() - 1].join(", "),
            named[named.len() - 1]
        )
    };
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// What the import writes: the products it creates or changes, with their whole new records
/// for the feed.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub writes: Vec<ProductWrite<'a>>,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// One product the import creates or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductWrite<'a> {
    /// The row that gives the product's new name, tax class, state and barcodes.
    pub row: &'a ImportRow,
    /// Whether the catalog had it before.
    pub existed: bool,
    pub barcodes_removed: Vec<String>,
    pub barcodes_added: Vec<String>,
    /// The price the row sets, when it differs from the catalog's.
    pub price: Option<(i64, i64)>,
    /// Whether that price replaces one the schedule has at the same moment.
    pub price_replaces: bool,
    /// The product's whole price schedule after the import, sorted.
    pub prices: Vec<(i64, i64)>,
}

impl ProductWrite<'_> {
    /// The product's record in the change feed.
    pub fn change(&self) -> Change {
        Change::Product {
            sku: self.row.sku.clone(),
            name: self.row.name.clone(),
            tax_class: self.row.tax_class.clone(),
            active: self.row.active,
            barcodes: self.row.barcodes.clone(),
            prices: self.prices.clone(),
        }
    }
}

/// Compares the good rows with the catalog. A row without `effective_from` sets the price from
/// `now` unless the price in effect at `now` is already its price; a row with one sets the
/// price at that moment unless it is already there. A row that changes nothing is left out, so
/// importing a file again writes and publishes nothing.
pub fn plan<'a>(
    rows: impl Iterator<Item = &'a ImportRow>,
    snapshot: &Snapshot,
    now: i64,
) -> Plan<'a> {
    let mut plan = Plan::default();
    for row in rows {
        let existing = snapshot.products.get(&row.sku);
        let (from, current) = match row.effective_from {
            Some(at) => (
                at,
                existing.and_then(|e| e.prices.iter().find(|p| p.0 == at).map(|p| p.1)),
            ),
            None => (
                now,
                existing.and_then(|e| e.prices.iter().rev().find(|p| p.0 <= now).map(|p| p.1)),
            ),
        };
        let price = (current != Some(row.price_minor)).then_some((from, row.price_minor));
        let (old_barcodes, old_prices) = existing.map_or((&[][..], &[][..]), |e| {
            (e.barcodes.as_slice(), e.prices.as_slice())
        });
        let same_product = existing.is_some_and(|e| {
            e.name == row.name && e.tax_class == row.tax_class && e.active == row.active
        });
        if same_product && price.is_none() && old_barcodes == row.barcodes.as_slice() {
            plan.unchanged += 1;
            continue;
        }
        let mut prices = old_prices.to_vec();
        let mut price_replaces = false;
        if let Some((from, price)) = price {
            match prices.binary_search_by_key(&from, |p| p.0) {
                Ok(at) => {
                    prices[at].1 = price;
                    price_replaces = true;
                }
                Err(at) => prices.insert(at, (from, price)),
            }
        }
        if existing.is_some() {
            plan.updated += 1;
        } else {
            plan.new += 1;
        }
        plan.writes.push(ProductWrite {
            row,
            existed: existing.is_some(),
            barcodes_removed: sorted_difference(old_barcodes, &row.barcodes),
            barcodes_added: sorted_difference(&row.barcodes, old_barcodes),
            price,
            price_replaces,
            prices,
        });
    }
    // In SKU order: the database's indexes on the SKU then take the rows one after another
    // instead of all over (the feed's cursors follow the same order).
    plan.writes
        .sort_unstable_by(|a, b| a.row.sku.cmp(&b.row.sku));
    plan
}

/// The items of sorted `a` that sorted `b` lacks.
fn sorted_difference(a: &[String], b: &[String]) -> Vec<String> {
    a.iter()
        .filter(|x| b.binary_search(x).is_err())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, sku: &str, barcodes: &[&str], price: i64) -> ImportRow {
        ImportRow {
            line,
            sku: sku.into(),
            name: format!("Product {sku}"),
            tax_class: "standard".into(),
            active: true,
            barcodes: barcodes.iter().map(|c| c.to_string()).collect(),
            price_minor: price,
            effective_from: None,
        }
    }

    fn snapshot() -> Snapshot {
        let mut snapshot = Snapshot {
            tax_classes: vec!["standard".into(), "zero".into()],
            ..Snapshot::default()
        };
        snapshot.products.insert(
            "OLD-1".into(),
            Existing {
                name: "Product OLD-1".into(),
                tax_class: "standard".into(),
                active: true,
                barcodes: vec!["4006381333931".into()],
                prices: vec![(1_000, 500), (5_000, 700)],
            },
        );
        snapshot
            .barcode_owner
            .insert("4006381333931".into(), "OLD-1".into());
        snapshot
    }

    fn reasons(problems: &[(usize, Problem)]) -> Vec<String> {
        problems.iter().map(|(_, p)| p.to_string()).collect()
    }

    #[test]
    fn an_unknown_tax_class_names_the_known_ones() {
        let mut bad = row(999_998, "A-1", &[], 100);
        bad.tax_class = "std".into();
        assert_eq!(
            reasons(&check_rows(&[bad], &snapshot(), false)),
            vec![
                r#"line 999,998, column tax_class: unknown tax class "std"; known: standard, zero"#
            ],
            "the brand sees which tax classes exist instead of a foreign key error"
        );
    }

    #[test]
    fn repeated_skus_and_barcodes_name_each_other() {
        let rows = [
            row(2, "A-1", &["0036000291452"], 100),
            row(3, "A-1", &[], 100),
            row(4, "B-1", &["0036000291452"], 100),
            row(5, "C-1", &["0036000291452"], 100),
        ];
        assert_eq!(
            reasons(&check_rows(&rows, &snapshot(), false)),
            vec![
                "line 2, column sku: SKU A-1 is also on line 3",
                "line 2, column barcodes: barcode 0036000291452 is also on lines 4 and 5",
                "line 3, column sku: SKU A-1 is also on line 2",
                "line 4, column barcodes: barcode 0036000291452 is also on lines 2 and 5",
                "line 5, column barcodes: barcode 0036000291452 is also on lines 2 and 4",
            ],
            "every row of a repeat is bad and points at the others"
        );
    }

    #[test]
    fn a_barcode_of_another_product_is_refused_unless_the_file_moves_it() {
        let taken = [row(2, "NEW-1", &["4006381333931"], 100)];
        assert_eq!(
            reasons(&check_rows(&taken, &snapshot(), false)),
            vec![
                "line 2, column barcodes: barcode 4006381333931 belongs to product OLD-1, which this file does not change"
            ],
            "a barcode cannot be taken from a product the file leaves alone"
        );
        let moved = [
            row(2, "NEW-1", &["4006381333931"], 100),
            row(3, "OLD-1", &[], 700),
        ];
        assert!(
            check_rows(&moved, &snapshot(), false).is_empty(),
            "the file may move a barcode when it gives the old product without it"
        );
    }

    #[test]
    fn when_skipping_a_barcode_freed_only_by_a_bad_row_makes_its_taker_bad() {
        let mut old = row(3, "OLD-1", &[], 700);
        old.tax_class = "nope".into();
        let rows = [row(2, "NEW-1", &["4006381333931"], 100), old];
        let strict = check_rows(&rows, &snapshot(), false);
        assert_eq!(
            strict.len(),
            1,
            "without skipping only the bad row is named"
        );
        let skipping = check_rows(&rows, &snapshot(), true);
        assert_eq!(
            reasons(&skipping),
            vec![
                "line 2, column barcodes: barcode 4006381333931 stays with product OLD-1, whose row on line 3 is bad",
                r#"line 3, column tax_class: unknown tax class "nope"; known: standard, zero"#,
            ],
            "importing line 2 alone would give one barcode to two products"
        );
    }

    #[test]
    fn the_plan_leaves_out_what_the_catalog_already_has() {
        let snapshot = snapshot();
        let same = [row(2, "OLD-1", &["4006381333931"], 700)];
        let plan = plan(same.iter(), &snapshot, 6_000);
        assert_eq!(
            (plan.writes.len(), plan.unchanged),
            (0, 1),
            "a row equal to the product and its price in effect changes nothing"
        );
        let repriced = [row(2, "OLD-1", &["4006381333931"], 800)];
        let plan = plan_of(&repriced, &snapshot, 6_000);
        assert_eq!(plan.updated, 1, "a new price is an update");
        assert_eq!(
            plan.writes[0].prices,
            vec![(1_000, 500), (5_000, 700), (6_000, 800)],
            "the new price joins the schedule from now"
        );
        assert_eq!(plan.writes[0].price, Some((6_000, 800)));
        let recoded = [row(2, "OLD-1", &["0036000291452"], 700)];
        let plan = plan_of(&recoded, &snapshot, 6_000);
        assert_eq!(
            (
                plan.writes[0].barcodes_removed.clone(),
                plan.writes[0].barcodes_added.clone(),
                plan.writes[0].price
            ),
            (
                vec!["4006381333931".to_string()],
                vec!["0036000291452".to_string()],
                None
            ),
            "only the barcodes change"
        );
        let new = [row(2, "NEW-1", &[], 100)];
        let plan = plan_of(&new, &snapshot, 6_000);
        assert_eq!(
            (
                plan.new,
                plan.writes[0].prices.clone(),
                plan.writes[0].existed
            ),
            (1, vec![(6_000, 100)], false),
            "a new product is priced from now"
        );
    }

    #[test]
    fn a_dated_price_is_compared_at_its_own_moment() {
        let snapshot = snapshot();
        let mut dated = row(2, "OLD-1", &["4006381333931"], 700);
        dated.effective_from = Some(5_000);
        assert_eq!(
            plan_of(&[dated.clone()], &snapshot, 2_000).unchanged,
            1,
            "a price already scheduled at that moment is no change, even before it applies"
        );
        dated.price_minor = 750;
        let replaced = [dated.clone()];
        let plan = plan_of(&replaced, &snapshot, 2_000);
        assert_eq!(
            (plan.writes[0].price, plan.writes[0].price_replaces),
            (Some((5_000, 750)), true),
            "a new price at a scheduled moment replaces the scheduled one"
        );
        dated.price_minor = 700;
        dated.effective_from = Some(9_000);
        let later = [dated];
        let plan = plan_of(&later, &snapshot, 2_000);
        assert_eq!(
            plan.writes[0].prices,
            vec![(1_000, 500), (5_000, 700), (9_000, 700)],
            "a price at a new moment is added to the schedule"
        );
    }

    fn plan_of<'a>(rows: &'a [ImportRow], snapshot: &Snapshot, now: i64) -> Plan<'a> {
        plan(rows.iter(), snapshot, now)
    }
}
