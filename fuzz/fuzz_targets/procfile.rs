//! The Procfile: service lines, their indented options, and the word splitting
//! of commands. Checked: no panic; an error is one line that names the file;
//! what parses has valid, distinct names, commands without NUL, a start order
//! that starts every service after those it is `after`, and a `--check` plan
//! without control characters but its newlines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pidone::procfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match procfile::parse("Procfile", text) {
        Err(err) => {
            assert!(err.starts_with("Procfile"), "{err}");
            assert!(!err.contains('\n'), "{err:?}");
        }
        Ok(services) => {
            assert!(!services.is_empty());
            for (i, s) in services.iter().enumerate() {
                assert!(!s.name.is_empty() && s.name.len() <= procfile::MAX_NAME);
                assert!(services[..i].iter().all(|t| t.name != s.name));
                assert!(!s.command.is_empty());
                assert!(s.command.iter().all(|w| !w.as_encoded_bytes().contains(&0)));
            }
            let order = procfile::start_order(&services).expect("parse checked the order");
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..services.len()).collect::<Vec<_>>());
            for (n, &i) in order.iter().enumerate() {
                for name in &services[i].options.after {
                    let dep = services
                        .iter()
                        .position(|s| &s.name == name)
                        .expect("known");
                    assert!(
                        order[..n].contains(&dep),
                        "{name} starts before {}",
                        services[i].name
                    );
                }
            }
            let Ok(mut config) = pidone::cli::parse(["pidone", "true"].map(Into::into)) else {
                panic!("the plain command line parses");
            };
            config.command.clear();
            config.procfile = Some(services);
            let plan = pidone::plan::render(&config);
            assert!(
                !plan.contains(|c: char| c.is_control() && c != '\n'),
                "{plan:?}"
            );
        }
    }
});
