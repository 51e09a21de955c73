//! netlens on the command line: figures for slides from the same engine the page uses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use netlens::classes::ClassNames;
use netlens::methods::classviz::{ClassVizRun, ClassVizSettings, Update};
use netlens::methods::fooling::{fool, FoolingSettings};
use netlens::methods::saliency::saliency;
use netlens::tensor::{argmax, softmax, Tensor};
use netlens::{imageio, render, Classifier};

const USAGE: &str = "\
netlens - what a pretrained ImageNet CNN (SqueezeNet 1.1) has learned

USAGE:
  netlens classify IMG [--top N]
      Top-N classes (default 5) with their probabilities.
  netlens saliency IMG [--class K] -o OUT.png [--npy RAW.npy] [--heatmap-only]
      Saliency of class K (default: the predicted class). OUT.png is a 672x224 strip:
      the 224x224 network input | the heatmap | the heatmap over the image
      (--heatmap-only: just the 224x224 heatmap). --npy writes the raw map, float32 [224,224].
  netlens fool IMG --target K -o OUT.png [--strip STRIP.png] [--max-iters N] [--lr F]
      Fooling image: OUT.png is the fooled 224x224 image (classified as K after 8-bit rounding).
      --strip also writes original | fooled | difference | difference x10 (896x224).
  netlens classviz --class K [--seed S] [--iters N] [--lr F] [--l2 F] [--blur-every N]
                   [--blur-sigma F] [--jitter N] [--plain] -o OUT.png
      Class visualization from seeded noise (CS231n defaults: seed 0, 100 iterations, lr 25,
      l2 1e-3, blur every 10 with sigma 0.5, jitter 16, normalised step; --plain: lr * gradient).

OPTIONS (every command):
  --model PATH     ONNX model (default: assets/models/squeezenet1_1.onnx as copied by the build,
                   else $NETLENS_SHARED/models/, else ../shared/models/)
  --classes PATH   class names, one a line (default: imagenet_classes.txt beside the model search path;
                   synonyms are read from imagenet_synset_words.txt in the same folder when present)
  -h, --help       this text

A class K is an index (0-999) or a name such as 'tarantula' or \"Egyptian cat\".
IMG is any PNG, JPEG, WebP, GIF or BMP; it is resized (short side 256) and centre-cropped to 224x224.
";

const MODEL_FILE: &str = "squeezenet1_1.onnx";
const CLASSES_FILE: &str = "imagenet_classes.txt";
const SYNSETS_FILE: &str = "imagenet_synset_words.txt";

/// Usage errors exit with 2, failures while running with 1.
enum Failure {
    Usage(String),
    Run(String),
}

type Outcome<T> = std::result::Result<T, Failure>;

fn run_err<E: std::fmt::Display>(context: impl std::fmt::Display) -> impl FnOnce(E) -> Failure {
    move |e| Failure::Run(format!("{context}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("netlens: {msg}\nRun 'netlens --help' for usage.");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("netlens: error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Parsed command line: positional arguments, `--name value` options and `--name` switches.
struct Args {
    positional: Vec<String>,
    values: HashMap<&'static str, String>,
    switches: Vec<&'static str>,
}

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
    fn switch(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }
    /// Fail before the work, not after it, when an output cannot be written where asked.
    fn output(&self, name: &str) -> Outcome<Option<String>> {
        let Some(path) = self.value(name) else { return Ok(None) };
        let parent = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
        match parent {
            Some(dir) if !dir.is_dir() => Err(Failure::Usage(format!("cannot write '{path}': no folder '{}'", dir.display()))),
            _ => Ok(Some(path.to_string())),
        }
    }
    fn required_output(&self) -> Outcome<String> {
        self.output("output")?.ok_or_else(|| Failure::Usage("missing -o OUT.png".into()))
    }
    fn required(&self, name: &str) -> Outcome<&str> {
        self.value(name).ok_or_else(|| Failure::Usage(format!("missing --{name}")))
    }
    fn parsed<T: std::str::FromStr>(&self, name: &str) -> Outcome<Option<T>> {
        match self.value(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| Failure::Usage(format!("--{name}: '{text}' is not a valid number"))),
        }
    }
}

/// `options`: names taking a value; `switches`: names taking none. `-o` is `--output`.
fn parse_args(raw: &[String], options: &[&'static str], switches: &[&'static str]) -> Outcome<Args> {
    let mut args = Args { positional: Vec::new(), values: HashMap::new(), switches: Vec::new() };
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = if arg == "-o" {
            ("output", None)
        } else if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            }
        } else if arg.starts_with('-') && arg.len() > 1 && arg.parse::<f64>().is_err() {
            return Err(Failure::Usage(format!("unknown option '{arg}'")));
        } else {
            args.positional.push(arg.clone());
            continue;
        };
        if let Some(&known) = options.iter().chain(["model", "classes"].iter()).find(|&&o| o == name) {
            let value = match inline {
                Some(v) => v,
                None => it.next().cloned().ok_or_else(|| Failure::Usage(format!("{arg} needs a value")))?,
            };
            args.values.insert(known, value);
        } else if let Some(&known) = switches.iter().find(|&&s| s == name) {
            if inline.is_some() {
                return Err(Failure::Usage(format!("--{name} takes no value")));
            }
            args.switches.push(known);
        } else {
            return Err(Failure::Usage(format!("unknown option '{arg}'")));
        }
    }
    Ok(args)
}

fn run(raw: Vec<String>) -> Outcome<()> {
    if raw.is_empty() || raw.iter().any(|a| a == "-h" || a == "--help") || raw[0] == "help" {
        print!("{USAGE}");
        return Ok(());
    }
    let rest = &raw[1..];
    match raw[0].as_str() {
        "classify" => classify(parse_args(rest, &["top"], &[])?),
        "saliency" => saliency_cmd(parse_args(rest, &["class", "output", "npy"], &["heatmap-only"])?),
        "fool" => fool_cmd(parse_args(rest, &["target", "output", "strip", "max-iters", "lr"], &[])?),
        "classviz" => classviz_cmd(parse_args(
            rest,
            &["class", "seed", "iters", "lr", "l2", "blur-every", "blur-sigma", "jitter", "output"],
            &["plain"],
        )?),
        other => Err(Failure::Usage(format!("unknown command '{other}' (expected classify, saliency, fool or classviz)"))),
    }
}

/// Where the model and class files are looked for when no path is given, in order.
fn default_dirs() -> Vec<PathBuf> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![crate_dir.join("assets/models")];
    if let Some(shared) = std::env::var_os("NETLENS_SHARED") {
        dirs.push(PathBuf::from(shared).join("models"));
    }
    dirs.push(crate_dir.join("../shared/models"));
    dirs
}

fn find_default(file: &str) -> Option<PathBuf> {
    default_dirs().into_iter().map(|d| d.join(file)).find(|p| p.is_file())
}

fn read_file(path: &Path, what: &str) -> Outcome<Vec<u8>> {
    std::fs::read(path).map_err(run_err(format!("cannot read {what} '{}'", path.display())))
}

fn load_model(args: &Args) -> Outcome<Classifier> {
    let path = match args.value("model") {
        Some(p) => PathBuf::from(p),
        None => find_default(MODEL_FILE).ok_or_else(|| {
            let tried: Vec<String> = default_dirs().iter().map(|d| d.join(MODEL_FILE).display().to_string()).collect();
            Failure::Run(format!("no model found (tried {}); pass --model PATH", tried.join(", ")))
        })?,
    };
    let bytes = read_file(&path, "model")?;
    Classifier::from_onnx_bytes(&bytes).map_err(run_err(format!("cannot load model '{}'", path.display())))
}

/// Class names are optional for everything but naming a class by its name.
fn load_classes(args: &Args) -> Outcome<Option<ClassNames>> {
    let short_path = match args.value("classes") {
        Some(p) => PathBuf::from(p),
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

fn label(names: Option<&ClassNames>, class: usize) -> String {
    match names {
        Some(n) if class < n.len() => format!("{class} {}", n.short_name(class)),
        _ => format!("class {class}"),
    }
}

/// An index, or a name (exact name or synonym first, else the best match of `ClassNames::search`).
fn resolve_class(text: &str, names: &Option<ClassNames>, net: &Classifier, flag: &str) -> Outcome<usize> {
    let k = net.num_classes();
    if let Ok(index) = text.trim().parse::<usize>() {
        return if index < k {
            Ok(index)
        } else {
            Err(Failure::Usage(format!("--{flag}: class {index} is out of range (0 to {})", k - 1)))
        };
    }
    let names = names
        .as_ref()
        .ok_or_else(|| Failure::Usage(format!("--{flag}: no class names file found to look up '{text}'; give an index")))?;
    let wanted = text.trim().to_lowercase();
    let exact = (0..names.len().min(k)).find(|&i| {
        names.short_name(i).to_lowercase() == wanted || names.synonyms(i).iter().any(|s| s.to_lowercase() == wanted)
    });
    if let Some(i) = exact {
        return Ok(i);
    }
    let found: Vec<usize> = names.search(text, 5).into_iter().filter(|&i| i < k).collect();
    match found.first() {
        None => Err(Failure::Usage(format!("--{flag}: no class matches '{text}'"))),
        Some(&best) => {
            if found.len() > 1 {
                let others: Vec<String> = found[1..].iter().map(|&i| label(Some(names), i)).collect();
                eprintln!("netlens: '{text}' taken as {} (other matches: {})", label(Some(names), best), others.join(", "));
            } else {
                eprintln!("netlens: '{text}' taken as {}", label(Some(names), best));
            }
            Ok(best)
        }
    }
}

fn load_image(args: &Args) -> Outcome<(String, Tensor)> {
    let path = match args.positional.as_slice() {
        [p] => p.clone(),
        [] => return Err(Failure::Usage("missing the image file".into())),
        more => return Err(Failure::Usage(format!("expected one image, got {}: {}", more.len(), more.join(" ")))),
    };
    let bytes = read_file(Path::new(&path), "image")?;
    let rgb = imageio::load_224(&bytes).map_err(run_err(format!("cannot use '{path}' as an image")))?;
    Ok((path, imageio::rgb_to_tensor(&rgb)))
}

fn no_positional(args: &Args) -> Outcome<()> {
    match args.positional.first() {
        Some(p) => Err(Failure::Usage(format!("unexpected argument '{p}'"))),
        None => Ok(()),
    }
}

fn write_png(path: &str, rgba: &[u8], w: u32, h: u32) -> Outcome<()> {
    let png = render::encode_png_rgba(rgba, w, h).map_err(run_err(format!("cannot encode '{path}'")))?;
    std::fs::write(path, png).map_err(run_err(format!("cannot write '{path}'")))
}

/// Side by side, each `side` x `side` RGBA.
fn hstack(panels: &[&[u8]], side: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(panels.len() * side * side * 4);
    for row in 0..side {
        for p in panels {
            out.extend_from_slice(&p[row * side * 4..(row + 1) * side * 4]);
        }
    }
    out
}

fn classify(args: Args) -> Outcome<()> {
    let top: usize = args.parsed("top")?.unwrap_or(5);
    if top == 0 {
        return Err(Failure::Usage("--top must be at least 1".into()));
    }
    let (path, x) = load_image(&args)?;
    let net = load_model(&args)?;
    let names = load_classes(&args)?;
    let logits = net.logits(&x).map_err(run_err("classification failed"))?;
    let probs = softmax(&logits);
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    println!("{path}:");
    for (rank, &c) in order.iter().take(top).enumerate() {
        println!("{:>2}. {:>6.2}%  {}", rank + 1, 100.0 * probs[c], label(names.as_ref(), c));
    }
    Ok(())
}

fn saliency_cmd(args: Args) -> Outcome<()> {
    let out = args.required_output()?;
    let npy = args.output("npy")?;
    let (_, x) = load_image(&args)?;
    let net = load_model(&args)?;
    let names = load_classes(&args)?;
    let class = match args.value("class") {
        Some(text) => Some(resolve_class(text, &names, &net, "class")?),
        None => None,
    };
    let s = saliency(&net, &x, class).map_err(run_err("saliency failed"))?;
    let side = imageio::INPUT_SIZE as usize;
    let heat = render::heatmap_rgba(&s.map);
    if args.switch("heatmap-only") {
        write_png(&out, &heat, side as u32, side as u32)?;
    } else {
        let image = imageio::tensor_to_rgba(&x);
        let overlay = render::overlay_rgba(&image, &s.map);
        write_png(&out, &hstack(&[&image, &heat, &overlay], side), 3 * side as u32, side as u32)?;
    }
    if let Some(npy) = npy {
        write_npy(&npy, &s.map, side)?;
    }
    let predicted = argmax(&s.logits);
    println!(
        "saliency of {} (predicted: {}, {:.1}%); max {:.4}; wrote {out}",
        label(names.as_ref(), s.class),
        label(names.as_ref(), predicted),
        100.0 * softmax(&s.logits)[predicted],
        s.map.iter().cloned().fold(0.0f32, f32::max)
    );
    Ok(())
}

fn write_npy(path: &str, map: &[f32], side: usize) -> Outcome<()> {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).map_err(run_err(format!("cannot write '{path}'")))?;
    let write = || -> std::io::Result<()> {
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&[side as u64, side as u64])
            .writer(std::io::BufWriter::new(file))
            .begin_nd()?;
        writer.extend(map.iter().copied())?;
        writer.finish()
    };
    write().map_err(run_err(format!("cannot write '{path}'")))
}

fn fool_cmd(args: Args) -> Outcome<()> {
    let out = args.required_output()?;
    let strip = args.output("strip")?;
    let target_text = args.required("target")?.to_string();
    let defaults = FoolingSettings::default();
    let lr = args.parsed("lr")?.unwrap_or(defaults.lr);
    let max_iters = args.parsed("max-iters")?.unwrap_or(defaults.max_iters);
    let (_, x) = load_image(&args)?;
    let net = load_model(&args)?;
    let names = load_classes(&args)?;
    let target = resolve_class(&target_text, &names, &net, "target")?;
    let settings = FoolingSettings { target, lr, max_iters };
    let report = fool(&net, &x, &settings, |p| {
        if p.iteration % 10 == 0 {
            eprintln!("iteration {:>4}: class {}, target probability {:.4}", p.iteration, p.class, p.target_prob);
        }
        true
    })
    .map_err(|e| match e {
        netlens::Error::Invalid(m) => Failure::Usage(m),
        e => Failure::Run(format!("fooling failed: {e}")),
    })?;
    let side = imageio::INPUT_SIZE as usize;
    write_png(&out, &imageio::tensor_to_rgba(&report.fooled), side as u32, side as u32)?;
    if let Some(strip) = strip {
        let original = imageio::quantize(&x);
        let panels = [
            imageio::tensor_to_rgba(&original),
            imageio::tensor_to_rgba(&report.fooled),
            render::diff_rgba(&original, &report.fooled, 1.0),
            render::diff_rgba(&original, &report.fooled, 10.0),
        ];
        let refs: Vec<&[u8]> = panels.iter().map(Vec::as_slice).collect();
        write_png(&strip, &hstack(&refs, side), 4 * side as u32, side as u32)?;
    }
    println!("original class:  {}", label(names.as_ref(), report.original_class));
    println!("target class:    {}", label(names.as_ref(), report.target));
    println!("final class:     {} (of the 8-bit image)", label(names.as_ref(), report.final_class));
    println!("iterations:      {}", report.iterations);
    println!("target prob.:    {:.4} -> {:.4}", report.target_prob_before, report.target_prob_after);
    println!("perturbation:    L2 {:.2}, Linf {} (0-255 pixel units)", report.perturbation_l2, report.perturbation_linf);
    println!("wrote {out}");
    if report.success {
        Ok(())
    } else {
        Err(Failure::Run(format!(
            "the 8-bit image is not classified as the target after {} iterations (saved anyway); try --max-iters",
            report.iterations
        )))
    }
}

fn classviz_cmd(args: Args) -> Outcome<()> {
    no_positional(&args)?;
    let out = args.required_output()?;
    let class_text = args.required("class")?.to_string();
    let d = ClassVizSettings::default();
    let mut settings = ClassVizSettings {
        class: d.class,
        seed: args.parsed("seed")?.unwrap_or(d.seed),
        iters: args.parsed("iters")?.unwrap_or(d.iters),
        lr: args.parsed("lr")?.unwrap_or(d.lr),
        l2_reg: args.parsed("l2")?.unwrap_or(d.l2_reg),
        blur_every: args.parsed("blur-every")?.unwrap_or(d.blur_every),
        blur_sigma: args.parsed("blur-sigma")?.unwrap_or(d.blur_sigma),
        max_jitter: args.parsed("jitter")?.unwrap_or(d.max_jitter),
        update: if args.switch("plain") { Update::Plain } else { Update::Normalized },
    };
    settings.validate().map_err(|e| Failure::Usage(e.to_string()))?;
    let net = load_model(&args)?;
    let names = load_classes(&args)?;
    settings.class = resolve_class(&class_text, &names, &net, "class")?;
    let mut run = ClassVizRun::new(&settings).map_err(|e| Failure::Usage(e.to_string()))?;
    while run.iteration() < settings.iters {
        run.step(&net, &settings).map_err(run_err("class visualization failed"))?;
        let done = run.iteration();
        if done % 10 == 0 || done == settings.iters {
            let logits = run.last_logits();
            eprintln!("iteration {done:>4}: score {:.2}, top class {}", logits[settings.class], argmax(logits));
        }
    }
    let image = imageio::quantize(run.image());
    let side = imageio::INPUT_SIZE;
    write_png(&out, &imageio::tensor_to_rgba(&image), side, side)?;
    let logits = net.logits(&image).map_err(run_err("classification failed"))?;
    let top = argmax(&logits);
    println!(
        "class visualization of {} (seed {}, {} iterations); the 8-bit result is classified as {} ({:.1}%); wrote {out}",
        label(names.as_ref(), settings.class),
        settings.seed,
        settings.iters,
        label(names.as_ref(), top),
        100.0 * softmax(&logits)[top]
    );
    Ok(())
}
