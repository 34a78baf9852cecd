//! Validated value types: each is constructed only through its validator, so an
//! invalid 個人番号, 郵便番号 or 在留カード番号 cannot exist in the program.
//!
//! None of these types prints its value: `Debug` shows the type name and
//! `<redacted>`, and there is no `Display`. Personal text sits in zeroizing storage.

use std::fmt;

use zeroize::Zeroizing;

use super::error::ValueError;

/// Writes a `Debug` that names the type and hides the value.
macro_rules! redacted_debug {
    ($($ty:ident),+ $(,)?) => {
        $(impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        })+
    };
}

/// Rejects a value longer than `max` characters before any other check, so that
/// a huge input is never scanned twice.
fn check_len(input: &str, max: usize) -> Result<(), ValueError> {
    // A char is at most 4 bytes: the byte length bounds the char count cheaply.
    if input.len() > max * 4 || input.chars().count() > max {
        return Err(ValueError::TooLong);
    }
    Ok(())
}

fn is_blank(input: &str) -> bool {
    input.chars().all(char::is_whitespace)
}

// ---------------------------------------------------------------------------
// 個人番号

/// 個人番号 (My Number): twelve digits whose last digit is the official check digit.
#[derive(Clone, PartialEq, Eq)]
pub struct MyNumber(Zeroizing<String>);

/// Weight Q_n of digit P_n (n = 1 is the digit left of the check digit).
fn my_number_weight(n: u32) -> u32 {
    if n <= 6 {
        n + 1
    } else {
        n - 5
    }
}

impl MyNumber {
    /// Parses twelve ASCII digits and verifies the check digit (個人番号の検査用数字).
    pub fn parse(input: &str) -> Result<MyNumber, ValueError> {
        check_len(input, 12)?;
        if input.len() != 12 || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::InvalidFormat);
        }
        let (first11, last) = input.split_at(11);
        let expected = MyNumber::check_digit(first11).ok_or(ValueError::InvalidFormat)?;
        if last.as_bytes()[0] - b'0' != expected {
            return Err(ValueError::InvalidCheckDigit);
        }
        Ok(MyNumber(Zeroizing::new(input.to_owned())))
    }

    /// The check digit for the first eleven digits, or `None` when `first11` is not
    /// exactly eleven ASCII digits. For test-data generators and import tools.
    ///
    /// P1..P11 are read from the digit left of the check digit towards the first
    /// digit; Q_n = n + 1 for n ≤ 6 and n − 5 for n ≥ 7; r = Σ P_n·Q_n mod 11;
    /// the check digit is 0 when r ≤ 1, else 11 − r.
    pub fn check_digit(first11: &str) -> Option<u8> {
        if first11.len() != 11 || !first11.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let sum: u32 = first11
            .bytes()
            .rev()
            .zip(1u32..)
            .map(|(b, n)| u32::from(b - b'0') * my_number_weight(n))
            .sum();
        let r = sum % 11;
        // r ≤ 10, so 11 − r fits a digit whenever r ≥ 2.
        Some(if r <= 1 { 0 } else { (11 - r) as u8 })
    }

    /// The twelve digits. Call only where the number must leave the vault
    /// (sealing, the blind index, an authorised reveal).
    pub fn expose_digits(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Codes of places

/// 都道府県コード (JIS X 0401): `"01"` (北海道) to `"47"` (沖縄県). The tenant of a record.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrefectureCode(u8);

const PREFECTURE_CODES: [&str; 47] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32",
    "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47",
];

impl PrefectureCode {
    /// Parses two ASCII digits between `01` and `47`.
    pub fn parse(input: &str) -> Result<PrefectureCode, ValueError> {
        check_len(input, 2)?;
        let b = input.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::InvalidFormat);
        }
        let n = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !(1..=47).contains(&n) {
            return Err(ValueError::OutOfRange);
        }
        Ok(PrefectureCode(n))
    }

    /// The code as two digits (`"35"`).
    pub fn as_str(&self) -> &'static str {
        // The constructor admits 1..=47 only.
        PREFECTURE_CODES[usize::from(self.0 - 1)]
    }

    /// The code as a number (35).
    pub fn number(&self) -> u8 {
        self.0
    }
}

/// 郵便番号: seven digits. `123-4567` is accepted and kept as `1234567`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostalCode(Zeroizing<String>);

impl PostalCode {
    /// Parses seven digits, optionally with a hyphen after the third.
    pub fn parse(input: &str) -> Result<PostalCode, ValueError> {
        check_len(input, 8)?;
        let digits: &[u8] = input.as_bytes();
        let joined = match digits.len() {
            7 => Zeroizing::new(input.to_owned()),
            8 if digits[3] == b'-' => Zeroizing::new(format!("{}{}", &input[..3], &input[4..])),
            _ => return Err(ValueError::InvalidFormat),
        };
        if joined.len() != 7 || !joined.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::InvalidFormat);
        }
        Ok(PostalCode(joined))
    }

    /// The seven digits, without hyphen.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Residence and contact

/// 在留カード番号: two letters, eight digits, two letters (kept in upper case).
#[derive(Clone, PartialEq, Eq)]
pub struct ResidenceCardNumber(Zeroizing<String>);

impl ResidenceCardNumber {
    /// Parses `AB12345678CD` (lower-case letters are accepted and upper-cased).
    pub fn parse(input: &str) -> Result<ResidenceCardNumber, ValueError> {
        check_len(input, 12)?;
        let b = input.as_bytes();
        let shape_ok = b.len() == 12
            && b[..2].iter().all(u8::is_ascii_alphabetic)
            && b[2..10].iter().all(u8::is_ascii_digit)
            && b[10..].iter().all(u8::is_ascii_alphabetic);
        if !shape_ok {
            return Err(ValueError::InvalidFormat);
        }
        Ok(ResidenceCardNumber(Zeroizing::new(
            input.to_ascii_uppercase(),
        )))
    }

    /// The card number in upper case.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

/// 電話番号: digits with optional hyphens, 10 or 11 digits, kept exactly as submitted.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(Zeroizing<String>);

impl Phone {
    /// Parses `03-1234-5678`, `09012345678`, ... (no leading, trailing or double hyphen).
    pub fn parse(input: &str) -> Result<Phone, ValueError> {
        check_len(input, 16)?;
        let b = input.as_bytes();
        if b.is_empty() {
            return Err(ValueError::Empty);
        }
        let chars_ok = b.iter().all(|c| c.is_ascii_digit() || *c == b'-');
        let hyphens_ok = b[0] != b'-' && b[b.len() - 1] != b'-' && !input.contains("--");
        if !chars_ok || !hyphens_ok {
            return Err(ValueError::InvalidFormat);
        }
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        if !(10..=11).contains(&digits) {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Phone(Zeroizing::new(input.to_owned())))
    }

    /// The number as submitted.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address (ASCII `local@domain.tld`, at most 254 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(Zeroizing<String>);

impl Email {
    /// Parses an address: one `@`, a local part of visible ASCII, a dotted domain
    /// of letters, digits and hyphens.
    pub fn parse(input: &str) -> Result<Email, ValueError> {
        check_len(input, 254)?;
        if is_blank(input) {
            return Err(ValueError::Empty);
        }
        let Some((local, domain)) = input.split_once('@') else {
            return Err(ValueError::InvalidFormat);
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(
                        b,
                        b'@' | b'"'
                            | b'('
                            | b')'
                            | b','
                            | b':'
                            | b';'
                            | b'<'
                            | b'>'
                            | b'['
                            | b'\\'
                            | b']'
                    )
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !local_ok || !domain_ok {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Email(Zeroizing::new(input.to_owned())))
    }

    /// The address as submitted.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Names and free text

/// フリガナ: full-width katakana (with ー, ・, ヽ, ヾ) and spaces, kept as submitted.
#[derive(Clone, PartialEq, Eq)]
pub struct Kana(Zeroizing<String>);

/// The longest フリガナ accepted, in characters.
pub const KANA_MAX_CHARS: usize = 100;

fn is_katakana_letter(c: char) -> bool {
    // ァ..ヺ (U+30A1..U+30FA), ー (U+30FC), ヽヾ (U+30FD, U+30FE).
    matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FC}'..='\u{30FE}')
}

impl Kana {
    /// Parses full-width katakana; half-width and full-width spaces and ・ are
    /// allowed between letters. Hiragana, half-width kana and Latin letters are refused.
    pub fn parse(input: &str) -> Result<Kana, ValueError> {
        check_len(input, KANA_MAX_CHARS)?;
        if is_blank(input) {
            return Err(ValueError::Empty);
        }
        let ok = input
            .chars()
            .all(|c| is_katakana_letter(c) || matches!(c, ' ' | '\u{3000}' | '\u{30FB}'));
        if !ok || !input.chars().any(is_katakana_letter) {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Kana(Zeroizing::new(input.to_owned())))
    }

    /// The kana as submitted (spaces kept).
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

/// Free text (names, addresses, remarks) with a length cap, kept as submitted.
///
/// Refuses empty or blank text and control characters; a multi-line text also
/// allows line feeds, carriage returns and tabs.
#[derive(Clone, PartialEq, Eq)]
pub struct FreeText(Zeroizing<String>);

impl FreeText {
    /// Parses one line of text of at most `max_chars` characters.
    pub fn parse(input: &str, max_chars: usize) -> Result<FreeText, ValueError> {
        FreeText::parse_inner(input, max_chars, false)
    }

    /// Parses text of at most `max_chars` characters that may span several lines.
    pub fn parse_multiline(input: &str, max_chars: usize) -> Result<FreeText, ValueError> {
        FreeText::parse_inner(input, max_chars, true)
    }

    fn parse_inner(input: &str, max_chars: usize, multiline: bool) -> Result<FreeText, ValueError> {
        check_len(input, max_chars)?;
        if is_blank(input) {
            return Err(ValueError::Empty);
        }
        let ok = input.chars().all(|c| {
            !(c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
                || (multiline && matches!(c, '\n' | '\r' | '\t'))
        });
        if !ok {
            return Err(ValueError::InvalidFormat);
        }
        Ok(FreeText(Zeroizing::new(input.to_owned())))
    }

    /// The text as submitted.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Codes and identifiers

/// A code of ASCII letters and digits: 職種コード, 作業コード (1–8), other codes of
/// the exam systems.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

/// The longest 職種コード / 作業コード.
pub const TRADE_CODE_MAX: usize = 8;

impl Code {
    /// Parses 1..=`max_len` ASCII letters or digits.
    pub fn parse(input: &str, max_len: usize) -> Result<Code, ValueError> {
        check_len(input, max_len)?;
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if !input.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Code(input.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identifier of letters, digits and hyphens: 受検番号 (exam number),
/// 申請受付ID (application id), 1–32 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Identifier(Zeroizing<String>);

/// The longest 受検番号 / 申請受付ID.
pub const IDENTIFIER_MAX: usize = 32;

impl Identifier {
    /// Parses 1..=`max_len` ASCII letters, digits or hyphens.
    pub fn parse(input: &str, max_len: usize) -> Result<Identifier, ValueError> {
        check_len(input, max_len)?;
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Identifier(Zeroizing::new(input.to_owned())))
    }

    /// The identifier as submitted.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

/// An opaque token of another system (ユーザID, 仮名ID, 団体コード, 管理番号):
/// visible ASCII without spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Parses 1..=`max_len` visible ASCII characters (`!`..`~`).
    pub fn parse(input: &str, max_len: usize) -> Result<Token, ValueError> {
        check_len(input, max_len)?;
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if !input.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValueError::InvalidFormat);
        }
        Ok(Token(Zeroizing::new(input.to_owned())))
    }

    /// The token as submitted.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------
// Numbers and lists

/// 年度 (fiscal year, April to March): 1959 (the first 技能検定) to 2100.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiscalYear(u16);

impl FiscalYear {
    /// The first fiscal year accepted (技能検定 began in 1959).
    pub const MIN: i64 = 1959;
    /// The last fiscal year accepted.
    pub const MAX: i64 = 2100;

    /// Checks that `year` lies in 1959..=2100.
    pub fn new(year: i64) -> Result<FiscalYear, ValueError> {
        if !(FiscalYear::MIN..=FiscalYear::MAX).contains(&year) {
            return Err(ValueError::OutOfRange);
        }
        // In range 1959..=2100, so it fits u16.
        Ok(FiscalYear(year as u16))
    }

    /// The year (2024 for 令和6年度).
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// Certified trades of a ものづくりマイスター: a non-empty list of non-empty names.
#[derive(Clone, PartialEq, Eq)]
pub struct Trades(Vec<Zeroizing<String>>);

/// Most trades one meister may list.
pub const TRADES_MAX_ITEMS: usize = 20;
/// Longest trade name, in characters.
pub const TRADE_NAME_MAX_CHARS: usize = 100;

impl Trades {
    /// Validates each name as one line of text and the list as non-empty.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Trades, ValueError> {
        let mut out = Vec::new();
        for name in names {
            if out.len() == TRADES_MAX_ITEMS {
                return Err(ValueError::TooLong);
            }
            let text = FreeText::parse(name, TRADE_NAME_MAX_CHARS)?;
            out.push(text.0);
        }
        if out.is_empty() {
            return Err(ValueError::Empty);
        }
        Ok(Trades(out))
    }

    /// The trade names.
    pub fn expose_names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| s.as_str())
    }

    pub(crate) fn into_inner(self) -> Vec<Zeroizing<String>> {
        self.0
    }
}

redacted_debug!(
    MyNumber,
    PrefectureCode,
    PostalCode,
    ResidenceCardNumber,
    Phone,
    Email,
    Kana,
    FreeText,
    Code,
    Identifier,
    Token,
    FiscalYear,
    Trades,
);

pub(crate) trait IntoText {
    fn into_text(self) -> Zeroizing<String>;
}

macro_rules! into_text {
    ($($ty:ident),+) => {
        $(impl IntoText for $ty {
            fn into_text(self) -> Zeroizing<String> {
                self.0
            }
        })+
    };
}
into_text!(
    MyNumber,
    PostalCode,
    ResidenceCardNumber,
    Phone,
    Email,
    Kana,
    FreeText,
    Identifier,
    Token
);

impl IntoText for Code {
    fn into_text(self) -> Zeroizing<String> {
        Zeroizing::new(self.0)
    }
}

impl IntoText for PrefectureCode {
    fn into_text(self) -> Zeroizing<String> {
        Zeroizing::new(self.as_str().to_owned())
    }
}

// ---------------------------------------------------------------------------
// Closed lists

/// Declares a closed list of values with its canonical names and accepted codes.
macro_rules! closed_list {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:literal $(| $alias:literal)*),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Parses the canonical name (or an accepted code).
            pub fn parse(input: &str) -> Result<$name, ValueError> {
                match input {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ if input.chars().count() > 32 => Err(ValueError::TooLong),
                    _ => Err(ValueError::InvalidValue),
                }
            }

            /// The canonical name used in the API and in storage.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

closed_list! {
    /// 性別. JIS X 0303 codes are accepted: 1 male, 2 female, 0 (not known) and
    /// 9 (not applicable) both read as `unknown`.
    Sex {
        /// 男性.
        Male => "male" | "1",
        /// 女性.
        Female => "female" | "2",
        /// 不明 / 適用不能.
        Unknown => "unknown" | "0" | "9",
    }
}

closed_list! {
    /// 級 (grade of the exam).
    Grade {
        /// 特級.
        Special => "special",
        /// 1級.
        First => "1",
        /// 2級.
        Second => "2",
        /// 3級.
        Third => "3",
        /// 基礎級.
        Basic => "basic",
        /// 単一等級.
        Single => "single",
    }
}

closed_list! {
    /// 期別 (exam period): 前期, 後期 or 随時.
    ExamPeriod {
        /// 前期.
        First => "1",
        /// 後期.
        Second => "2",
        /// 随時 (any time).
        Any => "any",
    }
}

closed_list! {
    /// 受検区分 (which tests the examinee sits).
    ExamCategory {
        /// 学科のみ.
        Written => "written",
        /// 実技のみ.
        Practical => "practical",
        /// 学科及び実技.
        Both => "both",
    }
}

closed_list! {
    /// 出欠 (attendance at one test or test part).
    Attendance {
        /// 出席.
        Present => "present",
        /// 欠席.
        Absent => "absent",
        /// 免除 (exempted, did not sit).
        Exempt => "exempt",
    }
}

closed_list! {
    /// Where a ものづくりマイスター taught (実技指導の派遣先の区分).
    ActivityKind {
        /// 中小企業.
        Sme => "sme",
        /// 業界団体.
        IndustryGroup => "industry_group",
        /// 工業高校等.
        TechnicalHighSchool => "technical_high_school",
        /// 小中学校.
        ElementaryJuniorHigh => "elementary_junior_high",
        /// 公共職業能力開発施設.
        PublicFacility => "public_facility",
        /// 地域若者サポートステーション.
        YouthSupportStation => "youth_support_station",
        /// その他.
        Other => "other",
    }
}

closed_list! {
    /// Registration status of a ものづくりマイスター.
    MeisterStatus {
        /// 登録中.
        Active => "active",
        /// 活動意思確認中 (no activity for the configured period).
        IntentCheck => "intent_check",
        /// 登録抹消.
        Deregistered => "deregistered",
    }
}
