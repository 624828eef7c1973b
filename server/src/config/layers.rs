//! Resolving each setting from its layers: flag or environment variable, then
//! the TOML file, then the default. Values stay text here; `Settings` parses
//! them, so every problem is reported the same way whichever layer it came
//! from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};

use super::ConfigError;
use super::spec::{SERVE, Spec, Table};

/// Where a value came from, for error messages.
#[derive(Clone, Debug)]
pub enum Origin {
    Flag,
    Env,
    File(PathBuf),
    Default,
}

/// A setting's value as text, with its origin.
#[derive(Clone, Debug)]
pub struct Value {
    pub spec: &'static Spec,
    /// The table the setting was read with, which names its variable.
    pub table: &'static Table,
    pub raw: String,
    pub origin: Origin,
}

impl fmt::Display for Value {
    /// Names the setting the way the user wrote it.
    /// Table settings may hold secrets, so their values are never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = if self.spec.is_table() { "[redacted]" } else { self.raw.as_str() };
        match &self.origin {
            Origin::Flag => write!(f, "--{}={raw:?}", self.spec.flag()),
            Origin::Env => write!(f, "{}={raw:?}", self.table.env(self.spec)),
            Origin::File(path) => write!(f, "{} = {raw:?} in {}", self.spec.key, path.display()),
            Origin::Default => write!(f, "{} (default {raw:?})", self.spec.key),
        }
    }
}

/// Every setting's value, resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    values: BTreeMap<&'static str, Value>,
}

impl Resolved {
    /// Only the defaults of `serve`: what a server gets with no file, flags
    /// or environment.
    pub fn defaults() -> Self {
        Self::defaults_of(&SERVE)
    }

    /// Only the defaults of `table`'s command.
    pub fn defaults_of(table: &'static Table) -> Self {
        let values = table
            .specs
            .iter()
            .map(|spec| {
                let raw = spec.default.to_string();
                (spec.key, Value { spec, table, raw, origin: Origin::Default })
            })
            .collect();
        Self { values }
    }

    /// The value of a declared setting.
    pub fn get(&self, key: &str) -> &Value {
        // Every declared key is present by construction.
        &self.values[key]
    }

    /// Resolves from parsed command-line matches (flags and environment
    /// variables) and the TOML file they name, if any.
    pub fn from_matches(matches: &ArgMatches) -> Result<Self, ConfigError> {
        Self::from_matches_of(&SERVE, matches)
    }

    /// As [`Resolved::from_matches`], for `table`'s command.
    pub fn from_matches_of(
        table: &'static Table,
        matches: &ArgMatches,
    ) -> Result<Self, ConfigError> {
        let mut resolved = Self::defaults_of(table);
        if let Some(path) = matches.get_one::<String>(CONFIG_ARG) {
            let path = PathBuf::from(path);
            for (key, raw) in read_file(table, &path)? {
                let value = resolved.values.get_mut(key).expect("read_file checks keys");
                value.raw = raw;
                value.origin = Origin::File(path.clone());
            }
        }
        for spec in table.specs {
            let origin = match matches.value_source(spec.key) {
                Some(ValueSource::CommandLine) => Origin::Flag,
                Some(ValueSource::EnvVariable) => Origin::Env,
                _ => continue,
            };
            if let Some(raw) = matches.get_one::<String>(spec.key) {
                let value = resolved.values.get_mut(spec.key).expect("declared");
                value.raw = raw.clone();
                value.origin = origin;
            }
        }
        Ok(resolved)
    }
}

/// The id of the `--config` argument.
pub const CONFIG_ARG: &str = "config";

/// Adds `--config` and one argument per setting of `serve` to `cmd`.
pub fn add_args(cmd: Command) -> Command {
    add_args_of(&SERVE, cmd)
}

/// Adds `--config` and one argument per setting of `table` to `cmd`, each
/// showing its environment variable and default in `--help`.
pub fn add_args_of(table: &'static Table, mut cmd: Command) -> Command {
    cmd = cmd.arg(
        Arg::new(CONFIG_ARG)
            .long("config")
            .env(format!("{}CONFIG", table.env_prefix))
            .value_name("FILE")
            .help("TOML file of settings; keys as below, sections for dotted names (e.g. [kafka])"),
    );
    for spec in table.specs {
        cmd = cmd.arg(
            Arg::new(spec.key)
                .long(spec.flag())
                .env(table.env(spec))
                .value_name(spec.value_name)
                .default_value(spec.default)
                .hide_default_value(spec.default.is_empty())
                // Values such as "-5s" must reach our validation, which names
                // the setting, instead of being taken for flags.
                .allow_hyphen_values(true)
                .help(if spec.default.is_empty() {
                    format!("{} [default: none]", spec.help)
                } else {
                    spec.help.to_string()
                }),
        );
    }
    cmd
}

/// Reads the TOML file into (key, value as text) pairs, refusing keys that
/// name no setting and values that are not scalars.
fn read_file(
    table: &'static Table,
    path: &Path,
) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let problem = |problem: String| ConfigError::File { path: path.to_path_buf(), problem };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let parsed: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| 1 + text[..s.start].matches('\n').count());
        let message = e.message().trim().replace('\n', " ");
        problem(match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        })
    })?;
    let mut out = Vec::new();
    flatten(table, "", &parsed, &mut out, &problem)?;
    Ok(out)
}

/// `name=value` lines of a table setting; `security.protocol = "ssl"`
/// (a nested table in TOML) and `"security.protocol" = "ssl"` are the same.
fn table_lines(
    key: &str,
    prefix: &str,
    entries: &toml::Table,
    lines: &mut Vec<String>,
    problem: &dyn Fn(String) -> ConfigError,
) -> Result<(), ConfigError> {
    for (name, value) in entries {
        let name = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Table(inner) => {
                table_lines(key, &name, inner, lines, problem)?;
                continue;
            }
            _ => return Err(problem(format!("`{key}.{name}` must be a single value"))),
        };
        lines.push(format!("{name}={value}"));
    }
    Ok(())
}

fn flatten(
    settings: &'static Table,
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(&'static str, String)>,
    problem: &dyn Fn(String) -> ConfigError,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        if let toml::Value::Table(inner) = value
            && settings.specs.iter().any(|s| s.key.starts_with(&format!("{key}.")))
        {
            flatten(settings, &key, inner, out, problem)?;
            continue;
        }
        let Some(spec) = settings.find(&key) else {
            return Err(problem(format!("unknown setting `{key}`")));
        };
        let raw = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            // A table setting (`[kafka.properties]`) travels as the same
            // `key=value` lines a flag or variable gives.
            toml::Value::Table(entries) if spec.is_table() => {
                let mut lines = Vec::with_capacity(entries.len());
                table_lines(&key, "", entries, &mut lines, problem)?;
                lines.join("\n")
            }
            _ => return Err(problem(format!("`{key}` must be a single value"))),
        };
        out.push((spec.key, raw));
    }
    Ok(())
}
