//! `tokenkeeper completions SHELL` and `tokenkeeper man [COMMAND]`: shell completions and roff
//! manual pages, both generated from the clap definitions in [`crate::args`] so they always
//! match `--help`.

use clap_complete::Shell;

use super::print_out;
use crate::args;
use crate::failure::Failure;

pub fn completions(shell: Shell) -> Result<(), Failure> {
    let mut cmd = args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tokenkeeper", &mut out);
    print_out(&String::from_utf8_lossy(&out))
}

/// The main page, or the page of one command (`tokenkeeper-login(1)`).
pub fn man(command: Option<&str>) -> Result<(), Failure> {
    print_out(&String::from_utf8_lossy(&man_page(command)?))
}

pub fn man_page(command: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut cmd = args::command();
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => {
            let sub = cmd.find_subcommand(name).filter(|s| s.get_name() != "help").ok_or_else(|| {
                Failure::usage(format!("there is no command called \"{name}\" (see `tokenkeeper --help`)"))
            })?;
            let page_name = format!("tokenkeeper-{}", sub.get_name());
            sub.clone().name(page_name)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| Failure::other(format!("could not write the manual page: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_are_roff_and_list_every_command() {
        let page = String::from_utf8(man_page(None).unwrap()).unwrap();
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
        for command in ["list", "status", "token", "exec", "refresh", "add", "login", "remove", "daemon"] {
            assert!(page.contains(command), "{command} missing");
        }
        assert!(!page.contains("client\\-secret "), "the refused flag is hidden");
        let login = String::from_utf8(man_page(Some("login")).unwrap()).unwrap();
        assert!(login.contains("tokenkeeper\\-login"), "{login}");
        assert_eq!(man_page(Some("nope")).unwrap_err().code, 2);
    }

    #[test]
    fn completions_know_the_commands_but_not_the_refused_flags() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut args::command(), "tokenkeeper", &mut out);
            let script = String::from_utf8(out).unwrap();
            assert!(script.contains("refresh"), "{shell}");
            assert!(script.contains("client-secret-stdin"), "{shell}");
            assert!(!script.contains("--client-secret "), "{shell}: {script}");
        }
    }
}
