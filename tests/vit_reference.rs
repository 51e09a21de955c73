//! Explaining attention against ../shared/models/reference/vit (issue 24, part 3): for each model its JSON lists,
//! every layer's attention probabilities (found in the graph, checked against the names the JSON gives), attention
//! rollout, gradient-weighted rollout and Grad-CAM on the token layer per class, each within 1e-4 relative
//! (max|Δ|/max|ref|), both as functions and as the registry's methods `rollout` and `gradrollout`. The
//! definitions are those of the JSON's `definitions`.

mod common;

use common::*;
use netlens::engine::Engine;
use netlens::methods::{attention, attribution, registry};
use netlens::{Classifier, Tensor};

fn close(label: &str, ours: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(ours.data.len(), want.data.len(), "{label}: size {:?} vs {:?}", ours.shape, want.shape);
    let ratio = max_abs_diff(&ours.data, &want.data) / max_abs(&want.data);
    eprintln!("{label}: max|Δ|/max|ref| {ratio:.2e} (max|ref| {:.3e})", max_abs(&want.data));
    assert!(ratio <= 1e-4, "{label}: off by {ratio:.3e} relative");
    ratio
}

#[test]
fn vit_attention_rollout_gradrollout_gradcam_match_the_references() {
    let dir = "models/reference/vit";
    let refs: Vec<String> = std::fs::read_dir(shared_file(dir))
        .expect("reference/vit")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with("_vit.json"))
        .collect();
    assert!(!refs.is_empty(), "no *_vit.json in {dir}");
    for file in refs {
        let r: serde_json::Value = serde_json::from_slice(&read_shared(&format!("{dir}/{file}"))).unwrap();
        let arch = r["arch"].as_str().unwrap();
        let bytes = read_shared(&format!("models/zoo-transformers/{}", r["onnx"].as_str().unwrap()));
        let engine = Engine::from_onnx_bytes(&bytes).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let net = Classifier::from_onnx_bytes(&bytes).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let x = Tensor::new(
            engine.input_shape().to_vec(),
            read_npy(&format!("models/zoo-transformers/{arch}_input.npy")).data,
        );

        let found = attention::attention_values(&engine);
        let named: Vec<&str> =
            r["attention_softmax_outputs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(found, named, "{arch}: the attention found in the graph");
        assert_eq!(
            attention::token_grid(r["tokens"].as_u64().unwrap() as usize).unwrap(),
            r["grid"].as_u64().unwrap() as usize
        );

        let maps = attention::attention_maps(&engine, &x).unwrap();
        for (l, f) in r["files"]["attn"].as_array().unwrap().iter().enumerate() {
            close(
                &format!("{arch} attention layer {l}"),
                &maps[l],
                &read_npy(&format!("{dir}/{}", f.as_str().unwrap())),
            );
        }
        // The Inside tab's attention maps: a layer, a head (or the mean), a query token's row without the class
        // token's column, on the g×g grid.
        let input = registry::Input::new(x.clone(), net.preprocess().tensor_to_rgba(&x));
        let spec = registry::method("attention").unwrap();
        for (l, f) in r["files"]["attn"].as_array().unwrap().iter().enumerate() {
            let want = read_npy(&format!("{dir}/{}", f.as_str().unwrap()));
            let (heads, t) = (want.shape[want.shape.len() - 3], want.shape[want.shape.len() - 1]);
            for (head, token) in [(-1i64, 0usize), (0, 0), (heads as i64 - 1, t - 1), (1 % heads as i64, 5)] {
                let s = spec.settings(&serde_json::json!({ "layer": l, "head": head, "token": token }), 1000).unwrap();
                let ctx = registry::Ctx { net: &net, name: &|k| format!("#{k}") };
                let run = registry::run_to_end(&ctx, spec, Some(&input), &s, |_, _| true).unwrap();
                let ours = run.panels().into_iter().find(|p| p.id == "map").and_then(|p| p.raw).unwrap();
                let row = |h: usize| &want.data[h * t * t + token * t + 1..h * t * t + (token + 1) * t];
                let expect: Vec<f32> = if head < 0 {
                    (0..t - 1)
                        .map(|p| (0..heads).map(|h| row(h)[p] as f64).sum::<f64>() as f32 / heads as f32)
                        .collect()
                } else {
                    row(head as usize).to_vec()
                };
                let g = attention::token_grid(t).unwrap();
                close(
                    &format!("{arch} attention map layer {l} head {head} token {token}"),
                    &ours,
                    &Tensor::new(vec![g, g], expect),
                );
            }
        }

        let rollout = attention::rollout(&engine, &x).unwrap();
        close(
            &format!("{arch} rollout"),
            &rollout,
            &read_npy(&format!("{dir}/{}", r["files"]["rollout"].as_str().unwrap())),
        );

        // The registry's methods, as the page, Compare and the CLI run them (the map before drawing).
        let input = registry::Input::new(x.clone(), net.preprocess().tensor_to_rgba(&x));
        let by_registry = |id: &str, k: usize| -> Tensor {
            let spec = registry::method(id).unwrap();
            let s = spec.settings(&serde_json::json!({ "class": k }), net.num_classes()).unwrap();
            let ctx = registry::Ctx { net: &net, name: &|k| format!("#{k}") };
            let run = registry::run_to_end(&ctx, spec, Some(&input), &s, |_, _| true).unwrap();
            let report = run.report();
            assert_eq!(report["class"], k, "{id}");
            assert!(report["extra"]["attention"]["text"].as_str().unwrap().contains("grid of patches"), "{report}");
            run.panels().into_iter().find(|p| p.id == "map").and_then(|p| p.raw).expect("the map's raw values")
        };
        let layer = r["gradcam_layer"].as_str().unwrap();
        // With no layer named (SqueezeNet's default is not in the model), the CAM family reads the same layer.
        assert_eq!(attention::cam_token_layer(&engine).as_deref(), Some(layer), "{arch}: the CAMs' default layer");
        for (class, files) in r["classes"].as_object().unwrap() {
            let k: usize = class.parse().unwrap();
            // Rollout is class-independent: the same reference for every class.
            close(
                &format!("{arch} registry rollout (class {k})"),
                &by_registry("rollout", k),
                &read_npy(&format!("{dir}/{}", r["files"]["rollout"].as_str().unwrap())),
            );
            close(
                &format!("{arch} registry gradrollout class {k}"),
                &by_registry("gradrollout", k),
                &read_npy(&format!("{dir}/{}", files["gradrollout"].as_str().unwrap())),
            );
            let gr = attention::grad_rollout(&engine, &x, k).unwrap();
            close(
                &format!("{arch} gradrollout class {k}"),
                &gr,
                &read_npy(&format!("{dir}/{}", files["gradrollout"].as_str().unwrap())),
            );
            let want = read_npy(&format!("{dir}/{}", files["gradcam"].as_str().unwrap()));
            // The registry's Grad-CAM, given the token layer: read as a g×g grid by itself.
            let spec = registry::method("gradcam").unwrap();
            let s = spec.settings(&serde_json::json!({ "class": k, "layer": layer }), net.num_classes()).unwrap();
            let cam = attribution::attribute(&net, &x, Some(k), spec.attribution.unwrap().make, &s).unwrap();
            assert!(cam.extra["reshape"]["text"].as_str().unwrap().contains("class token"), "{:?}", cam.extra);
            close(&format!("{arch} token Grad-CAM class {k}"), &cam.map, &want);
        }
    }
}

#[test]
fn attention_methods_on_models_without_a_class_token_grid_say_why() {
    // Swin's window attention is over 49 tokens with no class token.
    let engine = Engine::from_onnx_bytes(&read_shared("models/zoo-transformers/tinyswin.onnx")).unwrap();
    let x = Tensor::new(engine.input_shape().to_vec(), read_npy("models/zoo-transformers/tinyswin_input.npy").data);
    assert!(!attention::attention_values(&engine).is_empty(), "Swin's window attention is found");
    let e = attention::rollout(&engine, &x).unwrap_err().to_string();
    assert!(e.contains("49 tokens") && e.contains("square grid"), "{e}");
    // A CNN has no attention at all.
    let engine = Engine::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let x = Tensor::zeros(engine.input_shape());
    let e = attention::grad_rollout(&engine, &x, 1).unwrap_err().to_string();
    assert!(e.contains("no attention"), "{e}");
}

#[test]
fn rollout_methods_refuse_models_without_a_class_token_grid_in_one_sentence() {
    let x_of = |net: &Classifier, arch: &str| {
        let x = Tensor::new(
            net.input_shape().to_vec(),
            read_npy(&format!("models/zoo-transformers/{arch}_input.npy")).data,
        );
        registry::Input::new(x.clone(), net.preprocess().tensor_to_rgba(&x))
    };
    let swin = Classifier::from_onnx_bytes(&read_shared("models/zoo-transformers/tinyswin.onnx")).unwrap();
    let squeezenet = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let cnn_input = registry::Input::new(
        Tensor::zeros(&squeezenet.input_shape()),
        vec![0; squeezenet.input_shape()[2] * squeezenet.input_shape()[3] * 4],
    );
    for id in ["rollout", "gradrollout"] {
        let spec = registry::method(id).unwrap();
        for (net, input, want) in [
            (&swin, x_of(&swin, "tinyswin"), "49 tokens, not a class token and a square grid"),
            (&squeezenet, cnn_input.clone(), "needs a transformer: this model has no attention"),
        ] {
            let ctx = registry::Ctx { net, name: &|k| format!("#{k}") };
            let e = registry::run_to_end(&ctx, spec, Some(&input), &spec.defaults(), |_, _| true)
                .err()
                .unwrap_or_else(|| panic!("{id} ran"))
                .to_string();
            assert!(e.contains(want) && e.starts_with(spec.title), "{id}: {e}");
            assert_eq!(e.matches(". ").count(), 0, "{id}: one sentence: {e}");
            // Left out of the trust tests' `all` on this model (named, it says why, as above).
            let trust = registry::method("faithfulness").unwrap();
            let subject = netlens::methods::trust::Subject::of(&ctx, &input, &trust.defaults(), |_| true).unwrap();
            assert!(subject.specs.iter().all(|m| m.id != id), "{id} is in `all` on a model it cannot explain");
            let listed = netlens::methods::applicable::not_for_model(net);
            assert_eq!(listed.get(id).and_then(|v| v.as_str()), Some(e.as_str()), "{id}: the page's compare list");
        }
    }
    // The Inside tab's attention maps on a CNN.
    let spec = registry::method("attention").unwrap();
    let ctx = registry::Ctx { net: &squeezenet, name: &|k| format!("#{k}") };
    let e =
        registry::run_to_end(&ctx, spec, Some(&cnn_input), &spec.defaults(), |_, _| true).err().unwrap().to_string();
    assert!(e.starts_with("Attention maps need a transformer: this model has no attention"), "{e}");
    // Declared (`MethodSpec::requires`), so the page knows it before any run; a transformer has it.
    let listed = netlens::methods::applicable::not_for_model(&squeezenet);
    assert_eq!(listed.get("attention").and_then(|v| v.as_str()), Some(e.as_str()), "the page's list");
    // Asking for a layer or head the model does not have names the range.
    let vit = Classifier::from_onnx_bytes(&read_shared("models/zoo-transformers/tinyvit.onnx")).unwrap();
    let listed = netlens::methods::applicable::not_for_model(&vit);
    assert!(["attention", "rollout", "gradrollout"].iter().all(|id| !listed.contains_key(*id)), "{listed:?}");
    let ctx = registry::Ctx { net: &vit, name: &|k| format!("#{k}") };
    for (set, want) in [
        (serde_json::json!({ "layer": 7 }), "the model has 2 attention layers (0 to 1)"),
        (serde_json::json!({ "head": 99 }), "heads (0 to"),
        (serde_json::json!({ "token": 197 }), "the model has 197 tokens (0 to 196)"),
    ] {
        let s = spec.settings(&set, 1000).unwrap();
        let e =
            registry::run_to_end(&ctx, spec, Some(&x_of(&vit, "tinyvit")), &s, |_, _| true).err().unwrap().to_string();
        assert!(e.contains(want), "{set}: {e}");
    }
}
