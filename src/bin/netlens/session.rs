//! A command's session: the model and class names loaded once, a method's settings read and checked (the
//! registry's validator; class names resolved), the method run to its end.

use std::path::Path;

use netlens::classes::ClassNames;
use netlens::methods::registry::{self, Ctx, Input, MethodSpec, Panel, Run};
use netlens::methods::settings::{Kind, Settings};
use netlens::model_files::{default_dirs, find_default, CLASSES_FILE, MODEL_FILE, SYNSETS_FILE};
use netlens::preprocess::Choice;
use netlens::Classifier;
use serde_json::{json, Map, Value as Json};

use super::{method_err, run_err, Common, Failure, Outcome};

/// The model and class names, loaded once.
pub struct Session {
    pub net: Classifier,
    pub names: Option<ClassNames>,
}

/// A finished run with what the commands print from it.
pub struct Done {
    pub session: Session,
    pub input: Option<Input>,
    pub panels: Vec<Panel>,
    pub report: Json,
    pub settings: Json,
}

impl Done {
    pub fn panel(&self, id: &str) -> Outcome<&Panel> {
        self.panels.iter().find(|p| p.id == id).ok_or_else(|| Failure::Run(format!("no '{id}' output")))
    }
}

impl Session {
    pub fn open(c: &Common) -> Outcome<Session> {
        Session::open_sized(c, c.input_size)
    }

    /// With a model's symbolic height and width fixed to `side`.
    pub fn open_sized(c: &Common, side: Option<usize>) -> Outcome<Session> {
        let net = load_model(c, side)?;
        let names = load_classes(c)?;
        Ok(Session { net, names })
    }

    pub fn label(&self, class: usize) -> String {
        match &self.names {
            Some(n) if class < n.len() => format!("{class} {}", n.short_name(class)),
            _ => format!("class {class}"),
        }
    }

    /// Resolves class names in `set`, checks the settings against the registry and runs the method to the end,
    /// printing progress now and then.
    pub fn run(self, method: &str, img: Option<&Path>, set: Map<String, Json>) -> Outcome<Done> {
        let input = img.map(|path| load_image(&self.net, path)).transpose()?;
        self.run_input(method, input, set)
    }

    /// [`Session::run`] on an input already made (an image's, or an exact tensor's).
    pub fn run_input(self, method: &str, input: Option<Input>, set: Map<String, Json>) -> Outcome<Done> {
        let spec: &MethodSpec = registry::method(method).map_err(|e| Failure::Usage(e.to_string()))?;
        let settings = self.settings(spec, set)?;
        if input.is_none() && spec.needs_image {
            return Err(Failure::Usage(format!("{method} needs an image")));
        }
        let (panels, report) = self.execute(spec, input.as_ref(), &settings, true)?;
        Ok(Done { input, panels, report, settings: settings.to_json(), session: self })
    }

    /// `set` checked against the method's declaration in the registry: values typed as text are read by the
    /// registry's validator (`check_text`, the page's too), class names resolved to their index.
    pub fn settings(&self, spec: &MethodSpec, set: Map<String, Json>) -> Outcome<Settings> {
        let set = self.typed(spec, set)?;
        spec.settings(&Json::Object(set), self.net.num_classes()).map_err(|e| Failure::Usage(e.to_string()))
    }

    /// The settings typed as text (flags, `--set`) as the JSON values the registry reads: each one read and
    /// checked by its setting (a class by number or name); values already typed are left as they are.
    pub fn typed(&self, spec: &MethodSpec, mut set: Map<String, Json>) -> Outcome<Map<String, Json>> {
        for s in spec.settings {
            let Some(Json::String(text)) = set.get(s.key) else { continue };
            let value = match s.kind {
                Kind::Class { .. } => json!(self.resolve_class(text, s.key)?),
                _ => {
                    let v = s.check_text(text, self.net.num_classes()).map_err(|e| Failure::Usage(e.to_string()))?;
                    serde_json::to_value(v).expect("a setting value serialises")
                }
            };
            set.insert(s.key.to_string(), value);
        }
        Ok(set)
    }

    /// Runs a method to the end through the registry: its panels and report. `progress`: print where it stands
    /// now and then (the batch has its own progress bar).
    pub fn execute(
        &self,
        spec: &MethodSpec,
        input: Option<&Input>,
        settings: &Settings,
        progress: bool,
    ) -> Outcome<(Vec<Panel>, Json)> {
        let names = |k: usize| self.label(k);
        let ctx = Ctx { net: &self.net, name: &names };
        let mut last_report = std::time::Instant::now();
        let run: Box<dyn Run> = registry::run_to_end(&ctx, spec, input, settings, |p, _| {
            if progress && last_report.elapsed().as_secs_f32() > 1.0 {
                eprintln!("{}", p.text);
                last_report = std::time::Instant::now();
            }
            true
        })
        .map_err(method_err("the method failed"))?;
        Ok((run.panels(), run.report()))
    }

    /// An index, or a name: the best match of `ClassNames::search` (an exact name or synonym first).
    pub fn resolve_class(&self, text: &str, flag: &str) -> Outcome<usize> {
        let k = self.net.num_classes();
        if let Ok(index) = text.trim().parse::<usize>() {
            return if index < k {
                Ok(index)
            } else {
                Err(Failure::Usage(format!("--{flag}: class {index} is out of range (0 to {})", k - 1)))
            };
        }
        let names = self.names.as_ref().ok_or_else(|| {
            Failure::Usage(format!("--{flag}: no class names file found to look up '{text}'; give an index"))
        })?;
        // The page's search, whose ranking puts an exact name or synonym first.
        let found: Vec<usize> = names.search(text, 5).into_iter().filter(|&i| i < k).collect();
        match found.first() {
            None => Err(Failure::Usage(format!("--{flag}: no class matches '{text}'"))),
            Some(&best) => {
                let others: Vec<String> = found[1..].iter().map(|&i| self.label(i)).collect();
                eprintln!(
                    "netlens: '{text}' taken as {}{}",
                    self.label(best),
                    if others.is_empty() { String::new() } else { format!(" (other matches: {})", others.join(", ")) }
                );
                Ok(best)
            }
        }
    }
}

pub fn read_file(path: &Path, what: &str) -> Outcome<Vec<u8>> {
    std::fs::read(path).map_err(run_err(format!("cannot read {what} '{}'", path.display())))
}

pub fn load_model(c: &Common, side: Option<usize>) -> Outcome<Classifier> {
    let path = match &c.model {
        Some(p) => p.clone(),
        None => find_default(MODEL_FILE).ok_or_else(|| {
            let tried: Vec<String> = default_dirs().iter().map(|d| d.join(MODEL_FILE).display().to_string()).collect();
            Failure::Run(format!("no model found (tried {}); pass --model PATH", tried.join(", ")))
        })?,
    };
    let bytes = read_file(&path, "model")?;
    let choice = Choice { preset: c.preprocess, resize: c.resize, side };
    Classifier::load_owned(bytes, &choice).map_err(run_err(format!("cannot load model '{}'", path.display())))
}

/// Class names are optional for everything but naming a class by its name.
pub fn load_classes(c: &Common) -> Outcome<Option<ClassNames>> {
    let short_path = match &c.classes {
        Some(p) => p.clone(),
        None => match find_default(CLASSES_FILE) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let short = String::from_utf8(read_file(&short_path, "class names")?)
        .map_err(|_| Failure::Run(format!("class names '{}' are not UTF-8 text", short_path.display())))?;
    let synsets = short_path
        .parent()
        .map(|d| d.join(SYNSETS_FILE))
        .filter(|p| p.is_file() && *p != short_path)
        .and_then(|p| std::fs::read_to_string(p).ok());
    let names = ClassNames::parse(&short, synsets.as_deref())
        .map_err(run_err(format!("cannot read class names '{}'", short_path.display())))?;
    Ok(Some(names))
}

/// The picture the model sees (its size, its preprocessing).
pub fn load_image(net: &Classifier, path: &Path) -> Outcome<Input> {
    let bytes = read_file(path, "image")?;
    Input::from_bytes(net, &bytes).map_err(run_err(format!("cannot use '{}' as an image", path.display())))
}
