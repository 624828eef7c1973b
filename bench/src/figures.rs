//! Measured figures, their targets, the printed table and the JSON file.

use serde_json::json;

/// What a figure must meet.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// value / baseline at least this.
    RatioAtLeast(f64),
    /// value / baseline at most this.
    RatioAtMost(f64),
    AtMost(f64),
    AtLeast(f64),
}

#[derive(Clone, Debug)]
pub struct Figure {
    pub scenario: String,
    pub value: f64,
    pub unit: &'static str,
    /// The raw-client figure it is compared with, in the same unit.
    pub baseline: Option<f64>,
    pub target: Option<Target>,
}

impl Figure {
    pub fn new(scenario: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Self { scenario: scenario.into(), value, unit, baseline: None, target: None }
    }

    pub fn against(mut self, baseline: f64, target: Target) -> Self {
        self.baseline = Some(baseline);
        self.target = Some(target);
        self
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    pub fn ratio(&self) -> Option<f64> {
        self.baseline.filter(|b| *b > 0.0).map(|b| self.value / b)
    }

    pub fn met(&self) -> Option<bool> {
        Some(match self.target? {
            Target::RatioAtLeast(r) => self.ratio()? >= r,
            Target::RatioAtMost(r) => self.ratio()? <= r,
            Target::AtMost(v) => self.value <= v,
            Target::AtLeast(v) => self.value >= v,
        })
    }

    fn target_text(&self) -> String {
        match self.target {
            Some(Target::RatioAtLeast(r)) => format!(">= {r:.2} x"),
            Some(Target::RatioAtMost(r)) => format!("<= {r:.2} x"),
            Some(Target::AtMost(v)) => format!("<= {}", number(v)),
            Some(Target::AtLeast(v)) => format!(">= {}", number(v)),
            None => String::new(),
        }
    }
}

fn number(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// The table, one row per figure.
pub fn table(figures: &[Figure]) -> String {
    let mut out = format!(
        "{:<44} {:>14} {:<10} {:>14} {:>7} {:>10} {}\n",
        "scenario", "value", "unit", "baseline", "ratio", "target", "met"
    );
    for f in figures {
        out += &format!(
            "{:<44} {:>14} {:<10} {:>14} {:>7} {:>10} {}\n",
            f.scenario,
            number(f.value),
            f.unit,
            f.baseline.map(number).unwrap_or_default(),
            f.ratio().map(|r| format!("{r:.2}")).unwrap_or_default(),
            f.target_text(),
            match f.met() {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            }
        );
    }
    out
}

pub fn json(figures: &[Figure], quick: bool) -> serde_json::Value {
    json!({
        "quick": quick,
        "figures": figures.iter().map(|f| json!({
            "scenario": f.scenario,
            "value": f.value,
            "unit": f.unit,
            "baseline": f.baseline,
            "ratio": f.ratio(),
            "target": f.target_text(),
            "met": f.met(),
        })).collect::<Vec<_>>(),
    })
}
