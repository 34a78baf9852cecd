//! 個人番号 (My Number): the official check digit and a seeded, collision-free
//! assignment of numbers to examinees.

use crate::rng::splitmix64;

/// How many distinct 11-digit bodies exist (10^11): the most examinees one seed can number.
pub(crate) const BODY_SPACE: u64 = 100_000_000_000;

/// 検査用数字: the check digit of an 11-digit My Number body (digits `0..=9`, leftmost first).
///
/// P1..P11 are the body digits read from the one left of the check digit
/// towards the left, with weights Q = n+1 for n ≤ 6 and n−5 for n ≥ 7;
/// r = Σ P·Q mod 11; the check digit is 0 when r ≤ 1, else 11 − r.
/// Returns `None` if an element is not a decimal digit.
pub fn my_number_check_digit(body: &[u8; 11]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &digit) in body.iter().rev().enumerate() {
        if digit > 9 {
            return None;
        }
        let n = i as u32 + 1;
        let q = if n <= 6 { n + 1 } else { n - 5 };
        sum += u32::from(digit) * q;
    }
    let r = sum % 11;
    Some(if r <= 1 { 0 } else { (11 - r) as u8 })
}

/// Whether `s` is a well-formed My Number: exactly 12 ASCII digits whose last is the check digit.
pub fn is_valid_my_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut body = [0u8; 11];
    for (d, b) in body.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    my_number_check_digit(&body) == Some(bytes[11] - b'0')
}

/// A seeded bijection of `0..10^11` onto itself: index -> My Number body.
///
/// `body = (mul * index + add) mod 10^11` with `mul` coprime to 10 is a
/// permutation, so distinct examinee indices always get distinct numbers while
/// the numbers still look scattered.
#[derive(Clone, Copy)]
pub(crate) struct MyNumberAssigner {
    mul: u64,
    add: u64,
}

impl MyNumberAssigner {
    pub(crate) fn new(seed: u64) -> Self {
        // Own constant so the permutation is independent of the record streams.
        let mut state = seed ^ 0x6d79_6e75_6d62_6572; // "mynumber"
        let a = splitmix64(&mut state);
        let b = splitmix64(&mut state);
        // Last digit 1, 3, 7 or 9: coprime to 2 and 5, hence to 10^11.
        let mul = (a % (BODY_SPACE / 10)) * 10 + [1, 3, 7, 9][(a >> 60) as usize & 3];
        MyNumberAssigner {
            mul,
            add: b % BODY_SPACE,
        }
    }

    /// The 12-digit My Number of examinee `index` (`index < 10^11`).
    pub(crate) fn number(&self, index: u64) -> String {
        let body = ((u128::from(self.mul) * u128::from(index % BODY_SPACE) + u128::from(self.add))
            % u128::from(BODY_SPACE)) as u64;
        let mut digits = [0u8; 11];
        let mut rest = body;
        for d in digits.iter_mut().rev() {
            *d = (rest % 10) as u8;
            rest /= 10;
        }
        // Every element is `x % 10`, so the check digit exists.
        let check = my_number_check_digit(&digits).unwrap_or(0);
        let mut out = String::with_capacity(12);
        for d in digits.iter().chain(std::iter::once(&check)) {
            out.push(char::from(b'0' + d));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn check_digit_of_all_zero_body_is_zero() {
        assert_eq!(my_number_check_digit(&[0; 11]), Some(0));
    }

    #[test]
    fn check_digit_follows_the_published_weights() {
        // body 12345678901: P1..P11 = 1,0,9,8,7,6,5,4,3,2,1 ; Q = 2,3,4,5,6,7,2,3,4,5,6
        // sum = 2+0+36+40+42+42+10+12+12+10+6 = 212 ; 212 mod 11 = 3 ; check = 8
        assert_eq!(
            my_number_check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]),
            Some(8)
        );
        assert!(is_valid_my_number("123456789018"));
        assert!(!is_valid_my_number("123456789019"));
    }

    #[test]
    fn malformed_numbers_are_invalid() {
        assert!(!is_valid_my_number("12345678901"));
        assert!(!is_valid_my_number("1234567890180"));
        assert!(!is_valid_my_number("12345678901a"));
        assert!(!is_valid_my_number("１２３４５６７８９０１８"));
    }

    #[test]
    fn assigned_numbers_are_distinct_and_valid() {
        let assigner = MyNumberAssigner::new(42);
        let numbers: Vec<String> = (0..50_000).map(|i| assigner.number(i)).collect();
        assert!(numbers.iter().all(|n| is_valid_my_number(n)));
        let distinct: HashSet<&String> = numbers.iter().collect();
        assert_eq!(distinct.len(), numbers.len());
    }

    #[test]
    fn different_seeds_number_differently() {
        assert_ne!(
            MyNumberAssigner::new(1).number(0),
            MyNumberAssigner::new(2).number(0)
        );
    }
}
