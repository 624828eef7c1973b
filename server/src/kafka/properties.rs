//! librdkafka settings passed through from `kafka.properties`: TLS, SASL and
//! whatever else a cluster needs. A value `${file:PATH}` or `${env:NAME}` is
//! read from that file or variable, so secrets need not sit in the settings.
//! Values are never shown: not in `--help`, logs, `Debug` or errors.

use std::fmt;

use rdkafka::ClientConfig;

/// Settings Roadroller owns: changing them would break its guarantees
/// (acks, idempotence, murmur2) or its bookkeeping (groups, commits).
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "partitioner",
    "transactional.id",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
];

/// The pass-through settings, resolved.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties {
    entries: Vec<(String, String)>,
}

impl fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, _)| (k, "[redacted]"))).finish()
    }
}

impl KafkaProperties {
    /// Parses `key=value` entries separated by `;` or newlines. A problem
    /// names the key, never the value.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for (i, entry) in raw.split(['\n', ';']).enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some((key, value)) = entry.split_once('=') else {
                return Err(format!("entry {} is not key=value", i + 1));
            };
            let key = key.trim();
            let valid = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                return Err(format!("entry {} does not start with a property name", i + 1));
            }
            if RESERVED.contains(&key) {
                return Err(format!("{key} is set by Roadroller and cannot be passed through"));
            }
            let value = resolve(key, value.trim())?;
            entries.retain(|(k, _)| k != key);
            entries.push((key.to_string(), value));
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets every property on `config`, after Roadroller's own.
    pub fn apply(&self, config: &mut ClientConfig) {
        for (key, value) in &self.entries {
            config.set(key, value);
        }
    }

    /// `text` with every property value blanked, for errors that librdkafka
    /// words with the value in them.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (_, value) in &self.entries {
            if value.len() >= 3 {
                text = text.replace(value.as_str(), "[redacted]");
            }
        }
        text
    }
}

fn resolve(key: &str, value: &str) -> Result<String, String> {
    let Some(reference) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return Ok(value.to_string());
    };
    match reference.split_once(':') {
        Some(("file", path)) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|e| format!("{key}: cannot read {path}: {e}")),
        Some(("env", name)) => {
            std::env::var(name).map_err(|_| format!("{key}: the variable {name} is not set"))
        }
        _ => Err(format!("{key}: a reference is ${{file:PATH}} or ${{env:NAME}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_resolve_and_never_show_their_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("password");
        std::fs::write(&secret, "s3cr3t-from-file\n").expect("write");
        let raw = format!(
            "security.protocol=sasl_ssl; sasl.mechanism=PLAIN\nsasl.password=${{file:{}}}",
            secret.display()
        );
        let p = KafkaProperties::parse(&raw).expect("valid");
        let mut config = ClientConfig::new();
        p.apply(&mut config);
        assert_eq!(config.get("sasl.password"), Some("s3cr3t-from-file"));
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        let shown = format!("{p:?}");
        assert!(!shown.contains("s3cr3t") && shown.contains("sasl.password"), "{shown}");
        assert_eq!(
            p.redact("Invalid value \"s3cr3t-from-file\" for sasl.password"),
            "Invalid value \"[redacted]\" for sasl.password"
        );
    }

    #[test]
    fn problems_name_the_key_and_not_the_value() {
        let e = KafkaProperties::parse("acks=1").expect_err("reserved");
        assert!(e.contains("acks is set by Roadroller"), "{e}");
        let e = KafkaProperties::parse("sasl.password").expect_err("no =");
        assert_eq!(e, "entry 1 is not key=value");
        let e = KafkaProperties::parse("sasl.password=${env:ROADROLLER_TEST_UNSET_VAR}")
            .expect_err("unset");
        assert!(e.contains("ROADROLLER_TEST_UNSET_VAR is not set"), "{e}");
        let e = KafkaProperties::parse("sasl.password=${file:/nonexistent/pw}").expect_err("file");
        assert!(e.starts_with("sasl.password: cannot read /nonexistent/pw"), "{e}");
    }
}
