//! The demo store: a tea-and-lifestyle brand's Taipei shop with a few hundred products.
//!
//! `seed_demo` fills an empty ledger with store settings, one cashier and one manager, and a
//! deterministic catalog: teas, snacks, apparel in colours and sizes, and homeware, named in
//! Traditional Chinese and English, each with a valid EAN-13 (a few with UPC-A or EAN-8 too), a
//! price, a price change scheduled for tomorrow on some, a handful of inactive items, and
//! opening stock. Seeding an already seeded ledger does nothing.

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;

use crate::barcode;
use crate::catalog::{self, ProductRecord};
use crate::error::CoreResult;
use crate::settings;
use crate::staff::{self, Role};
use crate::till::Till;

/// The demo cashier's staff code and PIN.
pub const CASHIER: (&str, &str) = ("1001", "1234");
/// The demo manager's staff code and PIN.
pub const MANAGER: (&str, &str) = ("9001", "9999");

/// The first 12 digits of demo EAN-13 codes; product n gets payload base + n.
const EAN_BASE: u64 = 471_234_500_000;

/// The EAN-13 of the n-th demo product (1-based).
pub fn demo_barcode(n: u64) -> String {
    barcode::ean13_from_payload(EAN_BASE + n)
}

struct Family {
    sku: &'static str,
    name: &'static str,
    price: i64,
    variants: &'static [(&'static str, &'static str, i64)],
}

const TEA_SIZES: &[(&str, &str, i64)] = &[
    ("75g", "75g", 0),
    ("150g", "150g", 90),
    ("300g", "300g", 220),
];
const SNACK_PACKS: &[(&str, &str, i64)] = &[("6", "6入", 0), ("12", "12入", 180)];
const COLOURS: &[(&str, &str, i64)] = &[
    ("NVY", "海軍藍 Navy", 0),
    ("WHT", "白 White", 0),
    ("BLK", "黑 Black", 0),
    ("OLV", "橄欖綠 Olive", 0),
];
const SIZES: &[(&str, &str, i64)] = &[
    ("S", "S", 0),
    ("M", "M", 0),
    ("L", "L", 0),
    ("XL", "XL", 50),
];
const SCENTS: &[(&str, &str, i64)] = &[
    ("HNK", "檜木 Hinoki", 0),
    ("OSM", "桂花 Osmanthus", 0),
    ("TEA", "烏龍 Oolong", 0),
    ("YZU", "柚子 Yuzu", 0),
];
const ONE: &[(&str, &str, i64)] = &[("", "", 0)];

const TEAS: &[Family] = &[
    Family {
        sku: "TEA-DDO",
        name: "凍頂烏龍茶 Dongding Oolong",
        price: 480,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-ALS",
        name: "阿里山高山茶 Alishan High Mountain Tea",
        price: 650,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-OBT",
        name: "東方美人茶 Oriental Beauty",
        price: 720,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-SML",
        name: "日月潭紅茶 Sun Moon Lake Black Tea",
        price: 420,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-WBZ",
        name: "文山包種茶 Wenshan Baozhong",
        price: 450,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-TGY",
        name: "木柵鐵觀音 Muzha Tieguanyin",
        price: 520,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-JAS",
        name: "茉莉綠茶 Jasmine Green Tea",
        price: 320,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-HNY",
        name: "蜜香紅茶 Honey Black Tea",
        price: 460,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-OSM",
        name: "桂花烏龍 Osmanthus Oolong",
        price: 380,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-GBA",
        name: "GABA 佳葉龍茶 GABA Oolong",
        price: 690,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-PUE",
        name: "熟普洱 Ripe Pu-erh",
        price: 560,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-RSE",
        name: "玫瑰花草茶 Rose Herbal Tea",
        price: 280,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-CBB",
        name: "冷泡茶包 Cold Brew Tea Bags",
        price: 250,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "TEA-LSN",
        name: "梨山茶 Lishan Oolong",
        price: 880,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-BZH",
        name: "碧螺春 Biluochun Green Tea",
        price: 540,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-ASM",
        name: "阿薩姆紅茶 Assam Black Tea",
        price: 360,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-BAI",
        name: "白毫銀針 Silver Needle White Tea",
        price: 980,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-GMC",
        name: "玄米茶 Genmaicha",
        price: 260,
        variants: TEA_SIZES,
    },
    Family {
        sku: "TEA-GIFT",
        name: "四季茶禮盒 Four Seasons Tea Gift Box",
        price: 1_280,
        variants: ONE,
    },
];

const SNACKS: &[Family] = &[
    Family {
        sku: "SNK-PNC",
        name: "土鳳梨酥 Pineapple Cake",
        price: 300,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-NGT",
        name: "花生牛軋糖 Peanut Nougat",
        price: 220,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-MNG",
        name: "愛文芒果乾 Dried Irwin Mango",
        price: 260,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-SUN",
        name: "太陽餅 Sun Cake",
        price: 240,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-TRO",
        name: "芋頭酥 Taro Pastry",
        price: 280,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-EGG",
        name: "蛋黃酥 Egg Yolk Pastry",
        price: 360,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-ALM",
        name: "杏仁瓦片 Almond Tuiles",
        price: 200,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-MOC",
        name: "花生麻糬 Peanut Mochi",
        price: 250,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-CKE",
        name: "紅茶蛋捲 Black Tea Egg Rolls",
        price: 320,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-GUA",
        name: "芭樂乾 Dried Guava",
        price: 210,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-SES",
        name: "黑芝麻糕 Black Sesame Cake",
        price: 270,
        variants: SNACK_PACKS,
    },
    Family {
        sku: "SNK-TEA",
        name: "抹茶曲奇 Matcha Cookies",
        price: 230,
        variants: SNACK_PACKS,
    },
];

const APPAREL: &[Family] = &[
    Family {
        sku: "APP-TEE",
        name: "有機棉T恤 Organic Cotton Tee",
        price: 590,
        variants: COLOURS,
    },
    Family {
        sku: "APP-LIN",
        name: "亞麻襯衫 Linen Shirt",
        price: 1_380,
        variants: COLOURS,
    },
    Family {
        sku: "APP-HOO",
        name: "連帽外套 Hooded Jacket",
        price: 1_880,
        variants: COLOURS,
    },
    Family {
        sku: "APP-KNT",
        name: "針織毛衣 Knit Sweater",
        price: 1_580,
        variants: COLOURS,
    },
    Family {
        sku: "APP-SCK",
        name: "羊毛襪 Wool Socks",
        price: 290,
        variants: COLOURS,
    },
    Family {
        sku: "APP-CAP",
        name: "棒球帽 Baseball Cap",
        price: 650,
        variants: COLOURS,
    },
    Family {
        sku: "APP-SCF",
        name: "羊毛圍巾 Wool Scarf",
        price: 990,
        variants: COLOURS,
    },
    Family {
        sku: "APP-PNT",
        name: "寬版棉褲 Wide Cotton Trousers",
        price: 1_280,
        variants: COLOURS,
    },
];

const HOME: &[Family] = &[
    Family {
        sku: "HOM-CDL",
        name: "香氛蠟燭 Scented Candle",
        price: 680,
        variants: SCENTS,
    },
    Family {
        sku: "HOM-SOP",
        name: "手工皂 Handmade Soap",
        price: 180,
        variants: SCENTS,
    },
    Family {
        sku: "HOM-DIF",
        name: "擴香瓶 Reed Diffuser",
        price: 880,
        variants: SCENTS,
    },
    Family {
        sku: "HOM-MUG",
        name: "陶瓷馬克杯 Ceramic Mug",
        price: 420,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-CUP",
        name: "手拉坯茶杯 Hand-thrown Teacup",
        price: 360,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-POT",
        name: "玻璃茶壺 Glass Teapot 600ml",
        price: 750,
        variants: ONE,
    },
    Family {
        sku: "HOM-TRY",
        name: "竹製茶盤 Bamboo Tea Tray",
        price: 1_200,
        variants: ONE,
    },
    Family {
        sku: "HOM-KTL",
        name: "手沖細口壺 Pour-over Kettle",
        price: 1_650,
        variants: ONE,
    },
    Family {
        sku: "HOM-TOT",
        name: "帆布托特包 Canvas Tote",
        price: 490,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-TWL",
        name: "有機棉毛巾 Organic Cotton Towel",
        price: 350,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-BWL",
        name: "陶碗 Stoneware Bowl",
        price: 380,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-PLT",
        name: "陶盤 Stoneware Plate",
        price: 450,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-CAN",
        name: "茶葉罐 Tea Caddy",
        price: 520,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-NPK",
        name: "亞麻餐巾 Linen Napkin",
        price: 240,
        variants: COLOURS,
    },
    Family {
        sku: "HOM-CSR",
        name: "杯墊四入 Coaster Set of 4",
        price: 260,
        variants: ONE,
    },
    Family {
        sku: "HOM-INF",
        name: "不鏽鋼濾茶器 Steel Tea Infuser",
        price: 220,
        variants: ONE,
    },
];

/// 2025-01-01T00:00:00Z, in Unix seconds.
const DEMO_PRICES_FROM: i64 = 1_735_689_600;

/// The demo catalog: every product with its barcodes and price schedule, as of `now`.
///
/// Current prices apply from the start of 2025 (or 30 days before `now`, if earlier), so a
/// till whose clock is behind the cloud's still has a price for everything after a sync.
pub fn records(now: DateTime<Utc>) -> Vec<ProductRecord> {
    let since = DateTime::from_timestamp(DEMO_PRICES_FROM, 0).map_or(now, |start| start.min(now))
        - Duration::days(30);
    let tomorrow = now + Duration::days(1);
    let mut records = Vec::new();
    let mut n: u64 = 0;
    let mut push = |sku: String, name: String, price_major: i64, extra_codes: Vec<String>| {
        n += 1;
        let mut barcodes = vec![demo_barcode(n)];
        barcodes.extend(extra_codes);
        let price = price_major * 100;
        let mut prices = vec![(since, price)];
        // Every seventh product goes on a 10 % promotion from tomorrow.
        if n.is_multiple_of(7) {
            prices.push((tomorrow, price - price / 10));
        }
        records.push(ProductRecord {
            sku,
            name,
            tax_class: "standard".into(),
            // A few discontinued products stay in the catalog for refunds and look-up.
            active: !n.is_multiple_of(61),
            barcodes,
            prices,
        });
    };
    for family in TEAS.iter().chain(SNACKS) {
        for (code, label, extra) in family.variants {
            let (sku, name) = if code.is_empty() {
                (family.sku.to_owned(), family.name.to_owned())
            } else {
                (
                    format!("{}-{code}", family.sku),
                    format!("{} {label}", family.name),
                )
            };
            push(sku, name, family.price + extra, Vec::new());
        }
    }
    for family in APPAREL {
        for (colour, colour_label, _) in COLOURS {
            for (size, size_label, extra) in SIZES {
                push(
                    format!("{}-{colour}-{size}", family.sku),
                    format!("{} {colour_label} {size_label}", family.name),
                    family.price + extra,
                    Vec::new(),
                );
            }
        }
    }
    for family in HOME {
        for (code, label, extra) in family.variants {
            let (sku, name) = if code.is_empty() {
                (family.sku.to_owned(), family.name.to_owned())
            } else {
                (
                    format!("{}-{code}", family.sku),
                    format!("{} {label}", family.name),
                )
            };
            push(sku, name, family.price + extra, Vec::new());
        }
    }
    // Imported goods carry the manufacturer's UPC-A or EAN-8 codes.
    push(
        "IMP-MATCHA".into(),
        "宇治抹茶粉 Uji Matcha Powder 30g".into(),
        690,
        vec!["036000291452".into()],
    );
    push(
        "IMP-HONEY".into(),
        "龍眼蜂蜜 Longan Honey 500g".into(),
        520,
        vec!["96385074".into()],
    );
    // Gift cards and bags, to round the catalog up to a few hundred products.
    for value in [500, 1_000, 2_000, 3_000, 5_000] {
        push(
            format!("GFT-{value}"),
            format!("禮物卡 Gift Card NT${value}"),
            value,
            Vec::new(),
        );
    }
    push("BAG-PAPER".into(), "紙提袋 Paper Bag".into(), 2, Vec::new());
    push(
        "BAG-GIFT".into(),
        "禮品包裝 Gift Wrapping".into(),
        30,
        Vec::new(),
    );
    records
}

/// Seeds the demo store into an empty ledger. Returns false (and changes nothing) when the
/// catalog already has products.
pub fn seed_demo(till: &mut Till) -> CoreResult<bool> {
    let now = till.clock().now();
    let manager_id = till.clock().new_id().to_string();
    let cashier_id = till.clock().new_id().to_string();
    let conn = &mut till.conn;
    let products: i64 = conn.query_row("SELECT count(*) FROM product", [], |row| row.get(0))?;
    if products > 0 {
        return Ok(false);
    }
    let tx = conn.transaction()?;
    for (key, value) in [
        ("store_name", "Omnitill 示範門市 · Taipei Xinyi"),
        ("currency", "TWD"),
        ("currency_exponent", "2"),
        ("tax_mode", "inclusive"),
        ("cash_rounding_minor", "100"),
        ("utc_offset_minutes", "480"),
        ("idle_lock_seconds", "300"),
        ("language", "en"),
    ] {
        settings::put(&tx, key, value)?;
    }
    tx.execute(
        "INSERT OR IGNORE INTO tax_class (id, name, rate_bp) VALUES ('standard', 'VAT 5%', 500)",
        [],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO tax_class (id, name, rate_bp) VALUES ('zero', 'Zero-rated', 0)",
        [],
    )?;
    staff::add_staff(
        &tx,
        &cashier_id,
        CASHIER.0,
        "林美玲 Mei-Ling Lin",
        Role::Cashier,
        CASHIER.1,
    )?;
    staff::add_staff(
        &tx,
        &manager_id,
        MANAGER.0,
        "陳志明 Chih-Ming Chen",
        Role::Manager,
        MANAGER.1,
    )?;
    for (index, record) in records(now).iter().enumerate() {
        let product_id = catalog::upsert_product(&tx, record)?;
        let opening = 20 + (index as i64 * 37) % 80;
        tx.execute(
            "INSERT INTO stock_movement (product_id, delta, kind, ref_id, created_at)
             VALUES (?1, ?2, 'receive', 'opening stock', ?3)",
            params![product_id, opening, now.timestamp_millis()],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_has_a_few_hundred_valid_products() {
        let records = records(Utc::now());
        assert!(
            (250..=400).contains(&records.len()),
            "the demo store should have a few hundred products, has {}",
            records.len()
        );
        let mut skus = std::collections::HashSet::new();
        for record in &records {
            assert!(
                skus.insert(record.sku.clone()),
                "SKU {} is unique",
                record.sku
            );
            for code in &record.barcodes {
                assert!(
                    barcode::parse(code).is_ok(),
                    "{code} of {} is a valid barcode",
                    record.sku
                );
            }
        }
        assert!(
            records.iter().any(|r| r.name.contains("烏龍")),
            "the demo catalog has Chinese product names"
        );
    }
}
