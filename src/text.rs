//! Small text helpers on the ground floor, shared by the parts that show other programs'
//! output (routers, smoke tests).

/// At most `max` bytes of `text`: its end, after a note of how much was dropped.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes dropped]\n{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_kept_on_a_char_boundary() {
        assert_eq!(tail("abc", 5), "abc");
        let t = tail("ééé", 3);
        assert!(t.ends_with("é"), "{t}");
        assert!(t.starts_with("[… 4 bytes dropped]"), "{t}");
    }
}
