//! The vocabulary generated product names are made of.
//!
//! Names mix Traditional Chinese words and phrases with English words and a size or pack, the
//! way a tea-and-lifestyle brand names its goods ("凍頂烏龍 Classic Oolong Tea 150g"). About two
//! hundred words of each language, drawn at random, give the search indexes a realistic spread:
//! a common character such as 茶 is in many names, a rare phrase in a few thousand.

/// Chinese words and phrases, two to five characters each.
pub const CHINESE: &[&str] = &[
    // Teas and drinks.
    "烏龍", "紅茶", "綠茶", "白茶", "普洱", "鐵觀音", "包種", "高山茶", "東方美人", "碧螺春",
    "茉莉", "桂花", "玫瑰", "蜜香", "冷泡", "花草茶", "奶茶", "抹茶", "焙茶", "玄米",
    "凍頂", "阿里山", "梨山", "日月潭", "文山", "木柵", "杉林溪", "大禹嶺", "四季春", "金萱",
    "翠玉", "紅玉", "阿薩姆", "伯爵", "薄荷", "檸檬", "柚子", "蜂蜜", "黑糖", "咖啡",
    // Snacks.
    "鳳梨酥", "太陽餅", "牛軋糖", "蛋黃酥", "芋頭酥", "麻糬", "蛋捲", "餅乾", "曲奇", "杏仁",
    "花生", "芝麻", "核桃", "腰果", "果乾", "芒果乾", "芭樂乾", "龍眼乾", "紅棗", "枸杞",
    "海苔", "米果", "豆干", "肉乾", "魷魚絲", "巧克力", "軟糖", "喉糖", "布丁", "果凍",
    "蛋糕", "吐司", "綠豆糕", "月餅", "年糕",
    // Apparel.
    "有機棉", "亞麻", "羊毛", "針織", "襯衫", "外套", "毛衣", "圍巾", "帽子", "棒球帽",
    "襪子", "長褲", "短褲", "裙子", "洋裝", "背心", "連帽", "運動", "休閒", "寬版",
    "修身", "條紋", "格紋", "素面", "刺繡", "印花", "海軍藍", "白色", "黑色", "橄欖綠",
    "灰色", "米色", "卡其", "酒紅", "天藍", "粉紅",
    // Homeware and care.
    "香氛", "蠟燭", "手工皂", "擴香", "馬克杯", "茶杯", "茶壺", "茶盤", "茶葉罐", "濾茶器",
    "陶瓷", "玻璃", "竹製", "木製", "不鏽鋼", "琺瑯", "托特包", "帆布", "毛巾", "浴巾",
    "餐巾", "杯墊", "陶碗", "陶盤", "筷子", "湯匙", "便當盒", "保溫瓶", "水壺", "抱枕",
    "地墊", "收納盒", "檜木", "竹炭", "精油", "護手霜", "洗髮精", "沐浴乳", "牙刷", "面膜",
    // Qualities, occasions and places.
    "手作", "限定", "經典", "特選", "頂級", "精選", "新品", "人氣", "季節", "春季",
    "夏日", "秋冬", "禮盒", "家庭號", "隨身包", "補充包", "迷你", "大容量", "輕量", "無糖",
    "低糖", "天然", "有機", "台灣", "在地", "小農", "職人", "手沖", "古早味", "懷舊",
    "原味", "微甜", "濃郁", "清香", "焙火", "炭焙", "無咖啡因", "冷萃", "即溶", "三合一",
    "台北", "台中", "台南", "花蓮", "宜蘭", "屏東", "南投", "嘉義", "新竹", "澎湖",
];

/// English words.
pub const ENGLISH: &[&str] = &[
    // Teas and drinks.
    "Oolong", "Black", "Green", "White", "Tea", "Jasmine", "Osmanthus", "Rose", "Honey", "Cold",
    "Brew", "Herbal", "Milk", "Matcha", "Roasted", "Genmaicha", "Mountain", "High", "Lake", "Coffee",
    "Latte", "Cocoa", "Chrysanthemum", "Hibiscus", "Chamomile", "Barley", "Buckwheat", "Oat",
    // Qualities and packs.
    "Classic", "Premium", "Select", "Limited", "Seasonal", "Spring", "Summer", "Autumn", "Winter",
    "Gift", "Box", "Family", "Pack", "Travel", "Refill", "Mini", "Large", "Light", "Sugar", "Free",
    "Natural", "Organic", "Local", "Farm", "Artisan", "Handmade", "Pour", "Over", "Traditional",
    "Vintage", "Original", "Sweet", "Rich", "Fresh", "Smoky", "Charcoal", "Decaf", "Instant",
    // Snacks and flavours.
    "Pineapple", "Cake", "Sun", "Nougat", "Egg", "Yolk", "Pastry", "Taro", "Mochi", "Roll",
    "Cookie", "Almond", "Peanut", "Sesame", "Walnut", "Cashew", "Dried", "Mango", "Guava",
    "Longan", "Jujube", "Goji", "Seaweed", "Rice", "Cracker", "Tofu", "Jerky", "Squid",
    "Chocolate", "Gummy", "Candy", "Pudding", "Jelly", "Toast", "Mooncake", "Lavender", "Mint",
    "Lemon", "Yuzu", "Ginger", "Cinnamon", "Vanilla", "Berry", "Apple", "Peach", "Lychee", "Plum",
    "Citrus", "Coconut",
    // Apparel and colours.
    "Cotton", "Linen", "Wool", "Knit", "Shirt", "Jacket", "Sweater", "Scarf", "Cap", "Hat",
    "Socks", "Trousers", "Shorts", "Skirt", "Dress", "Vest", "Hoodie", "Sport", "Casual", "Wide",
    "Slim", "Striped", "Plaid", "Plain", "Embroidered", "Printed", "Navy", "Olive", "Grey",
    "Beige", "Khaki", "Burgundy", "Sky", "Blue", "Pink", "Red", "Yellow", "Orange", "Purple",
    "Brown",
    // Homeware and care.
    "Candle", "Soap", "Diffuser", "Reed", "Mug", "Cup", "Teapot", "Tray", "Caddy", "Infuser",
    "Ceramic", "Glass", "Bamboo", "Wooden", "Steel", "Enamel", "Tote", "Canvas", "Towel", "Bath",
    "Napkin", "Coaster", "Bowl", "Plate", "Chopsticks", "Spoon", "Lunch", "Bottle", "Kettle",
    "Cushion", "Mat", "Storage", "Hinoki", "Essential", "Oil", "Hand", "Cream", "Shampoo", "Body",
    "Wash", "Toothbrush", "Mask",
];

/// Sizes and packs; most names end with one.
pub const SIZES: &[&str] = &[
    "75g", "150g", "300g", "500g", "1kg", "6入", "12入", "24入", "S", "M", "L", "XL", "250ml",
    "350ml", "500ml", "600ml", "1L", "3入組", "禮盒裝", "2入",
];

/// SKU prefixes, one per department.
pub const DEPARTMENTS: &[&str] = &["TEA", "SNK", "APP", "HOM", "BTY", "DRK", "GFT", "KIT", "BAG", "ACC"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_is_about_two_hundred_words_of_each_language() {
        assert!(
            (180..=220).contains(&CHINESE.len()),
            "about 200 Chinese words keep FTS selectivity realistic, found {}",
            CHINESE.len()
        );
        assert!(
            (180..=220).contains(&ENGLISH.len()),
            "about 200 English words keep FTS selectivity realistic, found {}",
            ENGLISH.len()
        );
        for word in CHINESE {
            assert!(word.chars().count() >= 2, "{word} must have two or more characters for bigram queries");
        }
    }
}
