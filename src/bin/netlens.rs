//! netlens on the command line: figures for slides from the same engine and method registry the page uses.
//! Arguments are parsed by clap; every method's settings, defaults and bounds come from the registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use netlens::methods::registry;
use netlens::preprocess::{Preset, Resize};
use serde_json::{Map, Value as Json};

#[path = "netlens/trust.rs"]
mod trust;

#[path = "netlens/gradient.rs"]
mod gradient;

#[path = "netlens/flags.rs"]
mod flags;

#[path = "netlens/commands.rs"]
mod commands;

#[path = "netlens/session.rs"]
mod session;

#[path = "netlens/output.rs"]
mod output;

use output::{check_outputs, hstack, write_npy, write_png};
use session::load_image;
use session::{Done, Session};

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
    /// `netlens saliency --help` lists its flags.
    #[command(disable_help_flag = true)]
    Saliency(MethodArgs),
    /// Fooling image: OUT.png is the fooled image (classified as the target after 8-bit rounding).
    #[command(disable_help_flag = true)]
    Fool(MethodArgs),
    /// Class visualization from seeded noise (CS231n's defaults).
    #[command(disable_help_flag = true)]
    Classviz(MethodArgs),
    /// An attribution map: IMG --method ID (any attribution method, saliency included) -o OUT.png [--npy RAW.npy].
    #[command(disable_help_flag = true)]
    Attribute(MethodArgs),
    /// An adversarial image: IMG --method fgsm|bim|pgd|pgd_l2 -o ADV.png; ε and α in pixel units (0-255). Prints
    /// the prediction before and after, the norms, and whether the PNG and JPEG (q90, q75) copies still fool it.
    #[command(disable_help_flag = true)]
    Attack(MethodArgs),
    /// Channel (or neuron) visualization, Lucid-style: the image one unit of a layer responds to most.
    #[command(disable_help_flag = true)]
    Channel(MethodArgs),
    /// DeepDream on an image: ascend ‖A‖² of a layer (or one channel) over octaves.
    #[command(disable_help_flag = true)]
    Dream(MethodArgs),
    /// Any method of the registry: METHOD [IMG] with its settings as flags (`netlens run METHOD --help`) or
    /// --set key=value; -o OUT.png writes its image panels side by side, --npy the first raw values.
    #[command(disable_help_flag = true)]
    Run(MethodArgs),
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

/// A method command's arguments, parsed by the flags its method's declaration generates (netlens/flags.rs).
#[derive(Args)]
struct MethodArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    args: Vec<String>,
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
        Command::Saliency(a) => commands::saliency(c, &a.args),
        Command::Fool(a) => commands::fool(c, &a.args),
        Command::Classviz(a) => commands::classviz(c, &a.args),
        Command::Attribute(a) => commands::attribute(c, &a.args),
        Command::Attack(a) => commands::attack(c, &a.args),
        Command::Channel(a) => commands::by_method(c, "channel", "channel", &a.args),
        Command::Dream(a) => commands::by_method(c, "dream", "dream", &a.args),
        Command::Run(a) => commands::run(c, &a.args),
    }
}

fn print_methods() {
    for m in registry::METHODS {
        println!("{} — {} ({})\n    {}\n    cost: {}", m.id, m.title, m.paper.cite, m.summary, m.cost);
        for s in m.settings {
            let bounds = flags::bounds(s);
            println!("    --{}  {} ({bounds}): {}", s.key.replace('_', "-"), s.label, s.help);
        }
        println!();
    }
}

/// `key=value` pairs, the values as typed: `Session::settings` reads each as its setting's type.
fn parse_sets(pairs: &[String]) -> Outcome<Map<String, Json>> {
    let mut map = Map::new();
    for pair in pairs {
        let (k, v) =
            pair.split_once('=').ok_or_else(|| Failure::Usage(format!("--set '{pair}': expected key=value")))?;
        map.insert(k.trim().to_string(), Json::String(v.to_string()));
    }
    Ok(map)
}

fn classify(c: &Common, img: &Path, top: usize) -> Outcome<()> {
    let s = Session::open(c)?;
    let input = load_image(&s.net, img)?;
    let logits = s.net.logits(&input.tensor).map_err(run_err("classification failed"))?;
    let probs = s.net.probabilities(&logits);
    println!("{}:", img.display());
    for (rank, (c, p)) in netlens::tensor::top_k(&probs, top).into_iter().enumerate() {
        println!("{:>2}. {:>6.2}%  {}", rank + 1, 100.0 * p, s.label(c));
    }
    Ok(())
}
