//! The `roadroller` command line.

use clap::{ArgMatches, Command};

use crate::config::{self, ConfigError, Resolved, Settings};

/// The whole command: `roadroller serve` and its settings.
pub fn command() -> Command {
    Command::new("roadroller")
        .about("A governed, schema-checked gRPC front door to Apache Kafka")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(config::add_args(Command::new("serve").about(
            "Serve the gRPC API. Settings come from flags, ROADROLLER_* variables, \
             a TOML file (--config) and defaults, in that order of precedence",
        )))
}

/// Settings for `serve`, validated.
pub fn serve_settings(matches: &ArgMatches) -> Result<Settings, ConfigError> {
    Settings::from_resolved(&Resolved::from_matches(matches)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_shows_every_setting_with_its_default_and_variable() {
        let mut cmd = command();
        let serve = cmd.find_subcommand_mut("serve").expect("serve");
        let help = serve.render_long_help().to_string();
        for flag in ["--listen", "--data-dir", "--grace-period", "--kafka-bootstrap-servers"] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
        assert!(help.contains("[default: 127.0.0.1:50051]"), "{help}");
        assert!(help.contains("[env: ROADROLLER_GRACE_PERIOD"), "{help}");
        assert!(help.contains("[default: none]"), "{help}");
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        let mut cmd = command();
        let serve = cmd.find_subcommand_mut("serve").expect("serve");
        for arg in serve.get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(readme.contains(&format!("`--{long}`")), "README lacks --{long}");
            }
        }
    }
}
