//! The `roadroller` command line.

use clap::{ArgMatches, Command};

use crate::config::{self, ConfigError, GATEWAY, GatewaySettings, Resolved, Settings};

/// The whole command: `roadroller serve`, `roadroller gateway` and their
/// settings, and the client commands (`road`, `schema`, `produce`, `tail`,
/// `snapshot`).
pub fn command() -> Command {
    let command = Command::new("roadroller")
        .about("A governed, schema-checked gRPC front door to Apache Kafka")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(config::add_args(Command::new("serve").about(
            "Serve the gRPC API. Settings come from flags, ROADROLLER_* variables, \
             a TOML file (--config) and defaults, in that order of precedence",
        )))
        .subcommand(config::add_args_of(
            &GATEWAY,
            Command::new("gateway").about(
                "Serve only the legacy Data Highway HTTP API (Onramp, Paver, Offramp WebSocket), \
                 translating to the Roadroller gRPC server at --upstream. Settings come from \
                 flags, ROADROLLER_GATEWAY_* variables, a TOML file (--config) and defaults",
            ),
        ));
    // Set after the client commands, whose enum would otherwise lend its
    // description to the whole binary.
    roadroller_client::cli::augment(command)
        .about("A governed, schema-checked gRPC front door to Apache Kafka")
}

/// Settings for `serve`, validated.
pub fn serve_settings(matches: &ArgMatches) -> Result<Settings, ConfigError> {
    Settings::from_resolved(&Resolved::from_matches(matches)?)
}

/// Settings for `gateway`, validated.
pub fn gateway_settings(matches: &ArgMatches) -> Result<GatewaySettings, ConfigError> {
    GatewaySettings::from_resolved(&Resolved::from_matches_of(&GATEWAY, matches)?)
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
        let cmd = command();
        for name in ["serve", "gateway"] {
            let sub = cmd.find_subcommand(name).expect("subcommand");
            for arg in sub.get_arguments() {
                if let Some(long) = arg.get_long() {
                    assert!(
                        readme.contains(&format!("`--{long}`")),
                        "README lacks {name} --{long}"
                    );
                }
            }
        }
    }

    #[test]
    fn gateway_help_shows_its_settings_and_variables() {
        let mut cmd = command();
        let gateway = cmd.find_subcommand_mut("gateway").expect("gateway");
        let help = gateway.render_long_help().to_string();
        for flag in ["--upstream", "--listen", "--http-max-body-bytes", "--http-max-messages"] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
        assert!(help.contains("[env: ROADROLLER_GATEWAY_UPSTREAM"), "{help}");
        assert!(help.contains("[default: http://127.0.0.1:50051]"), "{help}");
    }
}
