//! Python's float repr, digit for digit: the text torch's TSV files contain.

/// Appends `repr(x)` as Python writes it: the shortest digits that round-trip (ties to
/// even, as Ryu and Python's dtoa both choose), in fixed notation when the decimal
/// exponent is in [-4, 16), otherwise as `d.ddde±XX`.
pub fn push_py_float(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x.abs()).as_bytes();
    if x < 0.0 {
        out.push(b'-');
    }
    // Ryu writes fixed notation for decimal exponents in (-5, 21] and "1.2345e-7"
    // otherwise. Where Python also writes fixed notation (exponents in (-4, 16]), the
    // text is the same: "123.45", "123.0", "0.000123".
    let point = text.iter().position(|&c| c == b'.');
    if let Some(p) = point {
        let no_exp = !text[p..].contains(&b'e');
        if no_exp && p <= 16 && !text.starts_with(b"0.0000") {
            out.extend_from_slice(text);
            return;
        }
    }
    // Otherwise take Ryu's digits and exponent and lay them out as Python does.
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e') {
        Some(p) => (&text[..p], parse_exp(&text[p + 1..])),
        None => (text, 0),
    };
    let int_len = mantissa
        .iter()
        .position(|&c| c == b'.')
        .unwrap_or(mantissa.len()) as i32;
    let mut digits = [0u8; 32];
    let mut n = 0;
    let mut leading_zeros = 0i32;
    for &c in mantissa {
        if c == b'.' {
            continue;
        }
        if n == 0 && c == b'0' {
            leading_zeros += 1;
            continue;
        }
        if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    // Python's `decpt`: the value is 0.DIGITS x 10^decpt.
    let decpt = int_len + exp - leading_zeros;
    if !(-4 < decpt && decpt <= 16) {
        let e = decpt - 1;
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let e = e.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        push_u64(out, u64::from(e));
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(digits);
    } else {
        let point = decpt as usize;
        if point >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', point - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..point]);
            out.push(b'.');
            out.extend_from_slice(&digits[point..]);
        }
    }
}

pub(crate) fn parse_exp(text: &[u8]) -> i32 {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c.wrapping_sub(b'0')));
    if negative {
        -value
    } else {
        value
    }
}

pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}
