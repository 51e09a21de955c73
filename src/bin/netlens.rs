//! netlens on the command line: figures for slides from the same engine and method registry the page uses.
//! Arguments are parsed by clap; every method's settings, defaults and bounds come from the registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use netlens::classes::ClassNames;
use netlens::methods::registry::{self, Ctx, Group, Input, MethodSpec, Panel, Run};
use netlens::methods::settings::{Kind, Settings};
use netlens::model_files::{default_dirs, find_default, CLASSES_FILE, MODEL_FILE, SYNSETS_FILE};
use netlens::preprocess::{Choice, Preset, Resize};
use netlens::tensor::{argmax, Tensor};
use netlens::{imageio, render, Classifier};
use serde_json::{json, Map, Value as Json};

#[path = "netlens/trust.rs"]
mod trust;

#[path = "netlens/gradient.rs"]
mod gradient;

// Native only: its table and progress-bar crates are not in the wasm build (the bin is built for wasm32 by
// `cargo test --target wasm32-unknown-unknown`).
#[cfg(not(target_arch = "wasm32"))]
#[path = "netlens/batch.rs"]
mod batch;

#[derive(Parser)]
#[command(
    name = "netlens",
    about = "What a pretrained ImageNet CNN (SqueezeNet 1.1) has learned",
    after_help = "A class K is an index (0-999) or a name such as 'tarantula' or \"Egyptian cat\".\n\
                  IMG is any PNG, JPEG, WebP, GIF or BMP; it is brought to the model's input size (SqueezeNet: short side 256,\n\
                  centre crop 224x224) and normalised as the model's metadata says, else --preprocess.\n\
                  `netlens methods` lists every method and its settings."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Common {
    /// ONNX model (default: assets/models/squeezenet1_1.onnx as copied by the build, else
    /// $NETLENS_SHARED/models/, else ../shared/models/)
    #[arg(long, global = true, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Class names, one a line (default: imagenet_classes.txt beside the model search path; synonyms are read
    /// from imagenet_synset_words.txt in the same folder when present)
    #[arg(long, global = true, value_name = "PATH")]
    classes: Option<PathBuf>,
    /// Threads for the forward and backward passes (default: $NETLENS_THREADS, else the machine's cores)
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Normalisation for a model without netlens.* metadata: imagenet (3-channel default), unit ([0, 1]),
    /// signed ([-1, 1]) or mnist (grey default)
    #[arg(long, global = true, value_name = "PRESET", value_parser = parse_preset)]
    preprocess: Option<Preset>,
    /// How an image is brought to the model's size when its metadata does not say: crop (short side H*256/224,
    /// centre crop; default above 64 px) or squash (resize to HxW)
    #[arg(long, global = true, value_name = "crop|squash", value_parser = parse_resize)]
    resize: Option<Resize>,
    /// The side a model's symbolic height and width are fixed to (default 224)
    #[arg(long, global = true, value_name = "N")]
    input_size: Option<usize>,
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::parse(s).map_err(|e| e.to_string())
}

fn parse_resize(s: &str) -> Result<Resize, String> {
    Resize::parse(s).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum Command {
    /// Top-N classes with their probabilities.
    Classify {
        img: PathBuf,
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
        top: u16,
    },
    /// Saliency of class K (default: the predicted class): OUT.png is image | heatmap | overlay (672x224).
    Saliency {
        img: PathBuf,
        #[arg(long)]
        class: Option<String>,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
        /// The raw map, float32 [224, 224].
        #[arg(long, value_name = "RAW.npy")]
        npy: Option<PathBuf>,
        /// Just the 224x224 heatmap.
        #[arg(long)]
        heatmap_only: bool,
    },
    /// Fooling image: OUT.png is the fooled image (classified as K after 8-bit rounding).
    Fool {
        img: PathBuf,
        #[arg(long)]
        target: String,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
        /// Also write original | fooled | difference | difference x10 (896x224).
        #[arg(long, value_name = "STRIP.png")]
        strip: Option<PathBuf>,
        #[arg(long)]
        max_iters: Option<i64>,
        #[arg(long)]
        lr: Option<f64>,
    },
    /// Class visualization from seeded noise (CS231n defaults; --plain: lr * gradient).
    Classviz {
        #[arg(long)]
        class: String,
        #[arg(long)]
        seed: Option<i64>,
        #[arg(long)]
        iters: Option<i64>,
        #[arg(long)]
        lr: Option<f64>,
        #[arg(long)]
        l2: Option<f64>,
        #[arg(long)]
        blur_every: Option<i64>,
        #[arg(long)]
        blur_sigma: Option<f64>,
        #[arg(long)]
        jitter: Option<i64>,
        #[arg(long)]
        plain: bool,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
    },
    /// An attribution map: any method of the Attribution group (`netlens methods`), and saliency.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["img", "input_npy"])))]
    Attribute {
        img: Option<PathBuf>,
        /// Instead of IMG: the network's input as it is, float32 .npy (already preprocessed; the model's input
        /// shape, or it without the batch axis of 1), as `netlens gradient` takes it.
        #[arg(long, value_name = "X.npy")]
        input_npy: Option<PathBuf>,
        #[arg(long)]
        method: String,
        #[arg(long)]
        class: Option<String>,
        /// The layer of a CAM method (its `layer` setting; default: features.12, or a user model's last 4-D value).
        #[arg(long)]
        layer: Option<String>,
        /// The map as drawn in the page (224x224).
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
        /// The raw attribution, float32 in C order ([3,224,224]; the CAM family [13,13] at features.12; saliency
        /// [224,224]).
        #[arg(long, value_name = "RAW.npy")]
        npy: Option<PathBuf>,
        /// Any other setting of the method, as key=value (see `netlens methods`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// An adversarial image (fgsm, bim, pgd, pgd_l2); ε and α in pixel units (0-255). Prints the prediction
    /// before and after, the norms, and whether the PNG and JPEG (q90, q75) copies still fool the network.
    Attack {
        img: PathBuf,
        #[arg(long)]
        method: String,
        #[arg(long)]
        eps: Option<f64>,
        #[arg(long)]
        alpha: Option<f64>,
        #[arg(long)]
        steps: Option<i64>,
        /// Targeted: make the network see this class (default: untargeted, away from the prediction).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        random_start: bool,
        #[arg(long)]
        seed: Option<i64>,
        /// Stop at the first step whose 8-bit image fools the network.
        #[arg(long)]
        early_stop: bool,
        #[arg(short = 'o', long = "output", value_name = "ADV.png")]
        output: PathBuf,
    },
    /// Channel (or neuron) visualization, Lucid-style: the image one unit of a layer responds to most.
    Channel {
        #[arg(long)]
        layer: String,
        #[arg(long)]
        channel: i64,
        /// The channel's centre neuron instead of its mean.
        #[arg(long)]
        neuron: bool,
        /// fourier (default: 1/f spectrum + decorrelated colour) or pixel.
        #[arg(long)]
        param: Option<String>,
        #[arg(long)]
        iters: Option<i64>,
        #[arg(long)]
        seed: Option<i64>,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
    },
    /// DeepDream on an image: ascend ‖A‖² of a layer (or one channel) over octaves.
    Dream {
        img: PathBuf,
        #[arg(long)]
        layer: String,
        #[arg(long)]
        channel: Option<i64>,
        #[arg(long)]
        octaves: Option<i64>,
        /// Steps per octave.
        #[arg(long)]
        steps: Option<i64>,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: PathBuf,
    },
    /// Any method of the registry: METHOD [IMG] --set key=value ... -o OUT.png (its image panels side by side).
    Run {
        method: String,
        img: Option<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(short = 'o', long = "output", value_name = "OUT.png")]
        output: Option<PathBuf>,
        /// The raw values of the first panel that has them.
        #[arg(long, value_name = "RAW.npy")]
        npy: Option<PathBuf>,
    },
    /// Deletion/insertion curves (Petsiuk et al. 2018) of attribution maps: deletion and insertion AUC per method
    /// and for a random pixel order (one line each); --json writes the curves.
    Faithfulness {
        img: PathBuf,
        #[arg(long)]
        class: Option<String>,
        /// Method ids, comma-separated (default: every attribution method).
        #[arg(long)]
        methods: Option<String>,
        /// Other settings (steps, baseline, blur_sigma, seed), as key=value.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long, value_name = "OUT.json")]
        json: Option<PathBuf>,
    },
    /// Cascading model randomization (Adebayo et al. 2018): Spearman rank correlation of each map with the
    /// trained network's at each depth; -o writes the map grid (rows = methods, columns = depths).
    Sanity {
        img: PathBuf,
        #[arg(long)]
        class: Option<String>,
        /// Method ids, comma-separated (default: every gradient-based attribution method).
        #[arg(long)]
        methods: Option<String>,
        /// Other settings (depth, seed), as key=value.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(short = 'o', long = "output", value_name = "GRID.png")]
        output: Option<PathBuf>,
        #[arg(long, value_name = "OUT.json")]
        json: Option<PathBuf>,
    },
    /// d output[K] / d input of any model (--model) at an exact input tensor, no preprocessing: the raw input
    /// gradient as float32 .npy with the input's shape, to check the reverse pass against any autodiff.
    Gradient {
        /// The network's input, float32 .npy (the model's input shape, or it without the batch axis of 1).
        #[arg(long, value_name = "X.npy")]
        input_npy: PathBuf,
        /// The output element K (a class index).
        #[arg(long)]
        class: usize,
        #[arg(long, value_name = "OUT.npy")]
        npy: PathBuf,
    },
    /// Registry methods over a folder or manifest of images: per image the outputs `attribute` writes, and
    /// OUTDIR/results.csv + results.jsonl (image, class, method, status, error, the report's numbers). A rerun
    /// skips what is done; --shard i/n does the i-th of n shares (docs/scale.md).
    #[cfg(not(target_arch = "wasm32"))]
    Batch {
        /// Method ids, comma-separated (methods that take an image).
        #[arg(long = "method", value_name = "ID[,ID…]")]
        method: String,
        /// A folder (every file below it), or a manifest: .csv with a `path` column and an optional `class`
        /// column, or .jsonl of {"path": …, "class": …}; paths relative to the manifest.
        #[arg(long, value_name = "DIR|MANIFEST")]
        images: PathBuf,
        #[arg(long, value_name = "OUTDIR")]
        out: PathBuf,
        /// The i-th of n shares (0 <= i < n), e.g. $SLURM_ARRAY_TASK_ID/4 or $JOB_COMPLETION_INDEX/4.
        #[arg(long, value_name = "i/n", value_parser = batch::parse_shard)]
        shard: Option<batch::Shard>,
        /// A setting, as key=value, for every listed method that has it.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Every method with its settings (defaults and bounds).
    Methods,
    /// The registry's schema as JSON (what the page is built from).
    Schema,
}

/// Usage errors exit with 2, failures while running with 1.
enum Failure {
    Usage(String),
    Run(String),
}

type Outcome<T> = std::result::Result<T, Failure>;

fn run_err<E: std::fmt::Display>(context: impl std::fmt::Display) -> impl FnOnce(E) -> Failure {
    move |e| Failure::Run(format!("{context}: {e}"))
}

/// Bad settings are the user's to fix (exit 2); anything else failed while running (exit 1).
fn method_err(context: &'static str) -> impl Fn(netlens::Error) -> Failure {
    move |e| match e {
        netlens::Error::Invalid(m) => Failure::Usage(m),
        e => Failure::Run(format!("{context}: {e}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.common.threads {
        netlens::threads::set_threads(n.into());
    }
    match netlens::threads::on_pool(|| run(cli)) {
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

fn run(cli: Cli) -> Outcome<()> {
    let c = &cli.common;
    match cli.command {
        Command::Methods => {
            print_methods();
            Ok(())
        }
        Command::Schema => {
            println!("{}", registry::schema_json());
            Ok(())
        }
        Command::Classify { img, top } => classify(c, &img, top as usize),
        #[cfg(not(target_arch = "wasm32"))]
        Command::Batch { method, images, out, shard, set } => {
            batch::batch(c, batch::BatchArgs { methods: method, images, out, shard, set })
        }
        Command::Faithfulness { img, class, methods, set, json } => {
            trust::faithfulness(c, &img, class, methods, &set, json)
        }
        Command::Gradient { input_npy, class, npy } => gradient::gradient(c, &input_npy, class, &npy),
        Command::Sanity { img, class, methods, set, output, json } => {
            trust::sanity(c, &img, class, methods, &set, output, json)
        }
        Command::Saliency { img, class, output, npy, heatmap_only } => {
            check_outputs(&[Some(&output), npy.as_ref()])?;
            let mut set = Map::new();
            if let Some(class) = class {
                set.insert("class".into(), Json::String(class));
            }
            let done = Session::open(c)?.run("saliency", Some(&img), set)?;
            let heat = done.panel("heatmap")?;
            if heatmap_only {
                write_png(&output, &heat.rgba, heat.width, heat.height)?;
            } else {
                let input = done.input.as_ref().expect("saliency has an image");
                let overlay = done.panel("overlay")?;
                let (w, h) = (heat.width, heat.height);
                write_png(&output, &hstack(&[&input.rgba, &heat.rgba, &overlay.rgba], w, h), 3 * w, h)?;
            }
            if let Some(npy) = npy {
                write_npy(&npy, heat.raw.as_ref().expect("the heatmap keeps its map"))?;
            }
            let class = done.report["class"].as_u64().unwrap_or(0) as usize;
            let logits = done
                .session
                .net
                .logits(&done.input.as_ref().unwrap().tensor)
                .map_err(run_err("classification failed"))?;
            let predicted = argmax(&logits);
            println!(
                "saliency of {} (predicted: {}, {:.1}%); max {:.4}; wrote {}",
                done.session.label(class),
                done.session.label(predicted),
                100.0 * done.session.net.probabilities(&logits)[predicted],
                heat.raw.as_ref().unwrap().data.iter().cloned().fold(0.0f32, f32::max),
                output.display()
            );
            Ok(())
        }
        Command::Fool { img, target, output, strip, max_iters, lr } => {
            check_outputs(&[Some(&output), strip.as_ref()])?;
            let mut set = Map::new();
            set.insert("target".into(), Json::String(target));
            if let Some(v) = max_iters {
                set.insert("max_iters".into(), json!(v));
            }
            if let Some(v) = lr {
                set.insert("lr".into(), json!(v));
            }
            let done = Session::open(c)?.run("fooling", Some(&img), set)?;
            let fooled = done.panel("fooled")?;
            let (w, h) = (fooled.width, fooled.height);
            write_png(&output, &fooled.rgba, w, h)?;
            if let Some(strip) = strip {
                let pre = done.session.net.preprocess();
                let original = pre.tensor_to_rgba(&pre.quantize(&done.input.as_ref().unwrap().tensor));
                let panels = [&original[..], &fooled.rgba, &done.panel("diff")?.rgba, &done.panel("diff10")?.rgba];
                write_png(&strip, &hstack(&panels, w, h), 4 * w, h)?;
            }
            let r = &done.report["report"];
            let n = |k: &str| r[k].as_u64().unwrap_or(0) as usize;
            let s = &done.session;
            println!("original class:  {}", s.label(n("original_class")));
            println!("target class:    {}", s.label(n("target")));
            println!("final class:     {} (of the 8-bit image)", s.label(n("final_class")));
            println!("iterations:      {}", n("iterations"));
            println!(
                "target prob.:    {:.4} -> {:.4}",
                r["target_prob_before"].as_f64().unwrap_or(0.0),
                r["target_prob_after"].as_f64().unwrap_or(0.0)
            );
            println!(
                "perturbation:    L2 {:.2}, Linf {} (0-255 pixel units)",
                r["perturbation_l2"].as_f64().unwrap_or(0.0),
                r["perturbation_linf"]
            );
            println!("wrote {}", output.display());
            if r["success"].as_bool() == Some(true) {
                Ok(())
            } else {
                Err(Failure::Run(format!(
                    "the 8-bit image is not classified as the target after {} iterations (saved anyway); try --max-iters",
                    n("iterations")
                )))
            }
        }
        Command::Classviz { class, seed, iters, lr, l2, blur_every, blur_sigma, jitter, plain, output } => {
            check_outputs(&[Some(&output)])?;
            let mut set = Map::new();
            set.insert("class".into(), Json::String(class));
            let opts = [
                ("seed", seed.map(|v| json!(v))),
                ("iters", iters.map(|v| json!(v))),
                ("lr", lr.map(|v| json!(v))),
                ("l2_reg", l2.map(|v| json!(v))),
                ("blur_every", blur_every.map(|v| json!(v))),
                ("blur_sigma", blur_sigma.map(|v| json!(v))),
                ("max_jitter", jitter.map(|v| json!(v))),
            ];
            for (k, v) in opts {
                if let Some(v) = v {
                    set.insert(k.into(), v);
                }
            }
            if plain {
                set.insert("update".into(), json!("plain"));
            }
            let done = Session::open(c)?.run("classviz", None, set)?;
            let image = done.panel("image")?;
            write_png(&output, &image.rgba, image.width, image.height)?;
            let s = &done.session;
            let pre = s.net.preprocess();
            let png = render::encode_png_rgba(&image.rgba, image.width, image.height).map_err(run_err("png"))?;
            let again = pre.to_tensor(&pre.fit(&imageio::decode_own(&png).map_err(run_err("png"))?));
            let logits = s.net.logits(&again).map_err(run_err("classification failed"))?;
            let top = argmax(&logits);
            println!(
                "class visualization of {} (seed {}, {} iterations); the 8-bit result is classified as {} ({:.1}%); wrote {}",
                s.label(done.settings["class"].as_u64().unwrap_or(0) as usize),
                done.settings["seed"],
                done.settings["iters"],
                s.label(top),
                100.0 * s.net.probabilities(&logits)[top],
                output.display()
            );
            Ok(())
        }
        Command::Attribute { img, input_npy, method, class, layer, output, npy, set } => {
            check_outputs(&[Some(&output), npy.as_ref()])?;
            let spec = registry::method(&method).map_err(|e| Failure::Usage(e.to_string()))?;
            if spec.group != Group::Attribution && spec.id != "saliency" {
                return Err(Failure::Usage(format!("'{method}' is not an attribution method (see `netlens methods`)")));
            }
            let mut map = parse_sets(&set)?;
            if let Some(class) = class {
                map.insert("class".into(), Json::String(class));
            }
            if let Some(layer) = layer {
                if !spec.settings.iter().any(|s| s.key == "layer") {
                    return Err(Failure::Usage(format!("{} has no layer setting (--layer)", spec.title)));
                }
                map.insert("layer".into(), Json::String(layer));
            }
            let done = match (&img, &input_npy) {
                (_, Some(x)) => {
                    let (session, input) = gradient::session_with_input(c, x)?;
                    session.run_input(spec.id, Some(input), map)?
                }
                (img, None) => Session::open(c)?.run(spec.id, img.as_deref(), map)?,
            };
            let first = done.panels.first().ok_or_else(|| Failure::Run("the method gave no map".into()))?;
            write_png(&output, &first.rgba, first.width, first.height)?;
            if let Some(npy) = npy {
                write_npy(&npy, first.raw.as_ref().expect("attribution maps keep their raw values"))?;
            }
            let class = done.report["class"].as_u64().unwrap_or(0) as usize;
            println!("{} of {}; wrote {}", spec.title, done.session.label(class), output.display());
            // The method's own checks (Integrated Gradients' completeness, LRP's conservation).
            for (key, check) in done.report["extra"].as_object().into_iter().flatten() {
                if let Some(text) = check["text"].as_str() {
                    println!("{key}: {text}");
                }
            }
            Ok(())
        }
        Command::Attack { img, method, eps, alpha, steps, target, random_start, seed, early_stop, output } => {
            check_outputs(&[Some(&output)])?;
            let spec = registry::method(&method).map_err(|e| Failure::Usage(e.to_string()))?;
            if spec.group != Group::Adversarial || spec.id == "robustness" {
                return Err(Failure::Usage(format!("'{method}' is not an attack (fgsm, bim, pgd, pgd_l2)")));
            }
            let mut set = Map::new();
            let opts = [
                ("eps", eps.map(|v| json!(v))),
                ("alpha", alpha.map(|v| json!(v))),
                ("steps", steps.map(|v| json!(v))),
                ("target", target.map(Json::String)),
                ("random_start", random_start.then_some(json!(true))),
                ("seed", seed.map(|v| json!(v))),
                ("early_stop", early_stop.then_some(json!(true))),
            ];
            for (k, v) in opts {
                if let Some(v) = v {
                    if !spec.settings.iter().any(|s| s.key == k) {
                        return Err(Failure::Usage(format!("{} has no setting --{}", spec.title, k.replace('_', "-"))));
                    }
                    set.insert(k.into(), v);
                }
            }
            let done = Session::open(c)?.run(spec.id, Some(&img), set)?;
            let adv = done.panel("adversarial")?;
            write_png(&output, &adv.rgba, adv.width, adv.height)?;
            for line in done.report["lines"].as_array().into_iter().flatten() {
                println!("{}: {}", line[0].as_str().unwrap_or(""), line[1].as_str().unwrap_or(""));
            }
            println!("wrote {}", output.display());
            Ok(())
        }
        Command::Channel { layer, channel, neuron, param, iters, seed, output } => {
            check_outputs(&[Some(&output)])?;
            let mut set = Map::new();
            set.insert("layer".into(), json!(layer));
            set.insert("channel".into(), json!(channel));
            if neuron {
                set.insert("objective".into(), json!("neuron"));
            }
            for (k, v) in [
                ("param", param.map(Json::String)),
                ("iters", iters.map(|v| json!(v))),
                ("seed", seed.map(|v| json!(v))),
            ] {
                if let Some(v) = v {
                    set.insert(k.into(), v);
                }
            }
            write_first_panel(Session::open(c)?.run("channel", None, set)?, &output)
        }
        Command::Dream { img, layer, channel, octaves, steps, output } => {
            check_outputs(&[Some(&output)])?;
            let mut set = Map::new();
            set.insert("layer".into(), json!(layer));
            for (k, v) in [("channel", channel), ("octaves", octaves), ("steps", steps)] {
                if let Some(v) = v {
                    set.insert(k.into(), json!(v));
                }
            }
            write_first_panel(Session::open(c)?.run("dream", Some(&img), set)?, &output)
        }
        Command::Run { method, img, set, output, npy } => {
            check_outputs(&[output.as_ref(), npy.as_ref()])?;
            let spec = registry::method(&method).map_err(|e| Failure::Usage(e.to_string()))?;
            let done = Session::open(c)?.run(spec.id, img.as_deref(), parse_sets(&set)?)?;
            if let Some(output) = &output {
                let [_, _, h, w] = done.session.net.input_shape();
                let (w, h) = (w as u32, h as u32);
                let images: Vec<&Panel> = done.panels.iter().filter(|p| p.width == w && p.height == h).collect();
                let refs: Vec<&[u8]> = images.iter().map(|p| &p.rgba[..]).collect();
                write_png(output, &hstack(&refs, w, h), w * refs.len() as u32, h)?;
                println!(
                    "wrote {} ({})",
                    output.display(),
                    images.iter().map(|p| p.id).collect::<Vec<_>>().join(" | ")
                );
            }
            if let Some(npy) = npy {
                let raw = done
                    .panels
                    .iter()
                    .find_map(|p| p.raw.as_ref())
                    .ok_or_else(|| Failure::Usage(format!("{method} has no raw values for --npy")))?;
                write_npy(&npy, raw)?;
            }
            for line in done.report["lines"].as_array().into_iter().flatten() {
                println!("{}: {}", line[0].as_str().unwrap_or(""), line[1].as_str().unwrap_or(""));
            }
            Ok(())
        }
    }
}

/// Writes a run's first panel and prints its report lines.
fn write_first_panel(done: Done, output: &Path) -> Outcome<()> {
    let p = done.panels.first().ok_or_else(|| Failure::Run("the method gave no picture".into()))?;
    write_png(output, &p.rgba, p.width, p.height)?;
    for line in done.report["lines"].as_array().into_iter().flatten() {
        println!("{}: {}", line[0].as_str().unwrap_or(""), line[1].as_str().unwrap_or(""));
    }
    println!("wrote {}", output.display());
    Ok(())
}

fn print_methods() {
    for m in registry::METHODS {
        println!("{} — {} ({})\n    {}\n    cost: {}", m.id, m.title, m.paper.cite, m.summary, m.cost);
        for s in m.settings {
            let bounds = match &s.kind {
                Kind::Int { min, max, default } => format!("whole number {min}..={max}, default {default}"),
                Kind::Float { min, max, min_exclusive, default } => {
                    format!("number {}{min}..={max}, default {default}", if *min_exclusive { ">" } else { "" })
                }
                Kind::Class { optional, default } => match (optional, default) {
                    (true, _) => "class, default: the predicted one".to_string(),
                    (false, Some(d)) => format!("class, default {d}"),
                    (false, None) => "class".to_string(),
                },
                Kind::Choice { options, default } => {
                    format!(
                        "one of {}, default {default}",
                        options.iter().map(|o| o.value).collect::<Vec<_>>().join("|")
                    )
                }
                Kind::Bool { default } => format!("true|false, default {default}"),
                Kind::Text { default, .. } => format!("name, default {default}"),
            };
            println!("    --set {}=…  {} ({bounds}): {}", s.key, s.label, s.help);
        }
        println!();
    }
}

/// `key=value` pairs; values that read as JSON (numbers, true/false, null) are taken as such, the rest as text.
fn parse_sets(pairs: &[String]) -> Outcome<Map<String, Json>> {
    let mut map = Map::new();
    for pair in pairs {
        let (k, v) =
            pair.split_once('=').ok_or_else(|| Failure::Usage(format!("--set '{pair}': expected key=value")))?;
        let value = serde_json::from_str::<Json>(v)
            .ok()
            .filter(|j| !j.is_object() && !j.is_array())
            .unwrap_or(Json::String(v.into()));
        map.insert(k.trim().to_string(), value);
    }
    Ok(map)
}

/// The model and class names, loaded once.
struct Session {
    net: Classifier,
    names: Option<ClassNames>,
}

/// A finished run with what the commands print from it.
struct Done {
    session: Session,
    input: Option<Input>,
    panels: Vec<Panel>,
    report: Json,
    settings: Json,
}

impl Done {
    fn panel(&self, id: &str) -> Outcome<&Panel> {
        self.panels.iter().find(|p| p.id == id).ok_or_else(|| Failure::Run(format!("no '{id}' output")))
    }
}

impl Session {
    fn open(c: &Common) -> Outcome<Session> {
        Session::open_sized(c, c.input_size)
    }

    /// With a model's symbolic height and width fixed to `side`.
    fn open_sized(c: &Common, side: Option<usize>) -> Outcome<Session> {
        let net = load_model(c, side)?;
        let names = load_classes(c)?;
        Ok(Session { net, names })
    }

    fn label(&self, class: usize) -> String {
        match &self.names {
            Some(n) if class < n.len() => format!("{class} {}", n.short_name(class)),
            _ => format!("class {class}"),
        }
    }

    /// Resolves class names in `set`, checks the settings against the registry and runs the method to the end,
    /// printing progress now and then.
    fn run(self, method: &str, img: Option<&Path>, set: Map<String, Json>) -> Outcome<Done> {
        let input = img.map(|path| load_image(&self.net, path)).transpose()?;
        self.run_input(method, input, set)
    }

    /// [`Session::run`] on an input already made (an image's, or an exact tensor's).
    fn run_input(self, method: &str, input: Option<Input>, set: Map<String, Json>) -> Outcome<Done> {
        let spec: &MethodSpec = registry::method(method).map_err(|e| Failure::Usage(e.to_string()))?;
        let settings = self.settings(spec, set)?;
        if input.is_none() && spec.needs_image {
            return Err(Failure::Usage(format!("{method} needs an image")));
        }
        let (panels, report) = self.execute(spec, input.as_ref(), &settings, true)?;
        Ok(Done { input, panels, report, settings: settings.to_json(), session: self })
    }

    /// `set` with its class names resolved, checked against the method's declaration in the registry.
    fn settings(&self, spec: &MethodSpec, mut set: Map<String, Json>) -> Outcome<Settings> {
        for s in spec.settings {
            if let (Kind::Class { .. }, Some(Json::String(text))) = (&s.kind, set.get(s.key)) {
                let k = self.resolve_class(text, s.key)?;
                set.insert(s.key.to_string(), json!(k));
            }
        }
        spec.settings(&Json::Object(set), self.net.num_classes()).map_err(|e| Failure::Usage(e.to_string()))
    }

    /// Runs a method to the end through the registry: its panels and report. `progress`: print where it stands
    /// now and then (the batch has its own progress bar).
    fn execute(
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

    /// An index, or a name (exact name or synonym first, else the best match of `ClassNames::search`).
    fn resolve_class(&self, text: &str, flag: &str) -> Outcome<usize> {
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

fn read_file(path: &Path, what: &str) -> Outcome<Vec<u8>> {
    std::fs::read(path).map_err(run_err(format!("cannot read {what} '{}'", path.display())))
}

fn load_model(c: &Common, side: Option<usize>) -> Outcome<Classifier> {
    let path = match &c.model {
        Some(p) => p.clone(),
        None => find_default(MODEL_FILE).ok_or_else(|| {
            let tried: Vec<String> = default_dirs().iter().map(|d| d.join(MODEL_FILE).display().to_string()).collect();
            Failure::Run(format!("no model found (tried {}); pass --model PATH", tried.join(", ")))
        })?,
    };
    let bytes = read_file(&path, "model")?;
    let choice = Choice { preset: c.preprocess, resize: c.resize, side };
    Classifier::load(&bytes, &choice).map_err(run_err(format!("cannot load model '{}'", path.display())))
}

/// Class names are optional for everything but naming a class by its name.
fn load_classes(c: &Common) -> Outcome<Option<ClassNames>> {
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
fn load_image(net: &Classifier, path: &Path) -> Outcome<Input> {
    let bytes = read_file(path, "image")?;
    Input::from_bytes(net, &bytes).map_err(run_err(format!("cannot use '{}' as an image", path.display())))
}

/// Fail before the work, not after it, when an output cannot be written where asked.
fn check_outputs(paths: &[Option<&PathBuf>]) -> Outcome<()> {
    for path in paths.iter().flatten() {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(Failure::Usage(format!(
                    "cannot write '{}': no folder '{}'",
                    path.display(),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

fn write_png(path: &Path, rgba: &[u8], w: u32, h: u32) -> Outcome<()> {
    let png = render::encode_png_rgba(rgba, w, h).map_err(run_err(format!("cannot encode '{}'", path.display())))?;
    std::fs::write(path, png).map_err(run_err(format!("cannot write '{}'", path.display())))
}

/// Side by side, each `w` x `h` RGBA.
fn hstack(panels: &[&[u8]], w: u32, h: u32) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut out = Vec::with_capacity(panels.len() * w * h * 4);
    for row in 0..h {
        for p in panels {
            out.extend_from_slice(&p[row * w * 4..(row + 1) * w * 4]);
        }
    }
    out
}

fn classify(c: &Common, img: &Path, top: usize) -> Outcome<()> {
    let s = Session::open(c)?;
    let input = load_image(&s.net, img)?;
    let logits = s.net.logits(&input.tensor).map_err(run_err("classification failed"))?;
    let probs = s.net.probabilities(&logits);
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    println!("{}:", img.display());
    for (rank, &c) in order.iter().take(top).enumerate() {
        println!("{:>2}. {:>6.2}%  {}", rank + 1, 100.0 * probs[c], s.label(c));
    }
    Ok(())
}

/// float32, C order, with the tensor's own shape.
fn write_npy(path: &Path, t: &Tensor) -> Outcome<()> {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).map_err(run_err(format!("cannot write '{}'", path.display())))?;
    let write = || -> std::io::Result<()> {
        let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(std::io::BufWriter::new(file))
            .begin_nd()?;
        writer.extend(t.data.iter().copied())?;
        writer.finish()
    };
    write().map_err(run_err(format!("cannot write '{}'", path.display())))
}
