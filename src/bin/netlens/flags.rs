//! Each method's command line, built from its declaration (clap's builder API): one flag per setting — named after
//! the setting's key (`--max-iters`) with its share-link name as an alias (`--iters`, as in `fool.iters=`) — with
//! the setting's help, bounds and default, plus `--set KEY=VALUE`. Values are checked by the registry's own
//! validator (`SettingSpec::check_text`, the one the page calls through wasm), so the CLI re-types nothing.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use netlens::methods::registry::MethodSpec;
use netlens::methods::settings::{Kind, SettingSpec};
use serde_json::{Map, Value as Json};

use super::{Common, Failure, Outcome};

fn long_name(key: &str) -> String {
    key.replace('_', "-")
}

/// What a setting takes, for `--help`: "whole number 1..=10000, default 200".
pub fn bounds(s: &SettingSpec) -> String {
    match &s.kind {
        Kind::Int { min, max, default } => format!("whole number {min}..={max}, default {default}"),
        Kind::Float { min, max, min_exclusive, default } => {
            format!("number {}{min}..={max}, default {default}", if *min_exclusive { ">" } else { "" })
        }
        Kind::Class { optional: true, .. } => "class index or name, default: the predicted one".to_string(),
        Kind::Class { default: Some(d), .. } => format!("class index or name, default {d}"),
        Kind::Class { .. } => "class index or name".to_string(),
        Kind::Choice { options, default } => {
            format!("one of {}, default {default}", options.iter().map(|o| o.value).collect::<Vec<_>>().join("|"))
        }
        Kind::Bool { default } => format!("true|false (the flag alone: true), default {default}"),
        Kind::Text { default, .. } => format!("name, default {default}"),
    }
}

/// One flag per setting of `spec`.
fn setting_args(spec: &MethodSpec) -> Vec<Arg> {
    spec.settings
        .iter()
        .map(|s| {
            let long = long_name(s.key);
            let mut arg = Arg::new(s.key).long(long.clone()).value_name(s.key.to_uppercase()).help(format!(
                "{}: {} ({})",
                s.label,
                s.help,
                bounds(s)
            ));
            if s.link != s.key && long_name(s.link) != long {
                arg = arg.visible_alias(long_name(s.link));
            }
            if matches!(s.kind, Kind::Bool { .. }) {
                arg = arg.num_args(0..=1).default_missing_value("true");
            } else {
                // "-1" is a value here (the validator says whether it is allowed), not a flag.
                arg = arg.allow_hyphen_values(true);
            }
            arg
        })
        .collect()
}

/// `netlens NAME`: the image (when the method takes one), the method's flags, `--set`, the common options and
/// `extra` (the command's outputs).
pub fn command(spec: &MethodSpec, name: &str, about: &str, extra: Vec<Arg>) -> Command {
    let mut cmd = Command::new(format!("netlens {name}"))
        .about(format!("{about}\n{} — {} ({})", spec.title, spec.summary, spec.paper.cite))
        .no_binary_name(true)
        .disable_version_flag(true);
    if spec.needs_image {
        let img = Arg::new("img").value_name("IMG").help("The image (PNG, JPEG, WebP, GIF, BMP)");
        // A command that also takes the network's input as a tensor (`attribute --input-npy`) takes one of the two.
        let img = if extra.iter().any(|a| a.get_id() == "input_npy") {
            img.conflicts_with("input_npy")
        } else {
            img.required(true)
        };
        cmd = cmd.arg(img);
    }
    cmd = cmd.args(setting_args(spec)).arg(
        Arg::new("set")
            .long("set")
            .value_name("KEY=VALUE")
            .action(ArgAction::Append)
            .help("Any setting by its key, as key=value (see `netlens methods`)"),
    );
    Common::augment_args(cmd.args(extra))
}

/// Parses `args` with `cmd`; `--help` prints the generated help and ends the process.
pub fn parse(cmd: Command, args: &[String]) -> Outcome<ArgMatches> {
    cmd.try_get_matches_from(args).map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => e.exit(),
        _ => Failure::Usage(e.render().to_string().trim_start_matches("error: ").trim().to_string()),
    })
}

/// The settings given as flags and as `--set KEY=VALUE`, as typed text (a `--set` key must be one of the
/// method's); `Session::settings` reads and checks them.
pub fn texts(spec: &MethodSpec, m: &ArgMatches) -> Outcome<Map<String, Json>> {
    let mut out = Map::new();
    for s in spec.settings {
        if let Some(v) = m.get_one::<String>(s.key) {
            out.insert(s.key.to_string(), Json::String(v.clone()));
        }
    }
    let sets: Vec<String> = m.get_many::<String>("set").into_iter().flatten().cloned().collect();
    for (k, v) in super::parse_sets(&sets)? {
        if !spec.settings.iter().any(|s| s.key == k) {
            let keys: Vec<&str> = spec.settings.iter().map(|s| s.key).collect();
            return Err(Failure::Usage(format!(
                "{} has no setting '{k}' (its settings: {})",
                spec.title,
                if keys.is_empty() { "none".into() } else { keys.join(", ") }
            )));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// The common options given after the command (`netlens run ig IMG --model M`), over those given before it.
pub fn common(outer: &Common, m: &ArgMatches) -> Outcome<Common> {
    let inner = Common::from_arg_matches(m).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(Common {
        model: inner.model.or_else(|| outer.model.clone()),
        classes: inner.classes.or_else(|| outer.classes.clone()),
        threads: inner.threads.or(outer.threads),
        preprocess: inner.preprocess.or(outer.preprocess),
        resize: inner.resize.or(outer.resize),
        input_size: inner.input_size.or(outer.input_size),
    })
}

/// The value of `--method ID` (or `--method=ID`) in raw arguments: it decides which flags the rest may use.
pub fn method_arg(args: &[String]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--method") {
        Some("") => args.get(i + 1).cloned(),
        Some(rest) => rest.strip_prefix('=').map(str::to_string),
        None => None,
    })
}
