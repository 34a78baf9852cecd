//! Constant tables the generator draws from: prefectures and cities, names
//! with readings, trades and works, company and place name parts.
//!
//! The values are plausible, not authoritative: city postal-code prefixes and
//! area codes are close to the real ones, trade and work codes are invented
//! (the real 職種コード are not public in this form).

/// A city (市区町村) with the first three digits of its postal codes and its
/// landline area code (市外局番, with the leading 0).
pub(crate) struct City {
    pub(crate) name: &'static str,
    pub(crate) postal3: &'static str,
    pub(crate) area_code: &'static str,
}

/// A prefecture (都道府県) with its JIS X 0401 code and a population weight (万人, about 2020).
pub(crate) struct Prefecture {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) weight: u32,
    pub(crate) cities: &'static [City],
}

const fn c(name: &'static str, postal3: &'static str, area_code: &'static str) -> City {
    City {
        name,
        postal3,
        area_code,
    }
}

/// All 47 prefectures, in code order (index = code − 1).
#[rustfmt::skip]
pub(crate) const PREFECTURES: [Prefecture; 47] = [
    Prefecture { code: "01", name: "北海道", weight: 522, cities: &[c("札幌市中央区", "060", "011"), c("函館市", "040", "0138"), c("旭川市", "070", "0166")] },
    Prefecture { code: "02", name: "青森県", weight: 124, cities: &[c("青森市", "030", "017"), c("弘前市", "036", "0172"), c("八戸市", "031", "0178")] },
    Prefecture { code: "03", name: "岩手県", weight: 121, cities: &[c("盛岡市", "020", "019"), c("一関市", "021", "0191"), c("奥州市", "023", "0197")] },
    Prefecture { code: "04", name: "宮城県", weight: 230, cities: &[c("仙台市青葉区", "980", "022"), c("石巻市", "986", "0225"), c("大崎市", "989", "0229")] },
    Prefecture { code: "05", name: "秋田県", weight: 96, cities: &[c("秋田市", "010", "018"), c("横手市", "013", "0182"), c("大館市", "017", "0186")] },
    Prefecture { code: "06", name: "山形県", weight: 107, cities: &[c("山形市", "990", "023"), c("鶴岡市", "997", "0235"), c("酒田市", "998", "0234")] },
    Prefecture { code: "07", name: "福島県", weight: 183, cities: &[c("福島市", "960", "024"), c("郡山市", "963", "024"), c("いわき市", "970", "0246")] },
    Prefecture { code: "08", name: "茨城県", weight: 287, cities: &[c("水戸市", "310", "029"), c("つくば市", "305", "029"), c("日立市", "317", "0294")] },
    Prefecture { code: "09", name: "栃木県", weight: 193, cities: &[c("宇都宮市", "320", "028"), c("小山市", "323", "0285"), c("足利市", "326", "0284")] },
    Prefecture { code: "10", name: "群馬県", weight: 194, cities: &[c("前橋市", "371", "027"), c("高崎市", "370", "027"), c("太田市", "373", "0276")] },
    Prefecture { code: "11", name: "埼玉県", weight: 734, cities: &[c("さいたま市大宮区", "330", "048"), c("川越市", "350", "049"), c("川口市", "332", "048")] },
    Prefecture { code: "12", name: "千葉県", weight: 628, cities: &[c("千葉市中央区", "260", "043"), c("船橋市", "273", "047"), c("柏市", "277", "04")] },
    Prefecture { code: "13", name: "東京都", weight: 1405, cities: &[c("千代田区", "101", "03"), c("新宿区", "160", "03"), c("大田区", "144", "03"), c("八王子市", "192", "042")] },
    Prefecture { code: "14", name: "神奈川県", weight: 924, cities: &[c("横浜市中区", "231", "045"), c("川崎市川崎区", "210", "044"), c("相模原市中央区", "252", "042")] },
    Prefecture { code: "15", name: "新潟県", weight: 220, cities: &[c("新潟市中央区", "950", "025"), c("長岡市", "940", "0258"), c("上越市", "943", "025")] },
    Prefecture { code: "16", name: "富山県", weight: 103, cities: &[c("富山市", "930", "076"), c("高岡市", "933", "0766"), c("射水市", "934", "0766")] },
    Prefecture { code: "17", name: "石川県", weight: 113, cities: &[c("金沢市", "920", "076"), c("小松市", "923", "0761"), c("白山市", "924", "076")] },
    Prefecture { code: "18", name: "福井県", weight: 77, cities: &[c("福井市", "910", "0776"), c("敦賀市", "914", "0770"), c("越前市", "915", "0778")] },
    Prefecture { code: "19", name: "山梨県", weight: 81, cities: &[c("甲府市", "400", "055"), c("富士吉田市", "403", "0555"), c("甲斐市", "400", "055")] },
    Prefecture { code: "20", name: "長野県", weight: 205, cities: &[c("長野市", "380", "026"), c("松本市", "390", "0263"), c("上田市", "386", "0268")] },
    Prefecture { code: "21", name: "岐阜県", weight: 198, cities: &[c("岐阜市", "500", "058"), c("大垣市", "503", "0584"), c("多治見市", "507", "0572")] },
    Prefecture { code: "22", name: "静岡県", weight: 363, cities: &[c("静岡市葵区", "420", "054"), c("浜松市中央区", "430", "053"), c("沼津市", "410", "055")] },
    Prefecture { code: "23", name: "愛知県", weight: 754, cities: &[c("名古屋市中区", "460", "052"), c("豊田市", "471", "0565"), c("岡崎市", "444", "0564")] },
    Prefecture { code: "24", name: "三重県", weight: 177, cities: &[c("津市", "514", "059"), c("四日市市", "510", "059"), c("鈴鹿市", "513", "059")] },
    Prefecture { code: "25", name: "滋賀県", weight: 141, cities: &[c("大津市", "520", "077"), c("草津市", "525", "077"), c("彦根市", "522", "0749")] },
    Prefecture { code: "26", name: "京都府", weight: 258, cities: &[c("京都市中京区", "604", "075"), c("宇治市", "611", "0774"), c("福知山市", "620", "0773")] },
    Prefecture { code: "27", name: "大阪府", weight: 884, cities: &[c("大阪市北区", "530", "06"), c("堺市堺区", "590", "072"), c("東大阪市", "577", "06")] },
    Prefecture { code: "28", name: "兵庫県", weight: 547, cities: &[c("神戸市中央区", "650", "078"), c("姫路市", "670", "079"), c("尼崎市", "660", "06")] },
    Prefecture { code: "29", name: "奈良県", weight: 132, cities: &[c("奈良市", "630", "0742"), c("橿原市", "634", "0744"), c("生駒市", "630", "0743")] },
    Prefecture { code: "30", name: "和歌山県", weight: 92, cities: &[c("和歌山市", "640", "073"), c("田辺市", "646", "0739"), c("橋本市", "648", "0736")] },
    Prefecture { code: "31", name: "鳥取県", weight: 55, cities: &[c("鳥取市", "680", "0857"), c("米子市", "683", "0859"), c("倉吉市", "682", "0858")] },
    Prefecture { code: "32", name: "島根県", weight: 67, cities: &[c("松江市", "690", "0852"), c("出雲市", "693", "0853"), c("浜田市", "697", "0855")] },
    Prefecture { code: "33", name: "岡山県", weight: 189, cities: &[c("岡山市北区", "700", "086"), c("倉敷市", "710", "086"), c("津山市", "708", "0868")] },
    Prefecture { code: "34", name: "広島県", weight: 280, cities: &[c("広島市中区", "730", "082"), c("福山市", "720", "084"), c("呉市", "737", "0823")] },
    Prefecture { code: "35", name: "山口県", weight: 134, cities: &[c("山口市", "753", "083"), c("下関市", "750", "083"), c("宇部市", "755", "0836")] },
    Prefecture { code: "36", name: "徳島県", weight: 72, cities: &[c("徳島市", "770", "088"), c("阿南市", "774", "0884"), c("鳴門市", "772", "088")] },
    Prefecture { code: "37", name: "香川県", weight: 95, cities: &[c("高松市", "760", "087"), c("丸亀市", "763", "0877"), c("坂出市", "762", "0877")] },
    Prefecture { code: "38", name: "愛媛県", weight: 133, cities: &[c("松山市", "790", "089"), c("今治市", "794", "0898"), c("新居浜市", "792", "0897")] },
    Prefecture { code: "39", name: "高知県", weight: 69, cities: &[c("高知市", "780", "088"), c("南国市", "783", "088"), c("四万十市", "787", "0880")] },
    Prefecture { code: "40", name: "福岡県", weight: 514, cities: &[c("福岡市博多区", "812", "092"), c("北九州市小倉北区", "802", "093"), c("久留米市", "830", "0942")] },
    Prefecture { code: "41", name: "佐賀県", weight: 81, cities: &[c("佐賀市", "840", "0952"), c("唐津市", "847", "0955"), c("鳥栖市", "841", "0942")] },
    Prefecture { code: "42", name: "長崎県", weight: 131, cities: &[c("長崎市", "850", "095"), c("佐世保市", "857", "0956"), c("諫早市", "854", "0957")] },
    Prefecture { code: "43", name: "熊本県", weight: 174, cities: &[c("熊本市中央区", "860", "096"), c("八代市", "866", "0965"), c("天草市", "863", "0969")] },
    Prefecture { code: "44", name: "大分県", weight: 112, cities: &[c("大分市", "870", "097"), c("別府市", "874", "0977"), c("中津市", "871", "0979")] },
    Prefecture { code: "45", name: "宮崎県", weight: 107, cities: &[c("宮崎市", "880", "0985"), c("都城市", "885", "0986"), c("延岡市", "882", "0982")] },
    Prefecture { code: "46", name: "鹿児島県", weight: 159, cities: &[c("鹿児島市", "890", "099"), c("霧島市", "899", "0995"), c("鹿屋市", "893", "0994")] },
    Prefecture { code: "47", name: "沖縄県", weight: 147, cities: &[c("那覇市", "900", "098"), c("沖縄市", "904", "098"), c("うるま市", "904", "098")] },
];

/// 町名: combined with any city (the generator does not claim real addresses).
#[rustfmt::skip]
pub(crate) const TOWNS: &[&str] = &[
    "本町", "中央", "栄町", "旭町", "緑町", "東町", "西町", "南町", "北町", "幸町", "錦町", "桜町",
    "若葉町", "港町", "大手町", "新町", "元町", "宮町", "昭和町", "住吉町", "日吉町", "松原",
    "青葉町", "富士見町", "八幡町", "清水町", "駅前", "寿町", "春日町", "柳町",
];

/// Building name stems for 方書.
#[rustfmt::skip]
pub(crate) const BUILDING_STEMS: &[&str] = &[
    "さくら", "青葉", "緑ヶ丘", "中央", "ひまわり", "富士見", "若葉", "朝日", "グリーン", "サン",
];

/// Building kinds for 方書.
#[rustfmt::skip]
pub(crate) const BUILDING_KINDS: &[&str] = &["ハイツ", "コーポ", "マンション", "レジデンス", "荘", "ハイム"];

/// Family names: (kanji, katakana reading, romanisation for e-mail local parts).
#[rustfmt::skip]
pub(crate) const FAMILY_NAMES: &[(&str, &str, &str)] = &[
    ("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"), ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"), ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"), ("山口", "ヤマグチ", "yamaguchi"), ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"), ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"), ("清水", "シミズ", "shimizu"), ("山崎", "ヤマザキ", "yamazaki"),
    ("森", "モリ", "mori"), ("池田", "イケダ", "ikeda"), ("橋本", "ハシモト", "hashimoto"),
    ("阿部", "アベ", "abe"), ("石川", "イシカワ", "ishikawa"), ("山下", "ヤマシタ", "yamashita"),
    ("中島", "ナカジマ", "nakajima"), ("石井", "イシイ", "ishii"), ("小川", "オガワ", "ogawa"),
    ("前田", "マエダ", "maeda"), ("岡田", "オカダ", "okada"), ("長谷川", "ハセガワ", "hasegawa"),
    ("藤田", "フジタ", "fujita"), ("後藤", "ゴトウ", "goto"), ("近藤", "コンドウ", "kondo"),
    ("村上", "ムラカミ", "murakami"), ("遠藤", "エンドウ", "endo"), ("青木", "アオキ", "aoki"),
    ("坂本", "サカモト", "sakamoto"), ("斉藤", "サイトウ", "saito"), ("福田", "フクダ", "fukuda"),
    ("太田", "オオタ", "ota"), ("西村", "ニシムラ", "nishimura"), ("藤井", "フジイ", "fujii"),
    ("金子", "カネコ", "kaneko"), ("岡本", "オカモト", "okamoto"), ("藤原", "フジワラ", "fujiwara"),
    ("中野", "ナカノ", "nakano"), ("三浦", "ミウラ", "miura"), ("原田", "ハラダ", "harada"),
    ("中川", "ナカガワ", "nakagawa"), ("松田", "マツダ", "matsuda"), ("竹内", "タケウチ", "takeuchi"),
    ("小野", "オノ", "ono"), ("田村", "タムラ", "tamura"), ("中山", "ナカヤマ", "nakayama"),
    ("和田", "ワダ", "wada"), ("石田", "イシダ", "ishida"), ("森田", "モリタ", "morita"),
    ("上田", "ウエダ", "ueda"), ("原", "ハラ", "hara"), ("内田", "ウチダ", "uchida"),
    ("柴田", "シバタ", "shibata"), ("酒井", "サカイ", "sakai"), ("宮崎", "ミヤザキ", "miyazaki"),
    ("横山", "ヨコヤマ", "yokoyama"), ("高木", "タカギ", "takagi"), ("安藤", "アンドウ", "ando"),
    ("宮本", "ミヤモト", "miyamoto"), ("大野", "オオノ", "ono"), ("小島", "コジマ", "kojima"),
    ("谷口", "タニグチ", "taniguchi"), ("今井", "イマイ", "imai"), ("工藤", "クドウ", "kudo"),
    ("高田", "タカダ", "takada"), ("増田", "マスダ", "masuda"), ("丸山", "マルヤマ", "maruyama"),
    ("杉山", "スギヤマ", "sugiyama"), ("村田", "ムラタ", "murata"), ("大塚", "オオツカ", "otsuka"),
    ("新井", "アライ", "arai"), ("小山", "コヤマ", "koyama"), ("平野", "ヒラノ", "hirano"),
    ("藤本", "フジモト", "fujimoto"), ("河野", "コウノ", "kono"), ("上野", "ウエノ", "ueno"),
    ("野口", "ノグチ", "noguchi"), ("武田", "タケダ", "takeda"), ("松井", "マツイ", "matsui"),
    ("千葉", "チバ", "chiba"), ("岩崎", "イワサキ", "iwasaki"), ("菅原", "スガワラ", "sugawara"),
    ("木下", "キノシタ", "kinoshita"), ("久保", "クボ", "kubo"), ("佐野", "サノ", "sano"),
    ("野村", "ノムラ", "nomura"), ("松尾", "マツオ", "matsuo"), ("市川", "イチカワ", "ichikawa"),
    ("菊地", "キクチ", "kikuchi"), ("比嘉", "ヒガ", "higa"), ("金城", "キンジョウ", "kinjo"),
];

/// Male given names: (kanji, katakana reading).
#[rustfmt::skip]
pub(crate) const MALE_GIVEN_NAMES: &[(&str, &str)] = &[
    ("太郎", "タロウ"), ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("健太", "ケンタ"), ("拓也", "タクヤ"),
    ("直樹", "ナオキ"), ("和也", "カズヤ"), ("達也", "タツヤ"), ("誠", "マコト"), ("浩", "ヒロシ"),
    ("隆", "タカシ"), ("健一", "ケンイチ"), ("裕太", "ユウタ"), ("大樹", "ダイキ"), ("亮", "リョウ"),
    ("翔", "ショウ"), ("蓮", "レン"), ("悠斗", "ユウト"), ("陽翔", "ハルト"), ("湊", "ミナト"),
    ("大翔", "ヒロト"), ("颯太", "ソウタ"), ("海斗", "カイト"), ("優斗", "ユウト"), ("一郎", "イチロウ"),
    ("正樹", "マサキ"), ("修", "オサム"), ("剛", "ツヨシ"), ("聡", "サトシ"), ("哲也", "テツヤ"),
    ("淳", "ジュン"), ("学", "マナブ"), ("勇気", "ユウキ"), ("拓海", "タクミ"), ("駿", "シュン"),
    ("光", "ヒカル"), ("武", "タケシ"), ("茂", "シゲル"), ("勝", "マサル"), ("博之", "ヒロユキ"),
];

/// Female given names: (kanji or kana, katakana reading).
#[rustfmt::skip]
pub(crate) const FEMALE_GIVEN_NAMES: &[(&str, &str)] = &[
    ("花子", "ハナコ"), ("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("愛", "アイ"), ("真由美", "マユミ"),
    ("恵子", "ケイコ"), ("由美", "ユミ"), ("優子", "ユウコ"), ("智子", "トモコ"), ("久美子", "クミコ"),
    ("さくら", "サクラ"), ("陽菜", "ヒナ"), ("結衣", "ユイ"), ("葵", "アオイ"), ("凛", "リン"),
    ("美優", "ミユ"), ("彩", "アヤ"), ("舞", "マイ"), ("麻衣", "マイ"), ("千尋", "チヒロ"),
    ("明美", "アケミ"), ("直美", "ナオミ"), ("京子", "キョウコ"), ("裕子", "ユウコ"), ("香織", "カオリ"),
    ("瞳", "ヒトミ"), ("沙織", "サオリ"), ("奈々", "ナナ"), ("彩花", "アヤカ"), ("芽衣", "メイ"),
    ("結菜", "ユイナ"), ("美穂", "ミホ"), ("亜美", "アミ"), ("里美", "サトミ"), ("幸子", "サチコ"),
    ("和子", "カズコ"), ("洋子", "ヨウコ"), ("純子", "ジュンコ"), ("紀子", "ノリコ"), ("桃子", "モモコ"),
];

/// A nationality of technical intern trainees, with names as written on the
/// residence card (Latin capitals, or kanji for China) and katakana readings.
pub(crate) struct Nationality {
    /// 国籍 as written on Japanese forms.
    pub(crate) name: &'static str,
    /// Share of trainees, in percent.
    pub(crate) weight: u32,
    pub(crate) family: &'static [(&'static str, &'static str)],
    pub(crate) male: &'static [(&'static str, &'static str)],
    pub(crate) female: &'static [(&'static str, &'static str)],
}

/// Trainee nationalities, roughly in the proportions of recent years.
#[rustfmt::skip]
pub(crate) const NATIONALITIES: &[Nationality] = &[
    Nationality {
        name: "ベトナム",
        weight: 50,
        family: &[("NGUYEN", "グエン"), ("TRAN", "チャン"), ("LE", "レ"), ("PHAM", "ファム"), ("HOANG", "ホアン"), ("VU", "ヴー"), ("DANG", "ダン"), ("BUI", "ブイ")],
        male: &[("VAN NAM", "ヴァン　ナム"), ("VAN HUNG", "ヴァン　フン"), ("DUC ANH", "ドゥック　アイン"), ("MINH TUAN", "ミン　トゥアン"), ("VAN LONG", "ヴァン　ロン")],
        female: &[("THI HOA", "ティ　ホア"), ("THI LAN", "ティ　ラン"), ("THI MAI", "ティ　マイ"), ("THI HUONG", "ティ　フオン"), ("THI THU", "ティ　トゥー")],
    },
    Nationality {
        name: "インドネシア",
        weight: 15,
        family: &[("SANTOSO", "サントソ"), ("WIJAYA", "ウィジャヤ"), ("SAPUTRA", "サプトラ"), ("HIDAYAT", "ヒダヤット"), ("PRATAMA", "プラタマ")],
        male: &[("AGUS", "アグス"), ("BUDI", "ブディ"), ("RIZKI", "リズキ"), ("ADI", "アディ")],
        female: &[("SITI", "シティ"), ("DEWI", "デウィ"), ("PUTRI", "プトリ"), ("RINA", "リナ")],
    },
    Nationality {
        name: "フィリピン",
        weight: 10,
        family: &[("SANTOS", "サントス"), ("REYES", "レジェス"), ("CRUZ", "クルス"), ("GARCIA", "ガルシア"), ("BAUTISTA", "バウティスタ")],
        male: &[("JUAN", "フアン"), ("MARK", "マーク"), ("JOHN PAUL", "ジョン　ポール"), ("JOSE", "ホセ")],
        female: &[("MARIA", "マリア"), ("ANGELICA", "アンジェリカ"), ("JOY", "ジョイ"), ("KRISTINE", "クリスティン")],
    },
    Nationality {
        name: "中国",
        weight: 10,
        family: &[("王", "ワン"), ("李", "リ"), ("張", "チャン"), ("劉", "リュウ"), ("陳", "チン"), ("楊", "ヤン")],
        male: &[("偉", "ウェイ"), ("強", "チャン"), ("軍", "ジュン"), ("磊", "レイ")],
        female: &[("芳", "ファン"), ("麗", "リー"), ("静", "ジン"), ("敏", "ミン")],
    },
    Nationality {
        name: "ミャンマー",
        weight: 8,
        family: &[("AUNG", "アウン"), ("ZAW", "ゾー"), ("KYAW", "チョー"), ("MYO", "ミョー")],
        male: &[("MIN", "ミン"), ("NAING", "ナイン"), ("OO", "ウー"), ("HTUN", "トゥン")],
        female: &[("MON", "モン"), ("PHYU", "ピュー"), ("WAI", "ワイ"), ("THIDA", "ティダ")],
    },
    Nationality {
        name: "カンボジア",
        weight: 4,
        family: &[("SOK", "ソック"), ("CHAN", "チャン"), ("KIM", "キム"), ("HENG", "ヘン")],
        male: &[("DARA", "ダラ"), ("VANNAK", "ヴァンナック"), ("SOPHAL", "ソパル")],
        female: &[("SREYMOM", "スレイモム"), ("CHANTHA", "チャンター"), ("SOPHEA", "ソピア")],
    },
    Nationality {
        name: "タイ",
        weight: 3,
        family: &[("SRISUK", "シースック"), ("WONGSA", "ウォンサー"), ("CHAIYAPHUM", "チャイヤプーム")],
        male: &[("SOMCHAI", "ソムチャイ"), ("ANAN", "アナン")],
        female: &[("SUDA", "スダー"), ("NARI", "ナリー")],
    },
];

/// Which grades (級) a trade examines.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TradeGrades {
    /// 1〜3級 and 基礎級; with 特級 where `special` is set.
    Multi { special: bool },
    /// 単一等級 only.
    Single,
}

/// A trade (職種) with its works (作業).
pub(crate) struct Trade {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) grades: TradeGrades,
    /// Offered to technical intern trainees (技能実習 移行対象職種).
    pub(crate) intern: bool,
    pub(crate) works: &'static [(&'static str, &'static str)],
}

const fn multi(special: bool) -> TradeGrades {
    TradeGrades::Multi { special }
}

/// Trades examined (invented codes, real names).
#[rustfmt::skip]
pub(crate) const TRADES: &[Trade] = &[
    Trade { code: "0110", name: "造園", grades: multi(false), intern: true, works: &[("011001", "造園工事作業")] },
    Trade { code: "0310", name: "機械加工", grades: multi(true), intern: true, works: &[("031001", "普通旋盤作業"), ("031002", "フライス盤作業"), ("031003", "数値制御旋盤作業"), ("031004", "マシニングセンタ作業")] },
    Trade { code: "0320", name: "機械保全", grades: multi(true), intern: false, works: &[("032001", "機械系保全作業"), ("032002", "電気系保全作業")] },
    Trade { code: "0330", name: "電子機器組立て", grades: multi(true), intern: true, works: &[("033001", "電子機器組立て作業")] },
    Trade { code: "0340", name: "電気機器組立て", grades: multi(true), intern: true, works: &[("034001", "回転電機組立て作業"), ("034002", "配電盤・制御盤組立て作業")] },
    Trade { code: "0350", name: "金属プレス加工", grades: multi(true), intern: true, works: &[("035001", "金属プレス作業")] },
    Trade { code: "0360", name: "鋳造", grades: multi(false), intern: true, works: &[("036001", "鋳鉄鋳物鋳造作業"), ("036002", "非鉄金属鋳物鋳造作業")] },
    Trade { code: "0370", name: "プラスチック成形", grades: multi(true), intern: true, works: &[("037001", "射出成形作業"), ("037002", "圧縮成形作業")] },
    Trade { code: "0380", name: "金型製作", grades: multi(true), intern: false, works: &[("038001", "プレス金型製作作業"), ("038002", "プラスチック成形用金型製作作業")] },
    Trade { code: "0390", name: "仕上げ", grades: multi(false), intern: true, works: &[("039001", "治工具仕上げ作業"), ("039002", "機械組立仕上げ作業")] },
    Trade { code: "0410", name: "建築大工", grades: multi(false), intern: true, works: &[("041001", "大工工事作業")] },
    Trade { code: "0420", name: "とび", grades: multi(false), intern: true, works: &[("042001", "とび作業")] },
    Trade { code: "0430", name: "鉄筋施工", grades: multi(false), intern: true, works: &[("043001", "鉄筋組立て作業")] },
    Trade { code: "0440", name: "型枠施工", grades: multi(false), intern: true, works: &[("044001", "型枠工事作業")] },
    Trade { code: "0450", name: "左官", grades: multi(false), intern: true, works: &[("045001", "左官作業")] },
    Trade { code: "0460", name: "配管", grades: multi(false), intern: true, works: &[("046001", "建築配管作業"), ("046002", "プラント配管作業")] },
    Trade { code: "0470", name: "塗装", grades: multi(false), intern: true, works: &[("047001", "木工塗装作業"), ("047002", "建築塗装作業"), ("047003", "金属塗装作業")] },
    Trade { code: "0480", name: "内装仕上げ施工", grades: multi(false), intern: true, works: &[("048001", "プラスチック系床仕上げ工事作業"), ("048002", "鋼製下地工事作業"), ("048003", "ボード仕上げ工事作業")] },
    Trade { code: "0510", name: "婦人子供服製造", grades: multi(false), intern: true, works: &[("051001", "婦人子供既製服縫製作業")] },
    Trade { code: "0520", name: "パン製造", grades: multi(false), intern: true, works: &[("052001", "パン製造作業")] },
    Trade { code: "0530", name: "ハム・ソーセージ・ベーコン製造", grades: multi(false), intern: true, works: &[("053001", "ハム・ソーセージ・ベーコン製造作業")] },
    Trade { code: "0540", name: "水産練り製品製造", grades: multi(false), intern: true, works: &[("054001", "かまぼこ製品製造作業")] },
    Trade { code: "0610", name: "ビルクリーニング", grades: multi(false), intern: true, works: &[("061001", "ビルクリーニング作業")] },
    Trade { code: "0620", name: "ウェブデザイン", grades: multi(false), intern: false, works: &[("062001", "ウェブデザイン作業")] },
    Trade { code: "0630", name: "情報配線施工", grades: multi(false), intern: false, works: &[("063001", "情報配線施工作業")] },
    Trade { code: "0640", name: "ファイナンシャル・プランニング", grades: multi(false), intern: false, works: &[("064001", "個人資産相談業務"), ("064002", "資産設計提案業務")] },
    Trade { code: "0710", name: "エーエルシーパネル施工", grades: TradeGrades::Single, intern: false, works: &[("071001", "エーエルシーパネル工事作業")] },
    Trade { code: "0720", name: "樹脂接着剤注入施工", grades: TradeGrades::Single, intern: false, works: &[("072001", "樹脂接着剤注入工事作業")] },
    Trade { code: "0730", name: "路面標示施工", grades: TradeGrades::Single, intern: false, works: &[("073001", "溶融ペイントハンドマーカー工事作業"), ("073002", "加熱ペイントマシンマーカー工事作業")] },
];

/// Company name stems (屋号).
#[rustfmt::skip]
pub(crate) const COMPANY_STEMS: &[&str] = &[
    "東邦", "大和", "日進", "三光", "昭和", "富士", "旭", "中央", "北斗", "丸三", "大成", "明和", "協和",
    "三和", "東洋", "太平", "新光", "日東", "光洋", "丸山", "共栄", "第一", "山陽", "北陸", "南海",
    "東亜", "興和", "大同", "平和", "精工",
];

/// Company business words.
#[rustfmt::skip]
pub(crate) const COMPANY_TRADES: &[&str] = &[
    "製作所", "工業", "精機", "建設", "工務店", "電機", "技研", "産業", "鉄工所", "食品", "造園", "塗装",
    "電子", "機工", "化成", "金属", "工芸", "設備",
];

/// Employer 方書 (site within the address).
#[rustfmt::skip]
pub(crate) const EMPLOYER_SITES: &[&str] = &["本社工場", "第二工場", "技術センター", "第一工場", "本社ビル3階", "物流センター"];

/// Place-like stems for school names.
#[rustfmt::skip]
pub(crate) const SCHOOL_STEMS: &[&str] = &["中央", "東", "西", "南", "北", "第一", "城東", "城南", "城北", "城西", "湊", "桜丘"];

/// Reasons for 合格取消.
pub(crate) const REVOCATION_REASONS: &[&str] =
    &["不正な手段による受検", "受検資格の虚偽申請", "替え玉受検"];

/// Domains for synthetic e-mail addresses (reserved example domains).
pub(crate) const EMAIL_DOMAINS: &[&str] = &[
    "example.jp",
    "example.co.jp",
    "example.ne.jp",
    "example.com",
];
