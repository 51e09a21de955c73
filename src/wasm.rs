//! The page's worker calls the crate through these bindings. They only convert types: every decision lives in the
//! core modules, and every core error reaches JavaScript as a `JsError` carrying the core's own message.

use wasm_bindgen::prelude::*;

use crate::classes::ClassNames;
use crate::imageio;
use crate::methods::classviz::{ClassVizRun, ClassVizSettings};
use crate::methods::fooling::{FoolingReport, FoolingRun, FoolingSettings, FoolingStep};
use crate::methods::saliency;
use crate::network::Classifier;
use crate::render;
use crate::tensor::{softmax, Tensor};

const SIZE: u32 = imageio::INPUT_SIZE;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn settings_from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, JsError> {
    serde_json::from_str(json).map_err(|e| JsError::new(&format!("{what} settings: {e}")))
}

/// Panics (bugs, not bad input) then print their message to the console instead of a bare "unreachable".
#[wasm_bindgen(js_name = installPanicHook)]
pub fn install_panic_hook() {
    console_error_panic_hook::set_once();
}

/// PNG bytes of a 224x224 RGBA picture, for the page's downloads.
#[wasm_bindgen(js_name = encodePng)]
pub fn encode_png(rgba: &[u8]) -> Result<Vec<u8>, JsError> {
    render::encode_png_rgba(rgba, SIZE, SIZE).map_err(js_err)
}

/// An input image: the 224x224 crop the network sees, as normalised tensor and as RGBA for display.
#[wasm_bindgen]
pub struct Image {
    tensor: Tensor,
    rgba: Vec<u8>,
}

#[wasm_bindgen]
impl Image {
    /// Decodes any supported file (size limits and EXIF orientation are the core's), resizes and crops it.
    pub fn decode(bytes: &[u8]) -> Result<Image, JsError> {
        let rgb = imageio::load_224(bytes).map_err(js_err)?;
        Ok(Image { tensor: imageio::rgb_to_tensor(&rgb), rgba: imageio::rgb_to_rgba(&rgb) })
    }

    pub fn rgba(&self) -> Vec<u8> {
        self.rgba.clone()
    }
}

#[wasm_bindgen]
pub struct SaliencyResult {
    class: usize,
    probs: Vec<f32>,
    map: Vec<f32>,
    heatmap: Vec<u8>,
    overlay: Vec<u8>,
}

#[wasm_bindgen]
impl SaliencyResult {
    #[wasm_bindgen(getter, js_name = classIndex)]
    pub fn class(&self) -> usize {
        self.class
    }
    /// Class probabilities of the image (softmax of the logits the saliency came from).
    pub fn probs(&self) -> Vec<f32> {
        self.probs.clone()
    }
    /// The raw 224x224 map, row-major.
    pub fn map(&self) -> Vec<f32> {
        self.map.clone()
    }
    pub fn heatmap(&self) -> Vec<u8> {
        self.heatmap.clone()
    }
    pub fn overlay(&self) -> Vec<u8> {
        self.overlay.clone()
    }
}

/// The model plus the class names; everything the worker runs goes through it.
#[wasm_bindgen]
pub struct NetLens {
    net: Classifier,
    classes: ClassNames,
}

#[wasm_bindgen]
impl NetLens {
    /// `synset_words` may be empty: synonyms then come from the short names only.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8], class_names: &str, synset_words: &str) -> Result<NetLens, JsError> {
        let synsets = if synset_words.trim().is_empty() { None } else { Some(synset_words) };
        let classes = ClassNames::parse(class_names, synsets).map_err(js_err)?;
        let net = Classifier::from_onnx_bytes(model).map_err(js_err)?;
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
        let logits = self.net.logits(&image.tensor).map_err(js_err)?;
        Ok(softmax(&logits))
    }

    /// Saliency of `class` (the predicted one when absent), with its heatmap and overlay rendered.
    pub fn saliency(&self, image: &Image, class: Option<usize>) -> Result<SaliencyResult, JsError> {
        let s = saliency::saliency(&self.net, &image.tensor, class).map_err(js_err)?;
        Ok(SaliencyResult {
            class: s.class,
            probs: softmax(&s.logits),
            heatmap: render::heatmap_rgba(&s.map),
            overlay: render::overlay_rgba(&image.rgba, &s.map),
            map: s.map,
        })
    }

    /// Bench hook: the forward pass alone (tract); returns the top logit so the call can't be optimised away.
    #[wasm_bindgen(js_name = benchForward)]
    pub fn bench_forward(&self, image: &Image) -> Result<f32, JsError> {
        let logits = self.net.logits(&image.tensor).map_err(js_err)?;
        Ok(logits.iter().copied().fold(f32::MIN, f32::max))
    }

    /// Bench hook: forward + our reverse pass for one class logit.
    #[wasm_bindgen(js_name = benchForwardBackward)]
    pub fn bench_forward_backward(&self, image: &Image, class: usize) -> Result<f32, JsError> {
        let (_, grad) = self.net.logits_and_grad(&image.tensor, class).map_err(js_err)?;
        Ok(grad.data[0])
    }

    /// Bench hook: calls `on_node("", -1)` as the reverse pass starts, then `on_node(opType, nodeIndex)`
    /// after each node's VJP, so the page can attribute time to op types.
    #[wasm_bindgen(js_name = backwardTimed)]
    pub fn backward_timed(&self, image: &Image, class: usize, on_node: &js_sys::Function) -> Result<(), JsError> {
        self.net.check_class(class).map_err(js_err)?;
        let engine = self.net.engine();
        let acts = engine.forward(&image.tensor).map_err(js_err)?;
        let call = |op: &str, n: f64| {
            let _ = on_node.call2(&JsValue::NULL, &JsValue::from_str(op), &JsValue::from_f64(n));
        };
        call("", -1.0);
        engine
            .backward_timed(&acts, &crate::engine::Seed::Class(class), &mut |op, n| call(op, n as f64))
            .map_err(js_err)?;
        Ok(())
    }

    /// Starts a fooling run; `settings_json` is a `FoolingSettings` (missing fields take the defaults).
    #[wasm_bindgen(js_name = startFooling)]
    pub fn start_fooling(&self, image: &Image, settings_json: &str) -> Result<Fooling, JsError> {
        let settings: FoolingSettings = settings_from_json("fooling", settings_json)?;
        let run = FoolingRun::new(&self.net, &image.tensor, &settings).map_err(js_err)?;
        Ok(Fooling { run, original: image.tensor.clone(), report: None })
    }

    /// Starts a class visualization; the settings are checked here and again at every step.
    #[wasm_bindgen(js_name = startClassViz)]
    pub fn start_class_viz(&self, settings_json: &str) -> Result<ClassViz, JsError> {
        let settings: ClassVizSettings = settings_from_json("class visualization", settings_json)?;
        self.net.check_class(settings.class).map_err(js_err)?;
        Ok(ClassViz { run: ClassVizRun::new(&settings).map_err(js_err)? })
    }
}

/// A fooling run the worker advances one iteration per message-loop turn.
#[wasm_bindgen]
pub struct Fooling {
    run: FoolingRun,
    original: Tensor,
    report: Option<FoolingReport>,
}

#[wasm_bindgen]
impl Fooling {
    /// One iteration. Returns JSON: `{"running": FoolingProgress}` or `{"done": FoolingReport}`.
    pub fn step(&mut self, lens: &NetLens) -> Result<String, JsError> {
        let step = self.run.step(&lens.net).map_err(js_err)?;
        self.json_of(step)
    }

    /// Stops early and reports on the image reached so far (rounded to 8 bits), as `{"done": FoolingReport}`.
    pub fn finish(&mut self, lens: &NetLens) -> Result<String, JsError> {
        let report = self.run.finish(&lens.net).map_err(js_err)?;
        self.json_of(FoolingStep::Done(report))
    }

    fn json_of(&mut self, step: FoolingStep) -> Result<String, JsError> {
        let json = match step {
            FoolingStep::Running(p) => serde_json::json!({ "running": p }),
            FoolingStep::Done(report) => {
                let json = serde_json::json!({ "done": &report });
                self.report = Some(report);
                json
            }
        };
        Ok(json.to_string())
    }

    fn fooled(&self) -> Result<&Tensor, JsError> {
        self.report.as_ref().map(|r| &r.fooled).ok_or_else(|| JsError::new("the fooling run has not finished"))
    }

    /// The fooled image (8-bit rounded), RGBA.
    #[wasm_bindgen(js_name = fooledRgba)]
    pub fn fooled_rgba(&self) -> Result<Vec<u8>, JsError> {
        Ok(imageio::tensor_to_rgba(self.fooled()?))
    }

    /// Difference fooled - original in pixel units, grey-centred and multiplied by `gain`.
    #[wasm_bindgen(js_name = diffRgba)]
    pub fn diff_rgba(&self, gain: f32) -> Result<Vec<u8>, JsError> {
        Ok(render::diff_rgba(&self.original, self.fooled()?, gain))
    }
}

/// A class visualization the worker advances one iteration per message-loop turn.
#[wasm_bindgen]
pub struct ClassViz {
    run: ClassVizRun,
}

#[wasm_bindgen]
impl ClassViz {
    /// One iteration with the settings as they are now (a page may change them between iterations).
    pub fn step(&mut self, lens: &NetLens, settings_json: &str) -> Result<(), JsError> {
        let settings: ClassVizSettings = settings_from_json("class visualization", settings_json)?;
        self.run.step(&lens.net, &settings).map_err(js_err)
    }

    pub fn iteration(&self) -> usize {
        self.run.iteration()
    }

    pub fn rgba(&self) -> Vec<u8> {
        imageio::tensor_to_rgba(self.run.image())
    }

    /// Probabilities of the image the last iteration started from.
    pub fn probs(&self) -> Vec<f32> {
        softmax(self.run.last_logits())
    }
}
