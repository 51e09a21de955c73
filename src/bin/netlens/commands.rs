//! The commands that run one method: each parses its arguments with the flags the method's declaration generates
//! (netlens/flags.rs) and only adds what it writes (`saliency`'s image | heatmap | overlay, `fool`'s strip, …).
//! `run` is the general one; the others are named shortcuts kept for slides and scripts.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches};
use netlens::methods::registry::{self, Group, MethodSpec, Panel};
use netlens::tensor::argmax;
use netlens::{imageio, render};

use super::{check_outputs, hstack, run_err, write_npy, write_png, Common, Done, Failure, Outcome, Session};
use super::{flags, gradient};

fn output_arg(required: bool, name: &'static str) -> Arg {
    Arg::new("output").short('o').long("output").value_name(name).required(required).help("Where to write the picture")
}

fn npy_arg(what: &'static str) -> Arg {
    Arg::new("npy").long("npy").value_name("RAW.npy").help(what)
}

fn method_arg(help: &'static str) -> Arg {
    Arg::new("method").long("method").value_name("ID").required(true).help(help)
}

fn path(m: &ArgMatches, id: &str) -> Option<PathBuf> {
    m.try_get_one::<String>(id).ok().flatten().map(PathBuf::from)
}

/// Parses `args` for `spec` (plus `extra`) and runs it to the end.
fn run_method(
    outer: &Common,
    spec: &MethodSpec,
    name: &str,
    about: &str,
    extra: Vec<Arg>,
    args: &[String],
) -> Outcome<(ArgMatches, Done)> {
    let m = flags::parse(flags::command(spec, name, about, extra), args)?;
    let outputs = [path(&m, "output"), path(&m, "npy"), path(&m, "strip")];
    check_outputs(&outputs.iter().map(Option::as_ref).collect::<Vec<_>>())?;
    let takes_tensor = m.try_get_one::<String>("input_npy").is_ok();
    if takes_tensor && spec.needs_image && path(&m, "img").is_none() && path(&m, "input_npy").is_none() {
        return Err(Failure::Usage(format!("{name} needs an image: IMG, or the network's input as --input-npy X.npy")));
    }
    let texts = flags::texts(spec, &m)?;
    let c = flags::common(outer, &m)?;
    let done = match path(&m, "input_npy") {
        Some(x) => {
            let (session, input) = gradient::session_with_input(&c, &x)?;
            session.run_input(spec.id, Some(input), texts)?
        }
        None => Session::open(&c)?.run(spec.id, path(&m, "img").as_deref(), texts)?,
    };
    Ok((m, done))
}

fn spec(id: &str) -> Outcome<&'static MethodSpec> {
    registry::method(id).map_err(|e| Failure::Usage(e.to_string()))
}

fn print_lines(done: &Done) {
    for line in done.report["lines"].as_array().into_iter().flatten() {
        println!("{}: {}", line[0].as_str().unwrap_or(""), line[1].as_str().unwrap_or(""));
    }
}

pub fn saliency(c: &Common, args: &[String]) -> Outcome<()> {
    let extra = vec![
        output_arg(true, "OUT.png"),
        npy_arg("The raw map, float32 [H, W]"),
        Arg::new("heatmap-only").long("heatmap-only").action(ArgAction::SetTrue).help("Just the heatmap"),
    ];
    let about = "Saliency of a class (default: the predicted one): OUT.png is image | heatmap | overlay.";
    let (m, done) = run_method(c, spec("saliency")?, "saliency", about, extra, args)?;
    let output = path(&m, "output").expect("required");
    let heat = done.panel("heatmap")?;
    if m.get_flag("heatmap-only") {
        write_png(&output, &heat.rgba, heat.width, heat.height)?;
    } else {
        let input = done.input.as_ref().expect("saliency has an image");
        let overlay = done.panel("overlay")?;
        let (w, h) = (heat.width, heat.height);
        write_png(&output, &hstack(&[&input.rgba, &heat.rgba, &overlay.rgba], w, h), 3 * w, h)?;
    }
    if let Some(npy) = path(&m, "npy") {
        write_npy(&npy, heat.raw.as_ref().expect("the heatmap keeps its map"))?;
    }
    let class = done.report["class"].as_u64().unwrap_or(0) as usize;
    let logits =
        done.session.net.logits(&done.input.as_ref().unwrap().tensor).map_err(run_err("classification failed"))?;
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

pub fn fool(c: &Common, args: &[String]) -> Outcome<()> {
    let extra = vec![
        output_arg(true, "OUT.png"),
        Arg::new("strip")
            .long("strip")
            .value_name("STRIP.png")
            .help("Also write original | fooled | difference | difference x10"),
    ];
    let about = "Fooling image: OUT.png is the fooled image (classified as the target after 8-bit rounding).";
    let (m, done) = run_method(c, spec("fooling")?, "fool", about, extra, args)?;
    let output = path(&m, "output").expect("required");
    let fooled = done.panel("fooled")?;
    let (w, h) = (fooled.width, fooled.height);
    write_png(&output, &fooled.rgba, w, h)?;
    if let Some(strip) = path(&m, "strip") {
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

pub fn classviz(c: &Common, args: &[String]) -> Outcome<()> {
    let about = "Class visualization from seeded noise (CS231n's defaults).";
    let (m, done) = run_method(c, spec("classviz")?, "classviz", about, vec![output_arg(true, "OUT.png")], args)?;
    let output = path(&m, "output").expect("required");
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

pub fn attribute(c: &Common, args: &[String]) -> Outcome<()> {
    let id = flags::method_arg(args).ok_or_else(|| {
        Failure::Usage("attribute needs --method ID (an attribution method, see `netlens methods`)".into())
    })?;
    let spec = spec(&id)?;
    if spec.attribution.is_none() {
        return Err(Failure::Usage(format!("'{id}' is not an attribution method (see `netlens methods`)")));
    }
    let extra = vec![
        method_arg("An attribution method (saliency, ig, gradcam, …)"),
        output_arg(true, "OUT.png"),
        npy_arg("The raw attribution, float32 in C order ([3,224,224]; the CAM family [13,13] at features.12; saliency [224,224])"),
        Arg::new("input_npy").long("input-npy").value_name("X.npy").help(
            "Instead of IMG: the network's input as it is, float32 .npy (already preprocessed; the model's input shape, or it without the batch axis of 1), as `netlens gradient` takes it",
        ),
    ];
    let (m, done) = run_method(c, spec, "attribute", "An attribution map.", extra, args)?;
    let output = path(&m, "output").expect("required");
    let first = done.panels.first().ok_or_else(|| Failure::Run("the method gave no map".into()))?;
    write_png(&output, &first.rgba, first.width, first.height)?;
    if let Some(npy) = path(&m, "npy") {
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

pub fn attack(c: &Common, args: &[String]) -> Outcome<()> {
    let id =
        flags::method_arg(args).ok_or_else(|| Failure::Usage("attack needs --method fgsm|bim|pgd|pgd_l2".into()))?;
    let spec = spec(&id)?;
    if spec.group != Group::Adversarial || !spec.outputs.iter().any(|o| o.id == "adversarial") {
        return Err(Failure::Usage(format!("'{id}' is not an attack (fgsm, bim, pgd, pgd_l2)")));
    }
    let extra = vec![method_arg("fgsm, bim, pgd or pgd_l2"), output_arg(true, "ADV.png")];
    let (m, done) = run_method(c, spec, "attack", "An adversarial image.", extra, args)?;
    let output = path(&m, "output").expect("required");
    let adv = done.panel("adversarial")?;
    write_png(&output, &adv.rgba, adv.width, adv.height)?;
    print_lines(&done);
    println!("wrote {}", output.display());
    Ok(())
}

/// A command named after one method that writes its first panel (`channel`, `dream`).
pub fn by_method(c: &Common, id: &str, name: &str, args: &[String]) -> Outcome<()> {
    let spec = spec(id)?;
    let (m, done) = run_method(c, spec, name, spec.summary, vec![output_arg(true, "OUT.png")], args)?;
    let output = path(&m, "output").expect("required");
    let p = done.panels.first().ok_or_else(|| Failure::Run("the method gave no picture".into()))?;
    write_png(&output, &p.rgba, p.width, p.height)?;
    print_lines(&done);
    println!("wrote {}", output.display());
    Ok(())
}

pub fn run(c: &Common, args: &[String]) -> Outcome<()> {
    let id = args.first().filter(|a| !a.starts_with('-')).ok_or_else(|| {
        let ids: Vec<&str> = registry::METHODS.iter().map(|m| m.id).collect();
        Failure::Usage(format!("run needs a method: netlens run METHOD [IMG] … (methods: {})", ids.join(", ")))
    })?;
    let spec = spec(id)?;
    let extra = vec![
        output_arg(false, "OUT.png").help("Its image panels side by side"),
        npy_arg("The raw values of the first panel that has them"),
    ];
    let name = format!("run {id}");
    let (m, done) = run_method(c, spec, &name, "Any method of the registry.", extra, &args[1..])?;
    if let Some(output) = path(&m, "output") {
        let [_, _, h, w] = done.session.net.input_shape();
        let (w, h) = (w as u32, h as u32);
        let images: Vec<&Panel> = done.panels.iter().filter(|p| p.width == w && p.height == h).collect();
        let refs: Vec<&[u8]> = images.iter().map(|p| &p.rgba[..]).collect();
        write_png(&output, &hstack(&refs, w, h), w * refs.len() as u32, h)?;
        println!("wrote {} ({})", output.display(), images.iter().map(|p| p.id).collect::<Vec<_>>().join(" | "));
    }
    if let Some(npy) = path(&m, "npy") {
        let raw = done
            .panels
            .iter()
            .find_map(|p| p.raw.as_ref())
            .ok_or_else(|| Failure::Usage(format!("{id} has no raw values for --npy")))?;
        write_npy(&npy, raw)?;
    }
    print_lines(&done);
    Ok(())
}
