//! The synthetic population: examinees with applications, results and
//! qualifications; meisters with activities; employers shared between them.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};

use crate::my_number::{MyNumberAssigner, BODY_SPACE};
use crate::records::{
    ActivityKind, Application, Attendance, ExamCategory, ExamPeriod, ExamResult, Examinee,
    ExamineeLine, Grade, Meister, MeisterActivity, MeisterLine, MeisterStatus, Qualification, Sex,
};
use crate::rng::{cumulative, Domain, Rng, StreamKey};
use crate::tables::{
    City, Prefecture, TradeGrades, BUILDING_KINDS, BUILDING_STEMS, COMPANY_STEMS, COMPANY_TRADES,
    EMAIL_DOMAINS, EMPLOYER_SITES, FAMILY_NAMES, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES,
    NATIONALITIES, PREFECTURES, REVOCATION_REASONS, SCHOOL_STEMS, TOWNS, TRADES,
};

/// First fiscal year (年度) an application is generated for.
pub const FIRST_FISCAL_YEAR: u16 = 2015;
/// Last fiscal year an application is generated for.
pub const LAST_FISCAL_YEAR: u16 = 2025;
/// The generator's "today": results announced after it are not generated,
/// nor applications for exams more than 60 days after it. Fixed, so output
/// never depends on the clock.
pub const AS_OF: NaiveDate = ymd(2025, 10, 1);
/// Most applications one examinee gets.
pub const MAX_APPLICATIONS: usize = 4;
/// Examinee indices must stay below this (10^11): it is the number of
/// distinct My Numbers, and higher indices would repeat them.
pub const MAX_EXAMINEES: u64 = BODY_SPACE;

/// Stride of per-examinee serial numbers (ids of application k of examinee i
/// use serial `i * ID_STRIDE + k`).
const ID_STRIDE: u64 = 8;
// Application serials of one examinee must not reach the next examinee's.
const _: () = assert!(MAX_APPLICATIONS as u64 <= ID_STRIDE);

/// Employers per prefecture (事業所コード space).
const EMPLOYERS_PER_PREFECTURE: u32 = 5_000;
/// Ideographic space, between family and given names.
const NAME_SEPARATOR: &str = "\u{3000}";

/// Cumulative form of a weight table, for `Rng::weighted`, at compile time.
const fn cum<const N: usize>(weights: [u32; N]) -> [u32; N] {
    let mut out = weights;
    let mut i = 1;
    while i < N {
        out[i] += out[i - 1];
        i += 1;
    }
    out
}

/// 1, 2, 3 or 4 applications per examinee.
const APPLICATION_COUNT_WEIGHTS: [u32; 4] = cum([60, 25, 10, 5]);
/// First grade sat: special, 1, 2, 3, basic, single.
const FIRST_GRADE_WEIGHTS: [u32; 6] = cum([2, 15, 33, 35, 3, 12]);
/// 前期, 後期, 随時.
const PERIOD_WEIGHTS: [u32; 3] = cum([48, 47, 5]);
/// both, practical only, written only.
const CATEGORY_WEIGHTS: [u32; 3] = cum([80, 12, 8]);
/// 株式会社X, X株式会社, 有限会社X, X合同会社.
const COMPANY_FORM_WEIGHTS: [u32; 4] = cum([45, 35, 15, 5]);
/// sme, industry_group, technical_high_school, elementary_junior_high,
/// public_facility, youth_support_station, other.
const ACTIVITY_KIND_WEIGHTS: [u32; 7] = cum([30, 10, 25, 15, 10, 3, 7]);

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        // Only reached in const evaluation of a literal date, i.e. at compile time.
        None => panic!("invalid constant date"),
    }
}

/// Day number (days since 0001-01-01, CE) of a date.
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The date of a day number. The generator only forms days between 1940 and
/// 2031, which chrono always represents; the fallback is never taken.
fn date_of(days: i64) -> NaiveDate {
    i32::try_from(days)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(AS_OF)
}

/// Day number of 1 April of `year` (start of fiscal year `year`).
fn fiscal_start(year: u16) -> i64 {
    // 1 April exists in every year chrono represents.
    NaiveDate::from_ymd_opt(i32::from(year), 4, 1).map_or(0, day_number)
}

/// Fiscal year (April–March) of a date.
fn fiscal_year_of(date: NaiveDate) -> u16 {
    let y = if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    };
    u16::try_from(y).unwrap_or(LAST_FISCAL_YEAR)
}

/// Settings of a [`Generator`]. The seed decides everything else.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GeneratorConfig {
    /// Same seed, same data, byte for byte.
    pub seed: u64,
    /// Share of examinees who are foreign technical intern trainees (技能実習生), in ‰ (default 50).
    pub foreign_trainee_permille: u32,
    /// Generate 受検管理 results for announced applications (default true).
    pub results: bool,
    /// Generate 技能士 qualifications for passed applications (default true).
    pub qualifications: bool,
}

impl GeneratorConfig {
    /// Defaults with the given seed.
    pub fn new(seed: u64) -> Self {
        GeneratorConfig {
            seed,
            foreign_trainee_permille: 50,
            results: true,
            qualifications: true,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self::new(1)
    }
}

/// The deterministic synthetic data generator.
///
/// Item `i` (examinee or meister) is a pure function of (seed, i): its own
/// random stream, its own id serials. So any range of indices can be made, in
/// any order, by any number of threads, and the bytes are the same.
pub struct Generator {
    config: GeneratorConfig,
    examinee_key: StreamKey,
    meister_key: StreamKey,
    employer_key: StreamKey,
    my_numbers: MyNumberAssigner,
    prefecture_weights: Vec<u32>,
    nationality_weights: Vec<u32>,
    multi_trades: Vec<usize>,
    special_trades: Vec<usize>,
    single_trades: Vec<usize>,
    intern_trades: Vec<usize>,
}

/// An employer (事業所), the same for every application that names its code.
#[derive(Clone)]
struct Employer {
    code: String,
    name: String,
    postal_code: String,
    address: String,
    address_detail: Option<&'static str>,
    phone: String,
}

impl Generator {
    /// A generator for `config`.
    pub fn new(config: GeneratorConfig) -> Self {
        let seed = config.seed;
        let trades_where = |f: &dyn Fn(&crate::tables::Trade) -> bool| -> Vec<usize> {
            TRADES
                .iter()
                .enumerate()
                .filter(|(_, t)| f(t))
                .map(|(i, _)| i)
                .collect()
        };
        Generator {
            examinee_key: StreamKey::new(seed, Domain::Examinee),
            meister_key: StreamKey::new(seed, Domain::Meister),
            employer_key: StreamKey::new(seed, Domain::Employer),
            my_numbers: MyNumberAssigner::new(seed),
            prefecture_weights: cumulative(PREFECTURES.iter().map(|p| p.weight)),
            nationality_weights: cumulative(NATIONALITIES.iter().map(|n| n.weight)),
            multi_trades: trades_where(&|t| matches!(t.grades, TradeGrades::Multi { .. })),
            special_trades: trades_where(&|t| t.grades == TradeGrades::Multi { special: true }),
            single_trades: trades_where(&|t| t.grades == TradeGrades::Single),
            intern_trades: trades_where(&|t| t.intern),
            config,
        }
    }

    /// The settings this generator was made with.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Examinee number `index` with their applications and qualifications.
    ///
    /// `index` should be below [`MAX_EXAMINEES`]; above it My Numbers repeat.
    pub fn examinee(&self, index: u64) -> ExamineeLine {
        let mut r = self.examinee_key.stream(index);
        if r.permille(self.config.foreign_trainee_permille) {
            self.trainee(index, r)
        } else {
            self.resident(index, r)
        }
    }

    /// Meister number `index` with their activities.
    pub fn meister(&self, index: u64) -> MeisterLine {
        let mut r = self.meister_key.stream(index);
        let pref_index = r.weighted(&self.prefecture_weights);
        let pref = &PREFECTURES[pref_index];
        let city = r.pick(pref.cities);
        let sex = if r.permille(900) {
            Sex::Male
        } else {
            Sex::Female
        };
        let family = r.pick(FAMILY_NAMES);
        let given = r.pick(if sex == Sex::Male {
            MALE_GIVEN_NAMES
        } else {
            FEMALE_GIVEN_NAMES
        });
        let phone = if r.permille(600) {
            mobile_phone(&mut r)
        } else {
            landline(&mut r, city)
        };
        let email = r.permille(750).then(|| {
            let domain = r.pick(EMAIL_DOMAINS);
            format!("{}{:03}@{}", family.2, r.below(1000), domain)
        });
        let (_, address) = address(&mut r, pref, city);
        let first_trade = r.pick(TRADES).name;
        let mut trades = vec![Cow::Borrowed(first_trade)];
        if r.permille(200) {
            let second = r.pick(TRADES).name;
            if second != first_trade {
                trades.push(Cow::Borrowed(second));
            }
        }
        let certified = r.range(day_number(ymd(2013, 4, 1)), day_number(ymd(2025, 9, 30)));
        let certified_on = date_of(certified);
        let certification_number = format!(
            "{}{:02}-{:08}",
            pref.code,
            fiscal_year_of(certified_on) % 100,
            index
        );
        let as_of = day_number(AS_OF);
        let course_completed_on = r.permille(800).then(|| certified + r.range(0, 365));
        let course_completed_on = course_completed_on.filter(|&d| d <= as_of).map(date_of);

        // Three years without activity (counted from certification when there is none)
        // make a meister "inactive" in the sense of the 3-year rule.
        let three_years_ago = day_number(ymd(2022, 10, 1));
        let inactive = r.permille(150);
        let window_end = if inactive { three_years_ago - 1 } else { as_of };
        let mut days: Vec<i64> = Vec::new();
        if window_end >= certified {
            let count = if inactive {
                1 + r.below(6)
            } else {
                1 + r.below(20)
            };
            days.extend((0..count).map(|_| r.range(certified, window_end)));
            days.sort_unstable();
            if !inactive {
                if let Some(last) = days.last_mut() {
                    if *last < three_years_ago {
                        *last = r.range(three_years_ago.max(certified), as_of);
                    }
                }
            }
        }
        let status = if inactive && certified < three_years_ago {
            match r.below(100) {
                0..=54 => MeisterStatus::IntentCheck,
                55..=84 => MeisterStatus::Deregistered,
                _ => MeisterStatus::Active,
            }
        } else if r.permille(30) {
            MeisterStatus::Deregistered
        } else {
            MeisterStatus::Active
        };
        let activities = days
            .into_iter()
            .map(|d| self.activity(&mut r, pref, city, first_trade, date_of(d)))
            .collect();
        MeisterLine {
            meister: Meister {
                prefecture_code: Cow::Borrowed(pref.code),
                name: join_name(family.0, given.0),
                name_kana: join_name(family.1, given.1),
                phone,
                email,
                address,
                trades,
                certification_number,
                certified_on,
                status,
                course_completed_on,
            },
            activities,
        }
    }

    fn activity(
        &self,
        r: &mut Rng,
        pref: &Prefecture,
        city: &City,
        trade: &str,
        date: NaiveDate,
    ) -> MeisterActivity {
        let municipality = municipality(city.name);
        let (kind, host_name) = match r.weighted(&ACTIVITY_KIND_WEIGHTS) {
            0 => (ActivityKind::Sme, company_name(r)),
            1 => (
                ActivityKind::IndustryGroup,
                format!("{}{}技能士会", pref.name, trade),
            ),
            2 => (
                ActivityKind::TechnicalHighSchool,
                format!("{}立{}工業高等学校", pref.name, r.pick(SCHOOL_STEMS)),
            ),
            3 => {
                let school = if r.permille(600) {
                    "中学校"
                } else {
                    "小学校"
                };
                (
                    ActivityKind::ElementaryJuniorHigh,
                    format!("{}立{}{}", municipality, r.pick(SCHOOL_STEMS), school),
                )
            }
            4 => (
                ActivityKind::PublicFacility,
                if r.permille(500) {
                    format!("{}立高等技術専門校", pref.name)
                } else {
                    format!("{}職業能力開発協会", pref.name)
                },
            ),
            5 => (
                ActivityKind::YouthSupportStation,
                format!("{municipality}地域若者サポートステーション"),
            ),
            _ => (
                ActivityKind::Other,
                format!(
                    "{}{}",
                    municipality,
                    r.pick(&["公民館", "産業フェア実行委員会", "商工会議所"])
                ),
            ),
        };
        let trainee_person_days = match kind {
            ActivityKind::Sme => 2 + r.below(39),
            ActivityKind::ElementaryJuniorHigh | ActivityKind::TechnicalHighSchool => {
                10 + r.below(111)
            }
            _ => 1 + r.below(60),
        };
        MeisterActivity {
            date,
            kind,
            host_name,
            trainee_person_days,
        }
    }

    /// A Japanese resident examinee (the ~95%).
    fn resident(&self, index: u64, mut r: Rng) -> ExamineeLine {
        let home_index = r.weighted(&self.prefecture_weights);
        let home = &PREFECTURES[home_index];
        let city = r.pick(home.cities);
        let sex = if r.permille(780) {
            Sex::Male
        } else {
            Sex::Female
        };
        let family = r.pick(FAMILY_NAMES);
        let given = r.pick(if sex == Sex::Male {
            MALE_GIVEN_NAMES
        } else {
            FEMALE_GIVEN_NAMES
        });
        let (postal_code, address) = address(&mut r, home, city);
        let address_detail = r.permille(300).then(|| building(&mut r));
        let phone = if r.permille(700) {
            mobile_phone(&mut r)
        } else {
            landline(&mut r, city)
        };

        let application_count = 1 + r.weighted(&APPLICATION_COUNT_WEIGHTS);
        let first_year =
            FIRST_FISCAL_YEAR + r.below(u32::from(LAST_FISCAL_YEAR - FIRST_FISCAL_YEAR) + 1) as u16;
        // Sum of uniforms: ages cluster in the thirties, from 17 to 59.
        let age_at_first = 17 + r.below(10) + r.below(15) + r.below(20);
        let birth = fiscal_start(first_year) - i64::from(age_at_first) * 365 - r.range(0, 364);

        // 経験年数 (when stated) at the first sitting; it grows with the years.
        let experience_at_first = r
            .permille(750)
            .then(|| r.below(age_at_first.saturating_sub(17).min(45) + 1));

        let mut grade = match r.weighted(&FIRST_GRADE_WEIGHTS) {
            0 => Grade::Special,
            1 => Grade::First,
            2 => Grade::Second,
            3 => Grade::Third,
            4 => Grade::Basic,
            _ => Grade::Single,
        };
        let mut trade = self.trade_for(&mut r, grade);
        let mut year = first_year;
        let employer_home: Option<(usize, u32)> = r
            .permille(850)
            .then(|| (home_index, r.below(EMPLOYERS_PER_PREFECTURE)));

        let mut applications = Vec::with_capacity(application_count);
        let mut qualifications = Vec::new();
        for k in 0..application_count {
            if k > 0 {
                year += r.below(3) as u16;
                if year > LAST_FISCAL_YEAR {
                    break;
                }
            }
            let period = match r.weighted(&PERIOD_WEIGHTS) {
                0 => ExamPeriod::First,
                1 => ExamPeriod::Second,
                _ => ExamPeriod::Any,
            };
            let fy = fiscal_start(year);
            let announced = match period {
                ExamPeriod::First => fy + 141 + r.range(0, 50), // 20 Aug – 10 Oct
                ExamPeriod::Second => fy + 334 + r.range(0, 19), // 1 – 20 Mar
                _ => fy + r.range(60, 360),
            };
            let exam_day = announced - 30;
            // Later sittings only while applications could be in by AS_OF;
            // everyone has at least one application.
            if k > 0 && exam_day - 60 > day_number(AS_OF) {
                break;
            }
            let exam_pref_index = if r.permille(940) {
                home_index
            } else {
                r.weighted(&self.prefecture_weights)
            };
            let exam_pref = &PREFECTURES[exam_pref_index];
            let category = if grade == Grade::Basic {
                ExamCategory::Both
            } else {
                match r.weighted(&CATEGORY_WEIGHTS) {
                    0 => ExamCategory::Both,
                    1 => ExamCategory::Practical,
                    _ => ExamCategory::Written,
                }
            };
            // Most keep their employer; one who sits elsewhere names one there.
            let employer = match employer_home {
                Some((p, _)) if p != exam_pref_index => {
                    Some((exam_pref_index, r.below(EMPLOYERS_PER_PREFECTURE)))
                }
                other => other,
            };
            let employer = employer.map(|(p, e)| self.employer(p, e));
            let experience_years =
                experience_at_first.map(|e| (e + u32::from(year - first_year)).min(60) as u8);
            let serial = index * ID_STRIDE + k as u64;
            let outcome = self.outcome(&mut r, serial, year, grade, category, announced, 0);
            let passed = outcome.pass;
            let t = &TRADES[trade];
            let mut application = Application {
                application_id: application_id(year, exam_pref, serial),
                prefecture_code: Cow::Borrowed(exam_pref.code),
                fiscal_year: year,
                exam_period: period,
                grade,
                trade_code: Cow::Borrowed(t.code),
                work_code: Cow::Borrowed(r.pick(t.works).0),
                exam_category: category,
                exam_number: exam_number(year, exam_pref, period, serial),
                employer_code: None,
                employer_name: None,
                employer_postal_code: None,
                employer_address: None,
                employer_address_detail: None,
                employer_phone: None,
                experience_years,
                intern_category: None,
                plan_approval_number: None,
                intern_supervisor_name: None,
                intern_site_name: None,
                result: None,
            };
            if let Some(e) = employer {
                set_employer(&mut application, e);
            }
            self.settle(
                &mut r,
                &mut application,
                &mut qualifications,
                outcome,
                serial,
                t.code,
            );
            applications.push(application);
            // Next sitting: up a grade after a pass, the same grade after a fail;
            // now and then another trade.
            (grade, trade) = self.next_sitting(&mut r, grade, trade, passed);
        }

        ExamineeLine {
            examinee: Examinee {
                prefecture_code: Cow::Borrowed(home.code),
                my_number: self.my_numbers.number(index),
                name: join_name(family.0, given.0),
                name_kana: join_name(family.1, given.1),
                birth_date: date_of(birth),
                sex,
                postal_code,
                address,
                address_detail,
                phone,
                nationality: None,
                entry_date: None,
                residence_expiry: None,
                residence_card_number: None,
            },
            applications,
            qualifications,
        }
    }

    /// A foreign technical intern trainee (技能実習生): 基礎級 in the first year,
    /// 随時3級 at the end of 2号, 随時2級 at the end of 3号.
    fn trainee(&self, index: u64, mut r: Rng) -> ExamineeLine {
        let home_index = r.weighted(&self.prefecture_weights);
        let home = &PREFECTURES[home_index];
        let city = r.pick(home.cities);
        let nationality = &NATIONALITIES[r.weighted(&self.nationality_weights)];
        let sex = if r.permille(600) {
            Sex::Male
        } else {
            Sex::Female
        };
        let family = r.pick(nationality.family);
        let given = r.pick(if sex == Sex::Male {
            nationality.male
        } else {
            nationality.female
        });
        // Latin names as on the residence card; kanji names like Japanese ones.
        let name = if family.0.is_ascii() {
            format!("{} {}", family.0, given.0)
        } else {
            join_name(family.0, given.0)
        };
        let (postal_code, address) = address(&mut r, home, city);
        let address_detail = r.permille(700).then(|| building(&mut r));
        let phone = mobile_phone(&mut r);
        let entry = r.range(day_number(ymd(2014, 9, 1)), day_number(ymd(2025, 1, 31)));
        let age_at_entry = 19 + r.below(8) + r.below(8);
        let birth = entry - i64::from(age_at_entry) * 365 - r.range(0, 364);
        let residence_card_number = {
            let mut s = String::with_capacity(12);
            s.push(r.upper());
            s.push(r.upper());
            s.push_str(&format!("{:08}", r.below(100_000_000)));
            s.push(r.upper());
            s.push(r.upper());
            s
        };
        let trade = self.intern_trades[r.below(self.intern_trades.len() as u32) as usize];
        let t = &TRADES[trade];
        let work = r.pick(t.works).0;
        let employer = self.employer(home_index, r.below(EMPLOYERS_PER_PREFECTURE));
        let site = format!("{} {}", employer.name, r.pick(EMPLOYER_SITES));

        const STAGES: [(Grade, &str, i64); 3] = [
            (Grade::Basic, "技能実習1号", 0),
            (Grade::Third, "技能実習2号", 730),
            (Grade::Second, "技能実習3号", 1461),
        ];
        let continues = [true, r.permille(650), r.permille(250)];
        let mut applications = Vec::with_capacity(3);
        let mut qualifications = Vec::new();
        for (k, &(grade, category_name, offset)) in STAGES.iter().enumerate() {
            if !continues[k] {
                break;
            }
            let exam_day = entry + offset + r.range(240, 330);
            if k > 0 && exam_day - 60 > day_number(AS_OF) {
                break;
            }
            let exam_date = date_of(exam_day);
            let year = fiscal_year_of(exam_date);
            let announced = exam_day + r.range(20, 40);
            let serial = index * ID_STRIDE + k as u64;
            let bonus = if grade == Grade::Basic { 20 } else { 10 };
            let outcome = self.outcome(
                &mut r,
                serial,
                year,
                grade,
                ExamCategory::Both,
                announced,
                bonus,
            );
            let passed = outcome.pass;
            let mut application = Application {
                application_id: application_id(year, home, serial),
                prefecture_code: Cow::Borrowed(home.code),
                fiscal_year: year,
                exam_period: ExamPeriod::Any,
                grade,
                trade_code: Cow::Borrowed(t.code),
                work_code: Cow::Borrowed(work),
                exam_category: ExamCategory::Both,
                exam_number: exam_number(year, home, ExamPeriod::Any, serial),
                employer_code: None,
                employer_name: None,
                employer_postal_code: None,
                employer_address: None,
                employer_address_detail: None,
                employer_phone: None,
                experience_years: Some((offset / 365) as u8),
                intern_category: Some(Cow::Borrowed(category_name)),
                plan_approval_number: Some(format!("{}{:09}", k + 1, r.below(1_000_000_000))),
                intern_supervisor_name: Some(employer.name.clone()),
                intern_site_name: Some(site.clone()),
                result: None,
            };
            set_employer(&mut application, employer.clone());
            self.settle(
                &mut r,
                &mut application,
                &mut qualifications,
                outcome,
                serial,
                t.code,
            );
            applications.push(application);
            if !passed {
                // A trainee who fails cannot move on to the next stage.
                break;
            }
        }
        let stages = applications.len().max(1);
        let residence_expiry = entry + [365, 1095, 1826][stages - 1];

        ExamineeLine {
            examinee: Examinee {
                prefecture_code: Cow::Borrowed(home.code),
                my_number: self.my_numbers.number(index),
                name,
                name_kana: join_name(family.1, given.1),
                birth_date: date_of(birth),
                sex,
                postal_code,
                address,
                address_detail,
                phone,
                nationality: Some(Cow::Borrowed(nationality.name)),
                entry_date: Some(date_of(entry)),
                residence_expiry: Some(date_of(residence_expiry)),
                residence_card_number: Some(residence_card_number),
            },
            applications,
            qualifications,
        }
    }

    /// Scores and flags of one sitting (announced on day `announced`).
    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        r: &mut Rng,
        serial: u64,
        year: u16,
        grade: Grade,
        category: ExamCategory,
        announced: i64,
        bonus: u32,
    ) -> ExamResult {
        let written_taken = category != ExamCategory::Practical;
        let practical_taken = category != ExamCategory::Written;
        let written_present = written_taken.then(|| r.permille(970));
        let practical_present = practical_taken && r.permille(975);
        let written_attendance = written_present.map(|present| {
            if present {
                Attendance::Present
            } else {
                Attendance::Absent
            }
        });
        let written_score = (written_present == Some(true))
            .then(|| (40 + r.below(31) + r.below(31) + bonus).min(100) as u8);
        let practical_total_score =
            practical_present.then(|| (35 + r.below(33) + r.below(33) + bonus).min(100) as u8);
        let written_pass = written_taken.then(|| written_score.is_some_and(|s| s >= 65));
        let practical_pass =
            practical_taken.then(|| practical_total_score.is_some_and(|s| s >= 60));
        let pass = written_pass.unwrap_or(true) && practical_pass.unwrap_or(true);
        ExamResult {
            written_score,
            written_attendance,
            written_pass,
            practical_total_score,
            practical_pass,
            pass,
            announcement_date: date_of(announced),
            overall_pass_number: pass
                .then(|| format!("G{:02}{}-{:011}", year % 100, grade_letter(grade), serial)),
        }
    }

    /// Attach the result once announced, and the qualification it earns.
    fn settle(
        &self,
        r: &mut Rng,
        application: &mut Application,
        qualifications: &mut Vec<Qualification>,
        result: ExamResult,
        serial: u64,
        trade_code: &str,
    ) {
        let as_of = day_number(AS_OF);
        let announced = day_number(result.announcement_date);
        if announced > as_of {
            return;
        }
        // 基礎級 passes are not 技能士 qualifications.
        if self.config.qualifications && result.pass && application.grade != Grade::Basic {
            let revoked = r.permille(1).then(|| announced + r.range(30, 720));
            let revoked = revoked.filter(|&d| d <= as_of);
            qualifications.push(Qualification {
                skilled_worker_number: format!(
                    "{}-{:02}{}-{:011}",
                    trade_code,
                    application.fiscal_year % 100,
                    grade_letter(application.grade),
                    serial
                ),
                passed_on: result.announcement_date,
                valid_until: None,
                revoked_on: revoked.map(date_of),
                revocation_reason: revoked.map(|_| Cow::Borrowed(*r.pick(REVOCATION_REASONS))),
            });
        }
        if self.config.results {
            application.result = Some(result);
        }
    }

    /// A trade examining `grade`.
    fn trade_for(&self, r: &mut Rng, grade: Grade) -> usize {
        let pool = match grade {
            Grade::Special => &self.special_trades,
            Grade::Single => &self.single_trades,
            _ => &self.multi_trades,
        };
        pool[r.below(pool.len() as u32) as usize]
    }

    fn next_sitting(
        &self,
        r: &mut Rng,
        grade: Grade,
        trade: usize,
        passed: bool,
    ) -> (Grade, usize) {
        let has_special = TRADES[trade].grades == TradeGrades::Multi { special: true };
        let next = if !passed {
            grade
        } else {
            match grade {
                Grade::Basic => Grade::Third,
                Grade::Third => Grade::Second,
                Grade::Second => Grade::First,
                Grade::First if has_special => Grade::Special,
                other => other,
            }
        };
        let switch = (passed && next == grade) || r.permille(150);
        if switch {
            (next, self.trade_for(r, next))
        } else {
            (next, trade)
        }
    }

    /// Employer `k` of prefecture `pref_index`: a pure function of (seed, prefecture, k).
    fn employer(&self, pref_index: usize, k: u32) -> Employer {
        let mut r = self
            .employer_key
            .stream(pref_index as u64 * u64::from(EMPLOYERS_PER_PREFECTURE) + u64::from(k));
        let pref = &PREFECTURES[pref_index];
        let city = r.pick(pref.cities);
        let name = company_name(&mut r);
        let (postal_code, address) = address(&mut r, pref, city);
        let address_detail = r.permille(500).then(|| *r.pick(EMPLOYER_SITES));
        let phone = landline(&mut r, city);
        Employer {
            code: format!("{}{:06}", pref.code, k),
            name,
            postal_code,
            address,
            address_detail,
            phone,
        }
    }
}

fn set_employer(application: &mut Application, employer: Employer) {
    application.employer_code = Some(employer.code);
    application.employer_name = Some(employer.name);
    application.employer_postal_code = Some(employer.postal_code);
    application.employer_address = Some(employer.address);
    application.employer_address_detail = employer.address_detail.map(Cow::Borrowed);
    application.employer_phone = Some(employer.phone);
}

fn join_name(family: &str, given: &str) -> String {
    let mut s = String::with_capacity(family.len() + NAME_SEPARATOR.len() + given.len());
    s.push_str(family);
    s.push_str(NAME_SEPARATOR);
    s.push_str(given);
    s
}

/// 申請受付ID: `{fiscal year}-{prefecture}-{serial}`, unique by serial.
fn application_id(year: u16, pref: &Prefecture, serial: u64) -> String {
    format!("{}-{}-{:011}", year, pref.code, serial)
}

/// 受検番号: `{prefecture}{yy}{period}-{serial}`, unique by serial.
fn exam_number(year: u16, pref: &Prefecture, period: ExamPeriod, serial: u64) -> String {
    let p = match period {
        ExamPeriod::First => '1',
        ExamPeriod::Second => '2',
        _ => '9',
    };
    format!("{}{:02}{}-{:011}", pref.code, year % 100, p, serial)
}

fn grade_letter(grade: Grade) -> char {
    match grade {
        Grade::Special => 'S',
        Grade::First => '1',
        Grade::Second => '2',
        Grade::Third => '3',
        Grade::Basic => 'K',
        _ => 'T',
    }
}

/// (郵便番号, 住所) in `city`: `{prefecture}{city}{town}{c}丁目{b}番{g}号`.
fn address(r: &mut Rng, pref: &Prefecture, city: &City) -> (String, String) {
    let postal = format!("{}{:04}", city.postal3, r.below(10_000));
    let address = format!(
        "{}{}{}{}丁目{}番{}号",
        pref.name,
        city.name,
        r.pick(TOWNS),
        1 + r.below(6),
        1 + r.below(30),
        1 + r.below(25)
    );
    (postal, address)
}

/// 方書 such as `さくらハイツ203号室`.
fn building(r: &mut Rng) -> String {
    format!(
        "{}{}{}{:02}号室",
        r.pick(BUILDING_STEMS),
        r.pick(BUILDING_KINDS),
        1 + r.below(12),
        1 + r.below(12)
    )
}

/// A landline number of `city`: area code, exchange, 4-digit subscriber; 10 digits in all.
fn landline(r: &mut Rng, city: &City) -> String {
    let exchange_len = 6 - city.area_code.len();
    let low = 2 * 10u32.pow(exchange_len as u32 - 1);
    let high = 10u32.pow(exchange_len as u32);
    let exchange = low + r.below(high - low);
    format!(
        "{}-{:0width$}-{:04}",
        city.area_code,
        exchange,
        r.below(10_000),
        width = exchange_len
    )
}

/// A mobile number: 090/080/070-NNNN-NNNN, 11 digits.
fn mobile_phone(r: &mut Rng) -> String {
    let prefix = r.pick(&["090", "080", "070"]);
    format!("{}-{:04}-{:04}", prefix, r.below(10_000), r.below(10_000))
}

/// A company name (事業所名) such as `株式会社東邦製作所`.
fn company_name(r: &mut Rng) -> String {
    let stem = if r.permille(600) {
        *r.pick(COMPANY_STEMS)
    } else {
        r.pick(FAMILY_NAMES).0
    };
    let business = r.pick(COMPANY_TRADES);
    match r.weighted(&COMPANY_FORM_WEIGHTS) {
        0 => format!("株式会社{stem}{business}"),
        1 => format!("{stem}{business}株式会社"),
        2 => format!("有限会社{stem}{business}"),
        _ => format!("{stem}{business}合同会社"),
    }
}

/// The municipality that runs schools: a ward of a designated city belongs to the city.
fn municipality(city: &str) -> &str {
    match city.find('市') {
        Some(i) if city.ends_with('区') => &city[..i + '市'.len_utf8()],
        _ => city,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ward_schools_belong_to_the_city() {
        assert_eq!(municipality("札幌市中央区"), "札幌市");
        assert_eq!(municipality("新宿区"), "新宿区");
        assert_eq!(municipality("函館市"), "函館市");
    }

    #[test]
    fn fiscal_year_starts_in_april() {
        assert_eq!(fiscal_year_of(ymd(2024, 3, 31)), 2023);
        assert_eq!(fiscal_year_of(ymd(2024, 4, 1)), 2024);
    }

    #[test]
    fn employers_are_the_same_wherever_they_are_named() {
        let g = Generator::new(GeneratorConfig::new(5));
        let a = g.employer(12, 77);
        let b = g.employer(12, 77);
        assert_eq!(a.code, "13000077");
        assert_eq!((a.name, a.address, a.phone), (b.name, b.address, b.phone));
    }

    #[test]
    fn landlines_have_ten_digits_for_every_area_code() {
        let mut r = StreamKey::new(3, Domain::Employer).stream(0);
        for pref in &PREFECTURES {
            for city in pref.cities {
                let phone = landline(&mut r, city);
                let digits = phone.chars().filter(char::is_ascii_digit).count();
                assert_eq!(digits, 10, "{phone}");
            }
        }
    }
}
