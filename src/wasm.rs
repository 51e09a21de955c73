//! The page's worker calls the crate through these bindings. They only convert types: every decision lives in the
//! core modules, and every core error reaches JavaScript as a `JsError` carrying the core's own message.
//!
//! Every method starts the same way, `lens.start(methodId, image, settingsJson)`, from the registry
//! (`src/methods/registry.rs`; the contract is docs/registry.md).

use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::classes::ClassNames;
use crate::imageio;
use crate::methods::registry::{self, Ctx, Input, MethodSpec, Run};
use crate::methods::settings::Settings;
use crate::network::Classifier;
use crate::render;
use crate::tensor::softmax;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Panics (bugs, not bad input) then print their message to the console instead of a bare "unreachable".
#[wasm_bindgen(js_name = installPanicHook)]
pub fn install_panic_hook() {
    console_error_panic_hook::set_once();
}

/// The method registry's schema (docs/registry.md), as JSON text.
#[wasm_bindgen]
pub fn schema() -> String {
    registry::schema_json()
}

/// PNG bytes of a width × height RGBA picture, for the page's downloads.
#[wasm_bindgen(js_name = encodePng)]
pub fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsError> {
    render::encode_png_rgba(rgba, width, height).map_err(js_err)
}

/// An input image: the 224x224 crop the network sees, as normalised tensor and as RGBA for display.
#[wasm_bindgen]
pub struct Image {
    input: Input,
}

#[wasm_bindgen]
impl Image {
    /// Decodes any supported file (size limits and EXIF orientation are the core's), resizes and crops it.
    pub fn decode(bytes: &[u8]) -> Result<Image, JsError> {
        let rgb = imageio::load_224(bytes).map_err(js_err)?;
        Ok(Image { input: Input::new(imageio::rgb_to_tensor(&rgb), imageio::rgb_to_rgba(&rgb)) })
    }

    pub fn rgba(&self) -> Vec<u8> {
        self.input.rgba.clone()
    }

    /// A copy (with the class scores, once `classify` has computed them), for `NetLens.start`, which consumes it.
    pub fn copy(&self) -> Image {
        Image { input: self.input.clone() }
    }
}

/// The model plus the class names; everything the worker runs goes through it.
#[wasm_bindgen]
pub struct NetLens {
    net: Classifier,
    classes: ClassNames,
}

impl NetLens {
    fn with_ctx<T>(&self, f: impl FnOnce(&Ctx) -> T) -> T {
        let name = |k: usize| format!("{} (#{k})", self.classes.short_name(k));
        f(&Ctx { net: &self.net, name: &name })
    }
}

#[wasm_bindgen]
impl NetLens {
    /// `synset_words` may be empty: synonyms then come from the short names only. `class_names` may be empty
    /// too (a user's model without a labels file): the classes are then called "class 0" … "class K−1".
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8], class_names: &str, synset_words: &str) -> Result<NetLens, JsError> {
        let synsets = if synset_words.trim().is_empty() { None } else { Some(synset_words) };
        let net = Classifier::from_onnx_bytes(model).map_err(js_err)?;
        let generated;
        let class_names = if class_names.trim().is_empty() {
            generated = (0..net.num_classes()).map(|k| format!("class {k}\n")).collect::<String>();
            generated.as_str()
        } else {
            class_names
        };
        let classes = ClassNames::parse(class_names, synsets).map_err(js_err)?;
        if classes.len() != net.num_classes() {
            return Err(JsError::new(&format!(
                "the class names list has {} entries but the model scores {} classes",
                classes.len(),
                net.num_classes()
            )));
        }
        Ok(NetLens { net, classes })
    }

    #[wasm_bindgen(js_name = numClasses)]
    pub fn num_classes(&self) -> usize {
        self.net.num_classes()
    }

    /// What the page shows about the model, as JSON: input shape, class count, op count, op types, and whether
    /// the output is already probabilities (a final Softmax, differentiated through).
    #[wasm_bindgen(js_name = modelInfo)]
    pub fn model_info(&self) -> String {
        let g = self.net.engine().graph();
        let mut types: Vec<&str> = g.nodes.iter().map(|n| n.op_type.as_str()).collect();
        let ops = types.len();
        types.sort_unstable();
        types.dedup();
        let probabilities = g.nodes.last().is_some_and(|n| n.op_type == "Softmax");
        serde_json::json!({
            "input_shape": self.net.engine().input_shape(),
            "classes": self.net.num_classes(),
            "ops": ops,
            "op_types": types,
            "outputs_probabilities": probabilities,
        })
        .to_string()
    }

    #[wasm_bindgen(js_name = shortName)]
    pub fn short_name(&self, class: usize) -> Result<String, JsError> {
        self.net.check_class(class).map_err(js_err)?;
        Ok(self.classes.short_name(class).to_string())
    }

    pub fn synonyms(&self, class: usize) -> Result<Vec<String>, JsError> {
        self.net.check_class(class).map_err(js_err)?;
        Ok(self.classes.synonyms(class).to_vec())
    }

    /// Class indices best matching `query` (any name, synonym, alias or index), best first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<u32> {
        self.classes.search(query, limit).into_iter().map(|c| c as u32).collect()
    }

    /// Class probabilities.
    pub fn classify(&self, image: &Image) -> Result<Vec<f32>, JsError> {
        let logits = image.input.logits(&self.net).map_err(js_err)?;
        Ok(softmax(logits))
    }

    /// Starts any method of the registry. `image` may be absent for methods that need none; `settings_json`
    /// is an object of setting keys (missing ones take their defaults). Bad settings fail here, naming the setting.
    /// `image` is consumed: pass `image.copy()` to keep using it (the copy keeps the class scores `classify`
    /// computed, so a run that needs the prediction does not pay another forward pass).
    pub fn start(&self, method_id: &str, image: Option<Image>, settings_json: &str) -> Result<MethodRun, JsError> {
        let spec = registry::method(method_id).map_err(js_err)?;
        let settings = spec.settings_str(settings_json, self.net.num_classes()).map_err(js_err)?;
        let input = image.map(|i| i.input);
        let run = self.with_ctx(|ctx| spec.start(ctx, input.as_ref(), &settings)).map_err(js_err)?;
        Ok(MethodRun { spec, settings, settings_json: settings_json.to_string(), run })
    }

    /// Bench hook: the forward pass alone (tract); returns the top logit so the call can't be optimised away.
    #[wasm_bindgen(js_name = benchForward)]
    pub fn bench_forward(&self, image: &Image) -> Result<f32, JsError> {
        let logits = self.net.logits(&image.input.tensor).map_err(js_err)?;
        Ok(logits.iter().copied().fold(f32::MIN, f32::max))
    }

    /// Bench hook: forward + our reverse pass for one class logit.
    #[wasm_bindgen(js_name = benchForwardBackward)]
    pub fn bench_forward_backward(&self, image: &Image, class: usize) -> Result<f32, JsError> {
        let (_, grad) = self.net.logits_and_grad(&image.input.tensor, class).map_err(js_err)?;
        Ok(grad.data[0])
    }

    /// Bench hook: the forward pass (as `benchForward`), calling `on_node(opName)` right after each node of
    /// tract's plan, so the page can attribute forward time to tract's op types.
    #[wasm_bindgen(js_name = forwardTimed)]
    pub fn forward_timed(&self, image: &Image, on_node: &js_sys::Function) -> Result<(), JsError> {
        let mut call = |op: &str| {
            let _ = on_node.call1(&JsValue::NULL, &JsValue::from_str(op));
        };
        self.net.engine().forward_timed(&image.input.tensor, &mut call).map_err(js_err)?;
        Ok(())
    }

    /// Bench hook: calls `on_node("", -1)` as the reverse pass starts, then `on_node(opType, nodeIndex)`
    /// after each node's VJP, so the page can attribute time to op types.
    #[wasm_bindgen(js_name = backwardTimed)]
    pub fn backward_timed(&self, image: &Image, class: usize, on_node: &js_sys::Function) -> Result<(), JsError> {
        self.net.check_class(class).map_err(js_err)?;
        let engine = self.net.engine();
        let acts = engine.forward(&image.input.tensor).map_err(js_err)?;
        let call = |op: &str, n: f64| {
            let _ = on_node.call2(&JsValue::NULL, &JsValue::from_str(op), &JsValue::from_f64(n));
        };
        call("", -1.0);
        engine
            .gradients_timed(
                &acts,
                &crate::engine::Objective::Class(class),
                &crate::backward::Wanted::input(),
                &mut |op, n| call(op, n as f64),
            )
            .map_err(js_err)?;
        Ok(())
    }
}

/// A method in progress; the worker advances it one step per message-loop turn.
#[wasm_bindgen]
pub struct MethodRun {
    spec: &'static MethodSpec,
    settings: Settings,
    settings_json: String,
    run: Box<dyn Run>,
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    Reflect::set(obj, &JsValue::from_str(key), &value.into()).expect("setting a property on a plain object");
}

#[wasm_bindgen]
impl MethodRun {
    /// One step with the settings as they are now (live settings may change between steps). Returns the
    /// progress as JSON: `{done, step, total, text, frame, top: [[class, prob], …]}`.
    pub fn step(&mut self, lens: &NetLens, settings_json: &str) -> Result<String, JsError> {
        if settings_json != self.settings_json {
            self.settings = self.spec.settings_str(settings_json, lens.net.num_classes()).map_err(js_err)?;
            self.settings_json = settings_json.to_string();
        }
        let progress = lens.with_ctx(|ctx| self.run.step(ctx, &self.settings)).map_err(js_err)?;
        Ok(serde_json::to_string(&progress).expect("progress serialises"))
    }

    /// RGBA of the live image (methods with a `live` output), else undefined.
    pub fn frame(&self) -> Option<Vec<u8>> {
        self.run.frame()
    }

    /// Stop early where that still gives a result (fooling reports the image reached so far).
    pub fn finish(&mut self, lens: &NetLens) -> Result<(), JsError> {
        lens.with_ctx(|ctx| self.run.finish(ctx)).map_err(js_err)
    }

    /// `[{id, kind, title, width, height, rgba, raw?, rawShape?, plot?}]` once done.
    pub fn panels(&self) -> Array {
        let out = Array::new();
        for p in self.run.panels() {
            let obj = Object::new();
            set(&obj, "id", p.id);
            set(&obj, "kind", serde_json::to_value(p.kind).expect("kind serialises").as_str().unwrap_or("image"));
            set(&obj, "title", p.title.as_str());
            set(&obj, "width", p.width);
            set(&obj, "height", p.height);
            set(&obj, "rgba", Uint8Array::from(&p.rgba[..]));
            if let Some(raw) = &p.raw {
                set(&obj, "raw", Float32Array::from(&raw.data[..]));
                let shape: Array = raw.shape.iter().map(|&d| JsValue::from(d as u32)).collect();
                set(&obj, "rawShape", shape);
            }
            if let Some(plot) = &p.plot {
                set(&obj, "plot", js_sys::JSON::parse(&plot.to_string()).unwrap_or(JsValue::NULL));
            }
            out.push(&obj);
        }
        out
    }

    /// Method-specific results as JSON, with `lines: [[label, text], …]` for a `stats` output.
    pub fn report(&self) -> String {
        self.run.report().to_string()
    }
}
