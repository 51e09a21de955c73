//! A user's own classifier (issue 11): any 1×C×H×W input with C ∈ {1, 3} and sides 8 to 512, its preprocessing
//! from the ONNX metadata or a preset, and every method of the registry on every model the zoo index lists.

mod common;

use common::*;
use netlens::methods::classviz::{ClassVizRun, ClassVizSettings};
use netlens::methods::registry::{self, Ctx, Input, OutputKind};
use netlens::preprocess::{Choice, Preprocess, Preset, Resize, Source};
use netlens::{imageio, Classifier, Error};
use prost::Message;
use serde_json::{json, Map, Value as Json};
use tract_onnx::pb::{tensor_shape_proto::dimension::Value as DimValue, type_proto, StringStringEntryProto};

fn zoo_entries() -> Vec<Json> {
    let index: Json = serde_json::from_slice(&read_shared("models/zoo/index.json")).expect("models/zoo/index.json");
    let entries = index["entries"].as_array().expect("entries").clone();
    assert!(!entries.is_empty(), "the zoo index lists no model");
    entries
}

fn zoo_model(entry: &Json) -> (String, Vec<u8>, Vec<usize>) {
    let arch = entry["arch"].as_str().expect("arch").to_string();
    let bytes = read_shared(&format!("models/zoo/{}", entry["onnx"].as_str().expect("onnx")));
    let shape = entry["input_shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    (arch, bytes, shape)
}

/// The picture the model sees, as the page and the CLI make it.
fn input_for(net: &Classifier, image: &str) -> Input {
    let pre = net.preprocess();
    let rgb = pre.load(&read_shared(image)).expect("the sample decodes");
    Input::new(pre.to_tensor(&rgb), imageio::rgb_to_rgba(&rgb))
}

/// Small step counts where a method has them (the methods' own tests check the defaults' results).
fn quick_settings(spec: &registry::MethodSpec) -> Json {
    let mut set = Map::new();
    for s in spec.settings {
        let v = match s.key {
            "iters" | "max_iters" => json!(3),
            "samples" | "steps" => json!(2),
            "depth" => json!(1),
            "octaves" => json!(1),
            _ => continue,
        };
        set.insert(s.key.into(), v);
    }
    Json::Object(set)
}

/// Every method runs at defaults (small step counts) on every zoo model, and every picture-sized output has the
/// model's H×W.
#[test]
fn every_method_runs_on_every_zoo_model() {
    for entry in zoo_entries() {
        let (arch, bytes, shape) = zoo_model(&entry);
        let net = Classifier::from_onnx_bytes(&bytes).unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(net.input_shape().to_vec(), shape, "{arch}: input shape");
        let (h, w) = (shape[2] as u32, shape[3] as u32);
        let input = input_for(&net, "images/chelsea.png");
        assert_eq!(input.tensor.shape, shape, "{arch}: the image is brought to the model's input");
        assert_eq!(input.rgba.len(), (h * w * 4) as usize);
        let name = |k: usize| format!("class {k}");
        let ctx = Ctx { net: &net, name: &name };
        let mut ran = vec![];
        for spec in registry::METHODS {
            let settings = spec
                .settings(&quick_settings(spec), net.num_classes())
                .unwrap_or_else(|e| panic!("{arch} {}: settings: {e}", spec.id));
            let run = match registry::run_to_end(&ctx, spec, Some(&input), &settings, |_, _| true) {
                Ok(run) => run,
                // The attention methods on a model without attention (every zoo model is a CNN).
                Err(e)
                    if ["rollout", "gradrollout", "attention"].contains(&spec.id)
                        && e.to_string().contains("has no attention") =>
                {
                    continue;
                }
                // LRP's composites name the op they have no rule for (cifarnet's SiLU is a Sigmoid × input Mul):
                // accepted only as that sentence, for an op the model has, that no rule could cover.
                Err(e) if e.to_string().contains("composite has no rule for op") => {
                    let op =
                        e.to_string().split("for op ").nth(1).and_then(|t| t.split(' ').next()).unwrap().to_string();
                    let ops: Vec<&str> = entry["ops"].as_array().unwrap().iter().filter_map(|o| o.as_str()).collect();
                    assert!(ops.contains(&op.as_str()), "{arch} {}: names {op}, not one of its ops {ops:?}", spec.id);
                    assert!(["Mul", "Softmax"].contains(&op.as_str()), "{arch} {}: {e}", spec.id);
                    eprintln!("{arch}: {} refused: {e}", spec.id);
                    continue;
                }
                Err(e) => panic!("{arch} {}: {e}", spec.id),
            };
            let panels = run.panels();
            assert!(!panels.is_empty(), "{arch} {}: no panel", spec.id);
            for p in &panels {
                assert_eq!(p.rgba.len(), (p.width * p.height * 4) as usize, "{arch} {} {}: RGBA size", spec.id, p.id);
                // Grids of many maps or channels (activations, sanity) and frame strips have their own layout.
                let picture = matches!(
                    p.kind,
                    OutputKind::Image
                        | OutputKind::Heatmap
                        | OutputKind::Diverging
                        | OutputKind::Overlay
                        | OutputKind::Live
                ) && !matches!(spec.id, "activations" | "sanity");
                if picture {
                    assert_eq!((p.width, p.height), (w, h), "{arch} {} {}: panel size", spec.id, p.id);
                }
                // A grey model's pictures (not its maps) are grey: what it sees.
                if picture && shape[1] == 1 && matches!(p.kind, OutputKind::Image | OutputKind::Live) {
                    let grey = p.rgba.chunks(4).all(|c| c[0] == c[1] && c[1] == c[2]);
                    assert!(grey, "{arch} {} {}: a grey model's picture is not grey", spec.id, p.id);
                }
            }
            ran.push(spec.id);
        }
        eprintln!("{arch} {shape:?}: {} methods ran: {}", ran.len(), ran.join(" "));
    }
}

/// Class visualization on the MNIST-sized model: a 28×28 picture whose target score rises.
#[test]
fn class_visualization_on_tinycnn_is_28_by_28_and_raises_the_score() {
    let entry = zoo_entries().into_iter().find(|e| e["arch"] == "tinycnn").expect("the zoo has tinycnn");
    let net = Classifier::from_onnx_bytes(&zoo_model(&entry).1).unwrap();
    assert_eq!(net.input_shape(), [1, 1, 28, 28]);
    assert_eq!(net.preprocess().preset, Some(Preset::Mnist), "grey default");
    assert_eq!(net.preprocess().resize, Resize::Squash, "tiny inputs are squashed");
    let class = 3;
    let settings = ClassVizSettings { class, iters: 40, max_jitter: 2, ..ClassVizSettings::default() };
    let mut run = ClassVizRun::new(&settings).unwrap();
    run.step(&net, &settings).unwrap();
    let start = net.logits(run.image()).unwrap();
    for _ in 1..settings.iters {
        run.step(&net, &settings).unwrap();
    }
    let end = net.logits(run.image()).unwrap();
    eprintln!("tinycnn class {class}: scores after 1 iteration {start:?}, after {}: {end:?}", settings.iters);
    assert_eq!(run.image().shape, [1, 1, 28, 28]);
    // The model's random weights give logits spread over ~0.2 (measured: class 3 rises from −0.084 to −0.013 at
    // the defaults): the target's score must rise by a good part of that spread.
    let spread = start.iter().cloned().fold(f32::MIN, f32::max) - start.iter().cloned().fold(f32::MAX, f32::min);
    assert!(end[class] > start[class] + 0.25 * spread, "the class score did not rise: {start:?} -> {end:?}");

    // Through the registry: the result panel is 28×28 and grey.
    let name = |k: usize| format!("class {k}");
    let ctx = Ctx { net: &net, name: &name };
    let spec = registry::method("classviz").unwrap();
    let s = spec.settings(&json!({"class": class, "iters": 5}), net.num_classes()).unwrap();
    let run = registry::run_to_end(&ctx, spec, None, &s, |_, _| true).unwrap();
    let panel = run.panels().into_iter().find(|p| p.id == "image").expect("image panel");
    assert_eq!((panel.width, panel.height), (28, 28));
    assert!(panel.rgba.chunks(4).all(|p| p[0] == p[1] && p[1] == p[2]), "a grey model's picture is grey");
    // The default jitter (16) fits 28 px; 28 does not, and the message says the bound.
    let bad = spec.settings(&json!({"class": class, "max_jitter": 28}), net.num_classes()).unwrap();
    let msg = registry::run_to_end(&ctx, spec, None, &bad, |_, _| true).err().expect("jitter 28 refused").to_string();
    assert!(msg.contains("28×28") && msg.contains("at most 27"), "{msg}");
}

/// cifarnet ends in Softmax: its scores are probabilities, shown as they are (not put through softmax again).
#[test]
fn a_final_softmax_gives_probabilities() {
    let entry = zoo_entries().into_iter().find(|e| e["arch"] == "cifarnet").expect("the zoo has cifarnet");
    let net = Classifier::from_onnx_bytes(&zoo_model(&entry).1).unwrap();
    assert!(net.outputs_probabilities());
    let input = input_for(&net, "images/coffee.png");
    let scores = net.logits(&input.tensor).unwrap();
    let sum: f32 = scores.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "Softmax outputs sum to 1: {sum}");
    assert_eq!(net.probabilities(&scores), scores);
    let squeeze = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    assert!(!squeeze.outputs_probabilities());
}

/// SqueezeNet's preprocessing is torchvision's ImageNet recipe, value for value, as `imageio` has always made it.
#[test]
fn squeezenet_preprocessing_is_unchanged() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let pre = net.preprocess();
    assert_eq!(pre.source, Source::Default);
    assert_eq!(
        (pre.preset, pre.resize, pre.channels, pre.height, pre.width),
        (Some(Preset::Imagenet), Resize::Crop, 3, 224, 224)
    );
    for image in ["images/chelsea.png", "images/coffee.png", "images/rocket.jpg"] {
        let bytes = read_shared(image);
        let ours = pre.load(&bytes).unwrap();
        let old = imageio::load_224(&bytes).unwrap();
        assert_eq!(ours, old, "{image}: crop");
        let t = pre.to_tensor(&ours);
        assert_eq!(t.data, imageio::rgb_to_tensor(&old).data, "{image}: normalisation");
        assert_eq!(pre.tensor_to_rgb(&t), imageio::tensor_to_rgb(&t), "{image}: back to pixels");
    }
}

/// A model built in memory with `netlens.*` metadata and, optionally, a symbolic H and W.
fn tiny_model(channels: usize, side: Option<usize>, metadata: &[(&str, &str)]) -> Vec<u8> {
    let s = side.unwrap_or(1);
    let mut net = Net::new(&[1, channels, s, s], 13, 11);
    let c = net.conv("conv", "x", channels, 4, [1, 1], true, vec![]);
    let g = net.node("GlobalAveragePool", &[&c], "gap", vec![]);
    let y = net.node("Flatten", &[&g], "logits", vec![]);
    let mut model = net.model(&y);
    if side.is_none() {
        let graph = model.graph.as_mut().unwrap();
        let Some(type_proto::Value::TensorType(tt)) = graph.input[0].r#type.as_mut().unwrap().value.as_mut() else {
            unreachable!()
        };
        for (d, name) in tt.shape.as_mut().unwrap().dim[2..].iter_mut().zip(["height", "width"]) {
            d.value = Some(DimValue::DimParam(name.into()));
        }
    }
    model.metadata_props =
        metadata.iter().map(|(k, v)| StringStringEntryProto { key: k.to_string(), value: v.to_string() }).collect();
    model.encode_to_vec()
}

#[test]
fn preprocessing_is_read_from_the_metadata_and_applied() {
    let bytes = tiny_model(
        3,
        Some(40),
        &[
            ("netlens.mean", "0.5, 0.25, 0"),
            ("netlens.std", "2 4 0.5"),
            ("netlens.scale", "255"),
            ("netlens.resize", "crop"),
            ("netlens.channel_order", "bgr"),
            ("other.key", "ignored"),
        ],
    );
    let net = Classifier::from_onnx_bytes(&bytes).unwrap();
    let pre = net.preprocess();
    assert_eq!(pre.source, Source::Metadata);
    assert_eq!((pre.mean.clone(), pre.std.clone(), pre.scale), (vec![0.5, 0.25, 0.0], vec![2.0, 4.0, 0.5], 255.0));
    assert_eq!((pre.resize, pre.bgr, pre.preset), (Resize::Crop, true, None));
    // Applied: tensor channel 0 holds blue, each value (p / 255 · 255 − mean) / std.
    let mut rgb = image::RgbImage::new(40, 40);
    rgb.put_pixel(3, 5, image::Rgb([10, 100, 200]));
    let t = pre.to_tensor(&rgb);
    let at = |c: usize| t.data[c * 1600 + 5 * 40 + 3];
    let want = [(200.0 - 0.5) / 2.0, (100.0 - 0.25) / 4.0, (10.0 - 0.0) / 0.5];
    for (c, want) in want.iter().enumerate() {
        assert!((at(c) - want).abs() < 1e-4, "channel {c}: {} vs {want}", at(c));
    }
    assert_eq!(pre.tensor_to_rgb(&t), rgb, "back to the same pixels");
    // The input the image becomes has the model's size.
    let input = pre.load(&read_shared("images/chelsea.png")).unwrap();
    assert_eq!(input.dimensions(), (40, 40));

    // A preset by name, one mean/std for every channel; a user's choice never overrides metadata.
    let net = Classifier::load(
        &tiny_model(3, Some(16), &[("netlens.preset", "signed")]),
        &Choice { preset: Some(Preset::Mnist), ..Choice::default() },
    )
    .unwrap();
    assert_eq!((net.preprocess().mean.clone(), net.preprocess().std.clone()), (vec![0.5; 3], vec![0.5; 3]));
    assert_eq!(net.preprocess().resize, Resize::Squash, "16 px: squashed by default");
}

#[test]
fn grey_models_see_the_luma_and_presets_apply_without_metadata() {
    let bytes = tiny_model(1, Some(28), &[]);
    let net = Classifier::from_onnx_bytes(&bytes).unwrap();
    let pre = net.preprocess();
    assert_eq!((pre.source, pre.preset, pre.resize), (Source::Default, Some(Preset::Mnist), Resize::Squash));
    let mut rgb = image::RgbImage::new(28, 28);
    rgb.put_pixel(0, 0, image::Rgb([255, 0, 0]));
    rgb.put_pixel(1, 0, image::Rgb([30, 200, 90]));
    let seen = pre.fit(&rgb);
    // ITU-R 601 luma, as PIL's convert("L"): 0.299 R + 0.587 G + 0.114 B, rounded.
    assert_eq!(seen.get_pixel(0, 0).0, [76; 3]);
    assert_eq!(seen.get_pixel(1, 0).0, [137; 3]);
    let t = pre.to_tensor(&seen);
    assert_eq!(t.shape, [1, 1, 28, 28]);
    assert!((t.data[1] - (137.0 / 255.0 - 0.1307) / 0.3081).abs() < 1e-6);

    for (preset, mean, std) in [
        (Preset::Unit, 0.0, 1.0),
        (Preset::Signed, 0.5, 0.5),
        (Preset::Imagenet, 0.449, 0.226),
        (Preset::Mnist, 0.1307, 0.3081),
    ] {
        let net =
            Classifier::load(&bytes, &Choice { preset: Some(preset), resize: Some(Resize::Crop), side: None }).unwrap();
        let pre = net.preprocess();
        assert_eq!((pre.source, pre.mean[0], pre.std[0], pre.resize), (Source::Chosen, mean, std, Resize::Crop));
    }
}

#[test]
fn symbolic_height_and_width_are_fixed_to_the_chosen_side() {
    let bytes = tiny_model(3, None, &[]);
    let net = Classifier::from_onnx_bytes(&bytes).unwrap();
    assert_eq!(net.input_shape(), [1, 3, 224, 224]);
    assert!(net.symbolic_side());
    let net = Classifier::load(&bytes, &Choice { side: Some(32), ..Choice::default() }).unwrap();
    assert_eq!(net.input_shape(), [1, 3, 32, 32]);
    assert_eq!(net.logits(&net.preprocess().to_tensor(&image::RgbImage::new(32, 32))).unwrap().len(), 4);
    // The same randomised copy keeps the size (sanity's model randomization).
    assert_eq!(net.with_weights(&[]).unwrap().input_shape(), [1, 3, 32, 32]);

    for side in [4, 513] {
        let msg =
            Classifier::load(&bytes, &Choice { side: Some(side), ..Choice::default() }).err().unwrap().to_string();
        assert!(msg.contains(&side.to_string()) && msg.contains("8 to 512"), "{msg}");
    }
    let fixed = tiny_model(3, Some(40), &[]);
    let msg = Classifier::load(&fixed, &Choice { side: Some(32), ..Choice::default() }).err().unwrap().to_string();
    assert!(msg.contains("fixed at 40×40"), "{msg}");
}

#[test]
fn bad_models_and_metadata_are_refused_with_a_reason() {
    let err = |bytes: &[u8]| match Classifier::from_onnx_bytes(bytes) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    };
    // Two channels; a 5-D input; sides under 8 and over 512.
    let msg = err(&tiny_model(2, Some(32), &[]));
    assert!(msg.contains("2 channels") && msg.contains("1 (grey) or 3"), "{msg}");
    let mut net = Net::new(&[1, 3, 2, 16, 16], 13, 3);
    let y = net.node("Relu", &["x"], "y", vec![]);
    let msg = err(&net.bytes(&y));
    assert!(msg.contains("5 dimensions") || msg.contains("N×C×H×W"), "{msg}");
    for side in [6, 520] {
        let msg = err(&tiny_model(3, Some(side), &[]));
        assert!(msg.contains(&format!("{side}×{side}")) && msg.contains("8 to 512"), "{msg}");
    }
    // Bad metadata values: each message names the key and what was expected.
    for (key, value, expect) in [
        ("netlens.mean", "a,b,c", "not a list of numbers"),
        ("netlens.mean", "0.1,0.2", "1 or 3 numbers"),
        ("netlens.std", "0.2,0,0.2", "above 0"),
        ("netlens.std", "inf", "not a list of numbers"),
        ("netlens.scale", "-1", "above 0"),
        ("netlens.resize", "zoom", "crop or squash"),
        ("netlens.preset", "cifar", "imagenet, unit, signed, mnist"),
        ("netlens.channel_order", "gbr", "rgb or bgr"),
        ("netlens.meen", "0.5", "unknown metadata key"),
    ] {
        let msg = err(&tiny_model(3, Some(32), &[(key, value)]));
        eprintln!("{key} = {value}: {msg}");
        assert!(msg.contains(key) && msg.contains(expect), "{key} = {value}: {msg}");
        assert!(matches!(Classifier::from_onnx_bytes(&tiny_model(3, Some(32), &[(key, value)])), Err(Error::Model(_))));
    }
}

#[test]
fn a_preprocess_is_one_description_of_the_round_trip() {
    // from_pixels and to_pixel_value are inverses; valid_range is pixel 0 and 255; per_pixel is the derivative.
    let pre = Preprocess::resolve(
        &[
            ("netlens.mean".into(), "0.2".into()),
            ("netlens.std".into(), "0.3".into()),
            ("netlens.scale".into(), "2".into()),
        ],
        &Choice::default(),
        3,
        32,
        32,
    )
    .unwrap();
    for c in 0..3 {
        let (lo, hi) = pre.valid_range(c);
        assert!((pre.to_pixel_value(lo, c) - 0.0).abs() < 1e-4 && (pre.to_pixel_value(hi, c) - 255.0).abs() < 1e-3);
        let d = (pre.to_pixel_value(1.0, c) - pre.to_pixel_value(0.0, c)).recip();
        assert!((d - pre.per_pixel(c)).abs() < 1e-6, "{d} vs {}", pre.per_pixel(c));
    }
}

/// The preprocessing choices the page offers (its form, its links) are the core's: every value the schema lists
/// is accepted by the checker the page calls and by `Choice::from_json`, which the worker reads; anything else gets
/// a sentence.
#[test]
fn the_page_s_preprocessing_choices_are_the_core_s() {
    use netlens::preprocess::{check_choice, choice_schema};
    let fields = choice_schema();
    let fields = fields.as_array().unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(names, ["preset", "resize", "side"]);
    for f in fields {
        let field = f["field"].as_str().unwrap();
        let mut good: Vec<String> = match f["options"].as_array() {
            Some(options) => options.iter().map(|o| o["value"].as_str().unwrap().to_string()).collect(),
            None => [&f["min"], &f["max"]].iter().map(|v| v.as_u64().unwrap().to_string()).collect(),
        };
        good.push(f["default"].to_string().trim_matches('"').to_string());
        for text in &good {
            let value = check_choice(field, text).unwrap_or_else(|e| panic!("{field} = {text}: {e}"));
            let choice = Choice::from_json(&json!({ field: value }).to_string()).unwrap();
            assert_ne!(choice, Choice::default(), "{field} = {text} is a choice");
        }
    }
    assert_eq!(check_choice("side", "32").unwrap(), json!(32));
    for (field, text, says) in [
        ("preset", "cifar", "unknown preprocessing preset 'cifar'"),
        ("resize", "stretch", "unknown resize 'stretch'"),
        ("side", "7", "from 8 to 512, got '7'"),
        ("side", "513", "from 8 to 512, got '513'"),
        ("side", "+32", "got '+32'"),
        ("side", "32.5", "got '32.5'"),
        ("colour", "rgb", "unknown preprocessing choice 'colour'"),
    ] {
        let msg = check_choice(field, text).unwrap_err().to_string();
        assert!(msg.contains(says), "{field} = {text}: {msg}");
    }
    let msg = Choice::from_json(r#"{"side": 600}"#).unwrap_err().to_string();
    assert!(msg.contains("from 8 to 512, got '600'"), "{msg}");
}
