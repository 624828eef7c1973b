//! Credit: how many more messages a subscriber has asked for.

/// The remaining credit. It only grows through requests and only shrinks by
/// one per message sent, or to zero on cancel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credit(i64);

impl Credit {
    pub fn new(initial: i64) -> Result<Self, String> {
        let mut credit = Self(0);
        credit.add(initial)?;
        Ok(credit)
    }

    /// Adds `count`; a negative count is refused and changes nothing. A
    /// very large count saturates: push mode.
    pub fn add(&mut self, count: i64) -> Result<(), String> {
        if count < 0 {
            return Err(format!("Requested count cannot be negative value (given {count})"));
        }
        self.0 = self.0.saturating_add(count);
        Ok(())
    }

    pub fn cancel(&mut self) {
        self.0 = 0;
    }

    /// Spends one unit; false when there is none.
    pub fn take(&mut self) -> bool {
        if self.0 > 0 {
            self.0 -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_is_spent_one_message_at_a_time() {
        let mut c = Credit::new(2).expect("valid");
        assert!(c.take() && c.take());
        assert!(!c.take());
        c.add(2).expect("valid");
        c.cancel();
        assert!(!c.take(), "cancel drops the credit to zero");
    }

    #[test]
    fn negative_counts_are_refused_and_huge_ones_saturate() {
        let mut c = Credit::new(5).expect("valid");
        assert_eq!(c.add(-3), Err("Requested count cannot be negative value (given -3)".into()));
        assert_eq!(c, Credit(5));
        c.add(i64::MAX).expect("valid");
        assert_eq!(c, Credit(i64::MAX));
        assert!(Credit::new(-1).is_err());
    }
}
