//! What a road's fields may hold. Each check returns the problem as a phrase
//! that follows the field name, e.g. `name: must match ^[a-z][a-z0-9_]*$`.

use std::net::IpAddr;

/// At most this many characters in a road (or stream) name.
pub const MAX_NAME_LEN: usize = 100;

/// Landing intervals Loading Bay accepts: 5 minutes to 1 day.
/// The shortest landing interval by default (`loading_bay.min_landing_interval`).
pub const MIN_LANDING_INTERVAL_MS: u64 = 300_000;
/// The longest landing interval: a day.
pub const MAX_LANDING_INTERVAL_MS: u64 = 86_400_000;

/// At most this many partitions; Kafka handles more, but a road that needs
/// more is a mistake more often than not.
pub const MAX_PARTITIONS: u32 = 10_000;

/// `^[a-z][a-z0-9_]*$`, at most 100 characters.
pub fn name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters, not {}", name.len()));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(format!("{name:?} must match ^[a-z][a-z0-9_]*$"));
    }
    Ok(())
}

/// A plausible e-mail address: one `@`, a local part, a dotted domain, no
/// white space. Deliverability is not this service's business.
pub fn email(address: &str) -> Result<(), String> {
    let valid = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !address.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid { Ok(()) } else { Err(format!("{address:?} is not a valid e-mail address")) }
}

/// `address/prefix`, IPv4 or IPv6.
pub fn cidr_block(block: &str) -> Result<(), String> {
    let invalid = || format!("{block:?} is not a CIDR block such as 10.0.0.0/8");
    let (address, prefix) = block.split_once('/').ok_or_else(invalid)?;
    let address: IpAddr = address.parse().map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(format!("{block:?} has a prefix longer than {max}"));
    }
    Ok(())
}

/// Between 1 and [`MAX_PARTITIONS`].
pub fn partitions(count: u32) -> Result<(), String> {
    if (1..=MAX_PARTITIONS).contains(&count) {
        Ok(())
    } else {
        Err(format!("must be between 1 and {MAX_PARTITIONS}, not {count}"))
    }
}

/// A positive duration in milliseconds.
pub fn positive_ms(ms: u64) -> Result<(), String> {
    if ms == 0 { Err("must be greater than zero".into()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "orders", "order_lines_2", &"a".repeat(100)] {
            assert!(name(good).is_ok(), "{good}");
        }
        for bad in ["", "Orders", "1a", "_a", "a-b", "a.b", "ä", &"a".repeat(101)] {
            assert!(name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(email("team@example.com").is_ok());
        for bad in ["team", "@example.com", "team@", "team@example", "a b@c.d", "a@@b.c", "a@.b.c"]
        {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidr_blocks() {
        assert!(cidr_block("10.0.0.0/8").is_ok());
        assert!(cidr_block("::1/128").is_ok());
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0.0/-1"] {
            assert!(cidr_block(bad).is_err(), "{bad}");
        }
    }
}
