//! Half-up rounding on the decimal a score prints as, like Kayenta's
//! `BigDecimal(score).setScale(2, HALF_UP)`: 2.675 rounds to 2.68 (binary-exact rounding
//! would give 2.67 because the double is 2.67499…), so what users read is what is rounded.

/// Round `v` half-up (away from zero on a tie) to `places` decimals of its shortest
/// round-trip decimal representation. Non-finite values are returned unchanged.
pub fn round_half_up(v: f64, places: usize) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let text = format!("{}", v.abs());
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text.as_str(), ""),
    };
    if frac_part.len() <= places {
        return v;
    }
    let round_up = frac_part.as_bytes()[places] >= b'5';
    // Digits of |v| scaled by 10^places, as a decimal integer string.
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes().take(places))
        .map(|b| b - b'0')
        .collect();
    if round_up {
        let mut k = digits.len();
        loop {
            if k == 0 {
                digits.insert(0, 1);
                break;
            }
            k -= 1;
            if digits[k] == 9 {
                digits[k] = 0;
            } else {
                digits[k] += 1;
                break;
            }
        }
    }
    let split = digits.len() - places;
    let mut s = String::with_capacity(digits.len() + 2);
    for d in &digits[..split] {
        s.push(char::from(b'0' + d));
    }
    s.push('.');
    for d in &digits[split..] {
        s.push(char::from(b'0' + d));
    }
    let magnitude: f64 = s.parse().unwrap_or(v.abs());
    if v < 0.0 { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::round_half_up;

    #[test]
    fn rounds_half_up_on_the_printed_decimal() {
        assert_eq!(round_half_up(2.675, 2), 2.68);
        assert_eq!(round_half_up(66.666666, 2), 66.67);
        assert_eq!(round_half_up(66.664, 2), 66.66);
        assert_eq!(round_half_up(0.125, 2), 0.13);
        assert_eq!(round_half_up(99.995, 2), 100.0);
        assert_eq!(round_half_up(9.999, 2), 10.0);
        assert_eq!(round_half_up(50.0, 2), 50.0);
        assert_eq!(round_half_up(-1.005, 2), -1.01);
        assert_eq!(round_half_up(1e-9, 2), 0.0);
        assert!(round_half_up(f64::NAN, 2).is_nan());
    }
}
